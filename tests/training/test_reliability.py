"""Training runs that lose nothing: signals, resumes, bad numbers, bad files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, TINY, train_process, wait_for_steps

from pix2pix_tf.run_folder import checkpoint_paths, load_generator
from pix2pix_tf.training.step import Pix2Pix
from pix2pix_tf.training.train import train_and_evaluate


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_a_checkpoint_exits_0_and_the_run_resumes(paired_folder, tmp_path, signal_number):
    workdir = tmp_path / "run"
    process = train_process(paired_folder, workdir, "--steps=100000")
    wait_for_steps(process, 3)
    process.send_signal(signal_number)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0, output[-3000:]
    name = signal.Signals(signal_number).name
    assert f"stopped by {name} at step" in output and "resume with the same command" in output
    stopped_at = int(output.split(f"stopped by {name} at step ")[1].split(";")[0])
    assert stopped_at >= 3
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith(f"ckpt-{stopped_at}")
    resumed = subprocess.run(
        [sys.executable, "-m", "pix2pix_tf", "train", f"--workdir={workdir}", f"--steps={stopped_at + 2}"],
        capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr and f"at step {stopped_at}" in resumed.stderr
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith(f"ckpt-{stopped_at + 2}")


def test_second_signal_exits_at_once():
    code = """
import os, signal, time
from pix2pix_tf.training.interrupts import StopRequests
with StopRequests() as stop:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.2)
    print("first:", stop.requested, flush=True)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)
print("not reached")
"""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 128 + signal.SIGINT
    assert "first: SIGINT" in result.stdout and "not reached" not in result.stdout
    assert "exiting now" in result.stderr
    assert time.monotonic() - started < 20


def _corrupt(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.slow
def test_truncated_latest_checkpoint_is_reported_and_the_previous_one_used(paired_folder, tmp_path, caplog):
    from conftest import tiny_config


    config = tiny_config(paired_folder, steps=4, val_every=0)
    train_and_evaluate(config, tmp_path)
    _corrupt(next((tmp_path / "checkpoints").glob("ckpt-4.data-*")))
    with caplog.at_level("WARNING"):
        results = train_and_evaluate(config.replace(train=dict(steps=6)),
                                               tmp_path)
    assert "ckpt-4 cannot be read" in caplog.text and "resuming from" in caplog.text
    assert results.step == 6
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-6")


@pytest.mark.slow
def test_no_readable_checkpoint_is_one_clear_error(paired_folder, tmp_path):
    from conftest import tiny_config


    config = tiny_config(paired_folder, steps=2, val_every=0, keep_checkpoints=1)
    train_and_evaluate(config, tmp_path)
    for data_file in (tmp_path / "checkpoints").glob("ckpt-*.data-*"):
        _corrupt(data_file)
    with pytest.raises(ValueError, match="no checkpoint in .*checkpoints can be read"):
        train_and_evaluate(config.replace(train=dict(steps=4)), tmp_path)


def test_nonfinite_step_skips_the_update_and_never_reaches_a_checkpoint(tmp_path):
    from conftest import tiny_config

    from pix2pix_tf.training import checkpoints, health

    model = Pix2Pix(tiny_config(), steps_per_epoch=10)
    trainable = [variable.numpy() for variable in model.generator.trainable_variables]
    inputs = tf.fill([2, 32, 32, 3], float("nan"))
    metrics = model.compiled_train_step(inputs, tf.zeros([2, 32, 32, 3]))
    assert float(metrics["nonfinite"]) == 1.0
    for before, variable in zip(trainable, model.generator.trainable_variables):
        np.testing.assert_array_equal(before, variable.numpy())  # the update was skipped
    saver = checkpoints.RunCheckpoints(model.checkpoint(), tmp_path, 3, chief=True,
                                       weights=model.generator.weights + model.discriminator.weights)
    with pytest.raises(ValueError, match="not saving step 1: non-finite values"):  # the NaN batch-norm statistics
        saver.save(1)
    assert saver.latest() is None
    with pytest.raises(health.NonFiniteLossError, match="at step 1 .*--nonfinite=skip"):
        health.RunHealth("stop").after_step(1, metrics)
    watch = health.RunHealth("skip")
    watch.after_step(1, metrics)
    watch.after_step(2, {"nonfinite": tf.constant(0.0)})
    assert watch.skipped_steps == 1


def test_skip_puts_back_the_batch_norm_statistics_of_a_keras_model():
    """--nonfinite=skip keeps the models' moving statistics (keras.Variable, which has no read_value:
    every run with --nonfinite=skip stopped at its start with an AttributeError) and puts them back,
    also after a step whose loss was not finite (--learning_rate=1e30 then stopped at the first save)."""
    from conftest import tiny_config

    from pix2pix_tf.training import health

    model = Pix2Pix(tiny_config(), steps_per_epoch=10)
    statistics = model.generator.non_trainable_weights
    watch = health.RunHealth("skip", statistics=statistics)
    before = [variable.numpy() for variable in statistics]
    for step, nonfinite_loss in ((1, 0.0), (2, 1.0)):  # statistics alone, then with a non-finite loss too
        statistics[0].assign(np.full(statistics[0].shape, np.inf, np.float32))
        watch.after_step(step, {"nonfinite": tf.constant(nonfinite_loss)})
        assert watch.skipped_steps == step
        for value, variable in zip(before, statistics):
            np.testing.assert_array_equal(value, variable.numpy())


def test_a_discriminator_that_wins_is_reported_once(caplog):
    from pix2pix_tf.training import health

    watch = health.RunHealth(collapse_checks=3)
    with caplog.at_level("WARNING"):
        for step, d_loss in enumerate([0.5, 0.005, 0.004, 0.2, 0.003, 0.002, 0.001, 0.001, 0.001]):
            watch.after_log(step, {"d_loss": d_loss})
    assert caplog.text.count("the discriminator has won") == 1
    assert "step 6:" in caplog.text  # three low checks in a row, after the reset at step 3


def test_preflight_names_an_unwritable_workdir_and_a_full_disk(tmp_path, monkeypatch):
    from pix2pix_tf.training import checkpoints

    checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3)
    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 4000})())
    with pytest.raises(ValueError, match="MiB free; 5 checkpoints"):
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3)
    (tmp_path / "checkpoints").mkdir()
    for step in (2, 4, 6):  # a resume: its own 3 checkpoints are rotated out, so 2 more fit in 4000 bytes
        (tmp_path / "checkpoints" / f"ckpt-{step}.index").write_bytes(b"")
    checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3)

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(checkpoints.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(ValueError, match=f"--workdir {tmp_path} is not writable: Permission denied"):
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3)


def test_preflight_asks_a_short_run_for_room_for_the_checkpoints_it_writes_only(tmp_path, monkeypatch):
    """A 2-step run writes one checkpoint (and a best one): a disk with room for two does not stop
    it, though --keep_checkpoints=3 would need five on a long run."""
    from pix2pix_tf.training import checkpoints

    monkeypatch.setattr(checkpoints.shutil, "disk_usage", lambda path: type("Usage", (), {"free": 2500})())
    with pytest.raises(ValueError, match="MiB free; 5 checkpoints"):
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3, last_step=5000, checkpoint_every=1000)
    checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3, last_step=2, checkpoint_every=1000)
    with pytest.raises(ValueError, match="MiB free; 3 checkpoints"):  # saves at 1000 and 1500
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3, last_step=1500, checkpoint_every=1000)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-2000.index").write_bytes(b"")  # a resume to 2500: one save and the best
    checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3, last_step=2500, checkpoint_every=1000)
    (tmp_path / "checkpoints" / "checkpoint").write_text(  # an index naming a checkpoint that is not ckpt-N
        'model_checkpoint_path: "model"\nall_model_checkpoint_paths: "model"\n')
    (tmp_path / "checkpoints" / "model.index").write_bytes(b"")
    with pytest.raises(ValueError, match="MiB free; 3 checkpoints"):  # from step 0: one more save to budget
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=4, last_step=1500, checkpoint_every=1000)
    assert [checkpoints.saves_between(start, last, every) for start, last, every in
            [(0, 2, 1000), (0, 1000, 1000), (0, 2500, 1000), (1000, 3000, 1000), (0, 300, 0), (3000, 3000, 1000)]] \
        == [1, 1, 3, 2, 1, 1]


def test_data_without_a_single_readable_pair_is_one_line(tmp_path):
    data = tmp_path / "data" / "train"
    data.mkdir(parents=True)
    (data / "broken.png").write_bytes(b"\x89PNG not really")
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf", "train", f"--data={tmp_path / 'data'}",
                             f"--workdir={tmp_path / 'run'}", "--skip_bad_images", *TINY],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "error: every image is unusable; nothing to train on" in result.stderr


@pytest.mark.slow
def test_deterministic_run_killed_and_resumed_ends_with_the_weights_of_an_uninterrupted_run(paired_folder, tmp_path):
    """--deterministic: data order, jitter, dropout and the schedule all resume where they were."""

    flags = ["--image_size=64", "--deterministic", "--seed=3"]  # 64 px: the U-Net has a dropout block
    straight = subprocess.run(
        [sys.executable, "-m", "pix2pix_tf", "train", f"--data={paired_folder}", f"--workdir={tmp_path / 'straight'}",
         *TINY, *flags, "--steps=24", "--val_every=0"], capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-3000:]
    process = train_process(paired_folder, tmp_path / "resumed", *flags, "--steps=24")
    wait_for_steps(process, 3)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 0 and "stopped by SIGTERM at step" in output, output[-3000:]
    stopped_at = int(output.split("stopped by SIGTERM at step ")[1].split(";")[0])
    assert 3 <= stopped_at < 24
    resumed = subprocess.run([sys.executable, "-m", "pix2pix_tf", "train", f"--workdir={tmp_path / 'resumed'}"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    weights = [load_generator(tmp_path / name)[0].weights for name in ("straight", "resumed")]
    for expected, actual in zip(*weights):
        np.testing.assert_array_equal(actual.numpy(), expected.numpy(), err_msg=expected.path)


def _write_png(path, height: int, width: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tf.io.write_file(str(path), tf.io.encode_png(np.full((height, width, 3), 200, np.uint8)))


def test_an_image_training_cannot_split_is_named_before_the_first_step_or_skipped(paired_folder, tmp_path):
    """A 1x1 A|B file decodes, but has no halves to train on: refused (or skipped) before step 1,
    never a crash at the step that reads it."""
    from conftest import tiny_config

    from pix2pix_tf.data import pipeline

    _write_png(paired_folder / "train" / "tiny.png", 1, 1)
    config = tiny_config(paired_folder, steps=2, val_every=0)
    with pytest.raises(ValueError, match=r"(?s)1 unusable image.*tiny.png: 1x1 px cannot be split into A and B halves"):
        train_and_evaluate(config, tmp_path / "refused")
    assert not list((tmp_path / "refused").glob("checkpoints/ckpt-*"))
    skipping = config.replace(data=dict(skip_bad_images=True))
    assert pipeline.count_examples(skipping, "train") == 6
    for _ in pipeline.make_dataset(skipping, "train", training=True, batch_size=6).take(2):
        pass  # every file of two epochs read: none crashes a step


def test_images_too_small_to_train_on_are_refused_in_every_mode(tmp_path):
    """What crashed a step: an A|B file without halves (also where its shape is only a warning) and
    photos smaller than --task=edges' blur."""
    from pix2pix_tf.data import checks

    _write_png(tmp_path / "one.png", 1, 1)
    for preprocess in ("scale_width", "none"):
        with pytest.raises(ValueError, match="one.png: 1x1 px cannot be split into A and B halves"):
            checks.usable([str(tmp_path / "one.png")], None, skip_bad=False, preprocess=preprocess)

    _write_png(tmp_path / "small.png", 2, 9)
    _write_png(tmp_path / "fine.png", 3, 3)
    paths = [str(tmp_path / "small.png"), str(tmp_path / "fine.png")]
    with pytest.raises(ValueError, match="small.png: 9x2 px is smaller than the 3 px per side --task=edges needs"):
        checks.usable(paths, None, skip_bad=False, task="edges")
    assert checks.usable(paths, None, skip_bad=True, task="edges")[0] == paths[1:]
    assert checks.usable(paths, None, skip_bad=False, task="colorize")[0] == paths


def test_a_file_broken_during_the_run_is_named_with_where_to_resume(paired_folder, tmp_path, monkeypatch):
    """Files checked before the first step and changed afterwards: the error names them."""
    from conftest import tiny_config

    from pix2pix_tf.data import pipeline

    make_dataset = pipeline.make_dataset

    def break_files_after_the_check(config, split, **kwargs):
        dataset = make_dataset(config, split, **kwargs)
        if kwargs.get("training"):
            for path in (paired_folder / "train").glob("*.png"):
                _write_png(path, 1, 1)
        return dataset

    monkeypatch.setattr(pipeline, "make_dataset", break_files_after_the_check)
    with pytest.raises(ValueError, match=r"(?s)the data changed during the run \(then run the same command: it resumes "
                                         r"from the start\): 6 unusable image.*0.png: 1x1 px cannot be split"):
        train_and_evaluate(tiny_config(paired_folder, steps=2, val_every=0), tmp_path)


def test_statistics_that_become_infinite_stop_the_run_or_are_put_back():
    """Batch norm's moving variance can overflow while losses stay finite: checked after each step."""
    from pix2pix_tf.training import health

    variance = tf.Variable([1.0, 2.0], name="moving_variance")
    with pytest.raises(health.NonFiniteLossError, match="non-finite batch-norm statistics at step 3 "
                                                         r"\(moving_variance.*no checkpoint was written"):
        watch = health.RunHealth("stop", statistics=[variance])
        variance.assign([1.0, float("inf")])
        watch.after_step(3, {"nonfinite": tf.constant(0.0)})
    variance.assign([1.0, 2.0])
    watch = health.RunHealth("skip", statistics=[variance])
    variance.assign([4.0, 5.0])
    watch.after_step(1, {"nonfinite": tf.constant(0.0)})  # finite: kept
    variance.assign([float("nan"), 5.0])
    watch.after_step(2, {"nonfinite": tf.constant(0.0)})
    np.testing.assert_array_equal(variance.numpy(), [4.0, 5.0])  # put back
    assert watch.skipped_steps == 1


def test_a_run_whose_statistics_diverge_stops_and_never_writes_a_nonfinite_best(paired_folder, tmp_path):
    """--learning_rate=1e8 sends the moving variances to infinity within a few steps, losses finite."""
    from conftest import tiny_config

    from pix2pix_tf.training import health

    config = tiny_config(paired_folder, steps=40, learning_rate=1e8, val_every=1, checkpoint_every=1, sample_every=100)
    with pytest.raises(health.NonFiniteLossError, match="non-finite batch-norm statistics at step"):
        train_and_evaluate(config, tmp_path)
    for folder in (tmp_path / "checkpoints", tmp_path / "checkpoints" / "best"):
        for path in checkpoint_paths(folder, "best" if folder.name == "best" else "ckpt"):
            for name, _ in tf.train.list_variables(path):
                if name.endswith(".ATTRIBUTES/VARIABLE_VALUE") and "optimizer" not in name:
                    value = tf.train.load_variable(path, name)
                    if np.issubdtype(np.asarray(value).dtype, np.floating):
                        assert np.isfinite(value).all(), f"{path}: {name}"


def test_validation_never_keeps_a_nonfinite_model_as_the_best(tmp_path):
    from pix2pix_tf.training import validation

    weight = tf.Variable([float("inf")], name="moving_variance")
    pairs = tf.data.Dataset.from_tensors((tf.zeros([1, 16, 16, 3]), tf.zeros([1, 16, 16, 3])))
    validator = validation.Validator(tmp_path, pairs, lambda images: images, tf.summary.create_noop_writer(),
                                     tf.train.Checkpoint(weight=weight), "l1", resumed_step=0, weights=[weight])
    validator(5)
    assert validator.best is None and not (tmp_path / "checkpoints" / "best").exists()
    weight.assign([1.0])
    validator(6)
    assert validator.best["step"] == 6


def test_a_best_record_with_a_nonfinite_score_or_a_damaged_best_index_is_chosen_anew(tmp_path):
    """A best.json scoring NaN (as runs wrote before non-finite bests were refused) would never be
    beaten; a binary checkpoints/best/checkpoint stopped the run with a bare UnicodeDecodeError."""
    from pix2pix_tf.training import validation

    weight = tf.Variable([1.0])
    pairs = tf.data.Dataset.from_tensors((tf.zeros([1, 16, 16, 3]), tf.zeros([1, 16, 16, 3])))

    def validator():
        return validation.Validator(tmp_path, pairs, lambda images: images, tf.summary.create_noop_writer(),
                                    tf.train.Checkpoint(weight=weight), "l1", resumed_step=9, weights=[weight])

    validator()(4)
    best = tmp_path / "checkpoints" / "best"
    (best / "best.json").write_text('{"metric": "l1", "value": NaN, "step": 4, "checkpoint": "best-4"}')
    (best / "checkpoint").write_bytes(b"\x00\xff binary \x89")
    validator()(6)
    assert json.loads((best / "best.json").read_text())["step"] == 6
    assert sorted(path.name for path in best.glob("*.index")) == ["best-6.index"]


def test_preflight_names_an_unwritable_checkpoints_folder(tmp_path, monkeypatch):
    """Found before the first step, not as a traceback at the first save."""
    import pathlib

    from pix2pix_tf.training import checkpoints

    (tmp_path / "checkpoints").mkdir()
    real = checkpoints.tempfile.NamedTemporaryFile

    def refuse_in_checkpoints(**kwargs):
        if pathlib.Path(kwargs["dir"]).name == "checkpoints":
            raise PermissionError(13, "Permission denied")
        return real(**kwargs)

    monkeypatch.setattr(checkpoints.tempfile, "NamedTemporaryFile", refuse_in_checkpoints)
    with pytest.raises(ValueError, match=f"^{tmp_path / 'checkpoints'} is not writable: Permission denied$"):
        checkpoints.preflight(tmp_path, checkpoint_size=1000, checkpoints_kept=3)


FINAL_EVALUATION_STOPPED = """
import os, signal, sys
sys.path.insert(0, sys.argv[3])
from conftest import tiny_config
from pix2pix_tf.training import train

score = train.scoring.score

def terminated_while_scoring(*args, **kwargs):  # SIGTERM arrives while the final evaluation runs
    os.kill(os.getpid(), signal.SIGTERM)
    return score(*args, **kwargs)

train.scoring.score = terminated_while_scoring
print(train.train_and_evaluate(tiny_config(sys.argv[1], steps=2, val_every=100), sys.argv[2]))
"""


@pytest.mark.slow
def test_sigterm_during_the_final_evaluation_says_so_and_the_same_command_finishes_it(paired_folder, tmp_path):
    from conftest import tiny_config

    stopped = subprocess.run([sys.executable, "-c", FINAL_EVALUATION_STOPPED, str(paired_folder), str(tmp_path),
                              str(REPO / "tests")], capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "interrupted='SIGTERM'" in stopped.stdout and "ckpt-2" in stopped.stdout
    assert "SIGTERM during the final evaluation at step 2" in stopped.stderr
    assert not (tmp_path / "metrics.json").exists()
    assert train_and_evaluate(tiny_config(paired_folder, steps=2, val_every=100), tmp_path).step == 2
    assert (tmp_path / "metrics.json").exists()
