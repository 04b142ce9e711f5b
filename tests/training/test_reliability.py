"""Training runs that lose nothing: signals, resumes, bad numbers, bad files."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY, train_process, wait_for_steps

from pix2pix_tf.run_folder import load_generator
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
