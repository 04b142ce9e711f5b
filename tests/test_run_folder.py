"""What a run folder guarantees: one writer, absolute paths, runs that move, recovery without the
checkpoint index, no stale temporary checkpoints, diagnoses that say what is really wrong."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import tensorflow as tf
from conftest import (
    TINY,
    run_cli,
    tiny_config,
    train_process,
    wait_for_steps,
    write_pairs,
)

from pix2pix_tf.evaluation.evaluate import evaluate_model
from pix2pix_tf.run_folder import checkpoint_paths, load_generator
from pix2pix_tf.training.lock import run_folder_lock
from pix2pix_tf.training.train import train_and_evaluate

HOLD_LOCK = """
import pathlib, sys, time
from pix2pix_tf.training.lock import run_folder_lock
with run_folder_lock(pathlib.Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(120)
"""


def _holder(workdir) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(workdir)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    return process


def test_a_second_writer_is_refused_naming_the_holder_and_a_killed_holder_blocks_nothing(paired_folder, tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    holder = _holder(workdir)
    try:
        with pytest.raises(ValueError, match=rf"--workdir {workdir} is in use by process {holder.pid} on .*one writer"):
            train_and_evaluate(tiny_config(paired_folder, steps=1), workdir)
        assert not (workdir / "config.json").exists()  # refused before writing anything
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with run_folder_lock(workdir):  # the kernel released the dead process's lock
        pass


@pytest.mark.slow
def test_two_train_commands_on_one_folder_the_second_is_refused_at_once(paired_folder, tmp_path):
    first = train_process(paired_folder, tmp_path / "run", "--steps=10000")
    try:
        wait_for_steps(first, 1)
        second = run_cli("train", f"--data={paired_folder}", f"--workdir={tmp_path / 'run'}", *TINY,
                         "--filters=16", "--steps=2")
        assert second.returncode == 2
        assert f"is in use by process {first.pid}" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    resumed = run_cli("train", f"--data={paired_folder}", f"--workdir={tmp_path / 'run'}", *TINY, "--steps=2",
                      "--val_every=0")
    assert resumed.returncode == 0, resumed.stderr[-2000:]


@pytest.mark.slow
def test_relative_data_is_stored_absolute_and_a_run_folder_moves(paired_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(paired_folder.parent)
    train_and_evaluate(tiny_config(paired_folder.name, steps=2, val_every=0), tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["data"]["data"] == str(paired_folder)
    monkeypatch.chdir(tmp_path)  # elsewhere: the run still finds its data
    assert evaluate_model(tmp_path / "run", tmp_path / "report", log=lambda line: None)[0].summary["images"] == 3
    moved = tmp_path / "moved_data"
    shutil.copytree(paired_folder, moved)
    shutil.move(str(tmp_path / "run"), tmp_path / "moved_run")
    result, _ = evaluate_model(tmp_path / "moved_run", tmp_path / "report2", data=str(moved), log=lambda line: None)
    assert result.summary["images"] == 3


@pytest.mark.slow
def test_data_that_clearly_is_not_the_runs_is_refused(paired_folder, tmp_path):
    train_and_evaluate(tiny_config(paired_folder, steps=2, val_every=0), tmp_path / "run")
    other = tmp_path / "other"
    write_pairs(other, "train", 20, seed=5)
    write_pairs(other, "val", 9, seed=6)
    with pytest.raises(ValueError, match=r"does not look like the run's data .*'train' split has 20 pairs where "
                                         r"the run's had 6"):
        evaluate_model(tmp_path / "run", tmp_path / "report", data=str(other), log=lambda line: None)
    with pytest.raises(ValueError, match="does not look like the run's data"):
        train_and_evaluate(tiny_config(other, steps=4, val_every=0), tmp_path / "run")


@pytest.mark.slow
def test_a_run_resumes_without_its_checkpoint_index(paired_folder, tmp_path):
    workdir = tmp_path / "run"
    config = tiny_config(paired_folder, steps=4, checkpoint_every=2, val_every=0)
    train_and_evaluate(config, workdir)
    (workdir / "checkpoints" / "checkpoint").unlink()  # only the ckpt-N files were copied, say
    assert checkpoint_paths(workdir / "checkpoints")[0].endswith("ckpt-4")
    assert load_generator(workdir)[0] is not None
    results = train_and_evaluate(config.replace(train=dict(steps=6)), workdir)
    assert results.step == 6  # resumed at 4, not started over at 0
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-6")


@pytest.mark.slow
def test_stale_temporary_checkpoint_folders_are_removed_on_start(paired_folder, tmp_path):
    stale = tmp_path / "run" / "checkpoints" / "ckpt-9_temp"
    stale.mkdir(parents=True)
    (stale / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x" * 4096)
    train_and_evaluate(tiny_config(paired_folder, steps=1, val_every=0), tmp_path / "run")
    assert not stale.exists()


def test_a_full_disk_is_one_line_naming_the_disk_and_what_to_do(paired_folder, tmp_path, monkeypatch):
    workdir = tmp_path / "run"

    def full(manager, *args, **kwargs):
        (workdir / "checkpoints" / "ckpt-2_temp").mkdir(parents=True, exist_ok=True)  # what a failed write leaves
        raise tf.errors.ResourceExhaustedError(None, None, "ckpt-2_temp/part-0; No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full)
    with pytest.raises(ValueError, match=rf"the disk holding {workdir} is full \(\d+ MiB free; .*No space "
                                         r"left on device\); free space there .*it starts over"):
        train_and_evaluate(tiny_config(paired_folder, steps=2, val_every=0), workdir)
    assert not (workdir / "checkpoints" / "ckpt-2_temp").exists()  # the half-written checkpoint is gone


@pytest.mark.slow
def test_checkpoints_that_do_not_fit_the_config_are_not_called_corrupt(paired_folder, tmp_path):
    workdir = tmp_path / "run"
    config = tiny_config(paired_folder, steps=2, val_every=0)
    train_and_evaluate(config, workdir)
    wider = config.replace(model=dict(filters=16))
    wider.save(workdir / "config.json")  # a hand-edited config.json
    with pytest.raises(ValueError, match=r"checkpoints in .* do not fit the settings in .*config\.json .*ckpt-2"):
        train_and_evaluate(wider.replace(train=dict(steps=4)), workdir)


@pytest.mark.slow
def test_a_run_that_stopped_before_its_first_checkpoint_does_not_lock_its_folder(paired_folder, tmp_path):
    workdir = tmp_path / "run"
    workdir.mkdir()
    failed = tiny_config(paired_folder, learning_rate=0.5)
    failed.save(workdir / "config.json")  # written, then the run died before checkpointing
    results = train_and_evaluate(tiny_config(paired_folder, steps=1, val_every=0), workdir)
    assert results.step == 1
    assert json.loads((workdir / "config.json").read_text())["train"]["learning_rate"] == 2e-4


@pytest.mark.parametrize("name, text", [("validation.csv", "step,l1\nnot a number,0.1\n"),
                                        ("checkpoints/best/best.json", "{truncated"),
                                        ("checkpoints/best/best.json", "[]"), ("data.json", "[]"),
                                        ("data.json", '{"splits": []}'),
                                        ("data.json", '{"data": "/x", "splits": {"train": {"pairs": 6, "names": [{}]}}}'),
                                        ("data.json", '{"data": 5, "splits": {"train": {"pairs": 6, "names": ["0"]}}}')])
def test_a_damaged_bookkeeping_file_is_named(paired_folder, tmp_path, name, text):
    workdir = tmp_path / "run"
    (workdir / name).parent.mkdir(parents=True, exist_ok=True)
    (workdir / name).write_text(text)
    with pytest.raises(ValueError, match=rf"{workdir / name} (is damaged|is not valid JSON)"):
        train_and_evaluate(tiny_config(paired_folder, steps=1, val_every=1), workdir)


@pytest.mark.parametrize("text, message", [("[]", "expected a JSON object of sections"),
                                           ("null", "expected a JSON object of sections"),
                                           ('{"model": []}', "config section 'model' is \\[\\]; expected an object")])
def test_a_config_json_that_is_not_an_object_of_sections_is_named(tmp_path, text, message):
    from pix2pix_tf.config import Config
    from pix2pix_tf.run_folder import load_config

    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError, match=rf"{tmp_path / 'config.json'}: {message}"):
        load_config(tmp_path)
    with pytest.raises(ValueError, match=message):
        Config.load(tmp_path / "config.json")


@pytest.mark.parametrize("index", [b"", b"\x00\xff binary \x89", b'model_checkpoint_path: "ckpt-99"\n'])
def test_a_damaged_checkpoint_index_is_rebuilt_and_old_checkpoints_rotate_out(tmp_path, index):
    """Empty, binary, or naming checkpoints that are gone: the ckpt-N files are found by name, the
    index is written again, and rotation goes on from it."""
    from pix2pix_tf.training.checkpoints import RunCheckpoints

    weight = tf.Variable(1.0)
    saver = RunCheckpoints(tf.train.Checkpoint(weight=weight), tmp_path, keep=2, chief=True)
    for step in (1, 2):
        saver.save(step)
    (tmp_path / "checkpoints" / "checkpoint").write_bytes(index)
    assert checkpoint_paths(tmp_path / "checkpoints")[0].endswith("ckpt-2")
    weight.assign(5.0)
    saver = RunCheckpoints(tf.train.Checkpoint(weight=weight), tmp_path, keep=2, chief=True)
    assert saver.restore().endswith("ckpt-2") and float(weight) == 1.0
    for step in (3, 4):
        saver.save(step)
    assert sorted(path.name for path in (tmp_path / "checkpoints").glob("*.index")) == ["ckpt-3.index", "ckpt-4.index"]


@pytest.mark.slow
def test_the_default_workdir_of_data_dotdot_is_named_after_the_folder(paired_folder, tmp_path):
    inner = paired_folder / "train"
    result = run_cli("train", "--data=..", "--steps=1", "--val_every=0", *TINY, cwd=inner)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (inner / "runs" / paired_folder.name / "config.json").exists()
    assert not (inner / "runs" / "config.json").exists()


def test_a_malformed_call_of_the_saved_model_raises_and_never_aborts(tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np, tensorflow as tf
        from pix2pix_tf.config import Config, DataConfig, ModelConfig
        from pix2pix_tf.deploy.saved_model import export_saved_model
        from pix2pix_tf.models.generators import build_generator
        config = Config(model=ModelConfig(filters=4), data=DataConfig(image_size=32))
        export_saved_model(build_generator(config.model, 32), config, {str(tmp_path / 'sm')!r})
        loaded = tf.saved_model.load({str(tmp_path / 'sm')!r})
        calls = [("serving_default", np.zeros((8, 8, 3), np.uint8)), ("translate_float", np.zeros((8, 8, 3), np.float32)),
                 ("serving_default", np.zeros((1, 8, 8, 5), np.uint8)), ("serving_default", np.zeros((1, 0, 8, 3), np.uint8))]
        for name, images in calls:
            try:
                loaded.signatures[name](images=tf.constant(images))
                print("accepted", images.shape)
            except tf.errors.InvalidArgumentError as error:
                print("refused", images.shape, " ".join(error.message.split()))
        print(loaded.signatures["serving_default"](images=tf.zeros((2, 37, 41, 3), tf.uint8))["output_0"].shape)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_ENABLE_ONEDNN_OPTS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]  # an abort is returncode -6
    lines = result.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["refused"] * 4, lines
    assert "[8,8,3] is not compatible with expected shape [?,?,?,3]" in lines[0]
    assert "[1,8,8,5] is not compatible with expected shape [?,?,?,3]" in lines[2]
    assert "height and width of at least 1" in lines[3]
    assert lines[4] == "(2, 37, 41, 3)"


def test_reading_a_run_whose_checkpoint_is_rotated_out_meanwhile_takes_the_newest(tmp_path, monkeypatch):
    """A run training with --keep_checkpoints=1 deletes the checkpoint an export just found: not "damaged"."""
    from pix2pix_tf import run_folder
    from pix2pix_tf.models.generators import build_generator

    config = tiny_config()
    config.save(tmp_path / "config.json")
    generator = build_generator(config.model, config.data.image_size)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(tmp_path / "checkpoints"),
                                         max_to_keep=1)
    manager.save(checkpoint_number=1)
    find = run_folder.find_checkpoint

    def rotating(workdir, checkpoint=None):
        path = find(workdir, checkpoint)
        if path.endswith("ckpt-1"):
            manager.save(checkpoint_number=2)  # the training run saves, and deletes ckpt-1
        return path

    monkeypatch.setattr(run_folder, "find_checkpoint", rotating)
    assert run_folder.load_generator(tmp_path)[0].count_params() == generator.count_params()
    with pytest.raises(ValueError, match=r"checkpoint .*ckpt-1 is missing files, or was rotated out while being read"):
        run_folder.load_generator(tmp_path, str(tmp_path / "checkpoints" / "ckpt-1"))
