"""The `pix2pix-tf` command as a user types it: real processes, real exit codes."""

from __future__ import annotations

import json
import re

import pytest
from conftest import TINY, run_cli

import pix2pix_tf
from pix2pix_tf.cli import SUBCOMMANDS


def test_without_command_lists_the_commands():
    """`pix2pix-tf` alone explains itself and fails (no job was named)."""
    result = run_cli()
    assert result.returncode == 2
    assert "train" in result.stdout


def test_unknown_command_is_named():
    result = run_cli("trian")
    assert result.returncode == 2
    assert "unknown command 'trian'" in result.stderr


@pytest.mark.parametrize("help_flag", ["--help", "--helpfull"])
def test_help_explains_every_train_flag_a_user_needs(help_flag):
    """--help and --helpfull document the flags a user needs, each with help text, and exit 0."""
    result = run_cli("train", help_flag)
    assert result.returncode == 0, result.stderr
    for flag in ("data", "direction", "workdir", "image_size", "batch_size", "steps", "epochs",
                 "decay_epochs", "seed", "preset", "gan_weight", "l1_weight", "eval_mode", "kernels"):
        assert f"--{flag}:" in result.stdout, flag


@pytest.mark.parametrize("command", list(SUBCOMMANDS))
def test_help_of_every_command_exits_0_without_loading_tensorflow(command):
    result = run_cli(command, "--help", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"pix2pix-tf {command}") and result.stderr == ""  # no TensorFlow start-up


def test_train_help_groups_its_flags_by_section_with_distill_flags_apart():
    lines = run_cli("train", "--help").stdout.splitlines()
    titles = [line for line in lines if line and not line.startswith(" ") and line.endswith(":")]
    assert [title.split(":")[0] for title in titles] == [
        "pix2pix-tf train flags", "data", "model", "train", "speed", "output", "distill"]
    distill = lines[lines.index(titles[-1]):]
    assert [line.split(":")[0].strip() for line in distill if line.startswith("  --")] == [
        "--teacher", "--teacher_checkpoint", "--teacher_weight", "--teacher_discriminator"]
    assert "[train]" not in "\n".join(lines)  # the group says the section


@pytest.mark.parametrize("args", [("--version",), ("export", "--version")])
def test_version(args):
    result = run_cli(*args)
    assert (result.returncode, result.stdout) == (0, f"pix2pix-tf {pix2pix_tf.__version__}\n")


def test_a_command_prints_none_of_tensorflows_start_up_lines():
    """TensorFlow's C++ libraries print their start-up lines (the absl pre-init warning, the oneDNN
    notice, CUDA probes) on stderr while they load, twice; a command shows only its own line."""
    result = run_cli("evaluate", "--workdir=/no/such/run")
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("pix2pix-tf evaluate: error: /no/such/run does not exist")


@pytest.mark.parametrize(
    "flag, message",
    [
        ("--norm=group", "--norm=group: value should be one of <batch|sync_batch|instance|none>"),
        ("--image_size=100", "--image_size must be a power of two from 32 to 1024, got 100"),
        ("--batch_size=0", "--batch_size must be >= 1, got 0"),
        ("--seed=-1", "--seed must be from 0 to 2**32 - 1, got -1"),
        ("--steps=many", "--steps=many"),
        ("--data=/no/such/folder", "--data: /no/such/folder is not a folder"),
    ],
)
def test_bad_flag_gives_one_clear_error(flag, message, tmp_path):
    """A bad flag or value names itself; no traceback from deep inside TensorFlow."""
    result = run_cli("train", flag, f"--workdir={tmp_path / 'run'}")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_on_a_folder_then_resume(paired_folder, tmp_path):
    """`train --data=...` trains, reports val figures, and a second call continues the run."""
    workdir = tmp_path / "run"
    result = run_cli("train", f"--data={paired_folder}", f"--workdir={workdir}", "--steps=2", *TINY)
    assert result.returncode == 0, result.stderr
    assert "val (paper mode, 3 images): L1" in result.stdout
    assert json.loads((workdir / "config.json").read_text())["data"]["image_size"] == 32

    result = run_cli("train", f"--workdir={workdir}", "--steps=3")
    assert result.returncode == 0, result.stderr
    assert f"resumed from {workdir / 'checkpoints' / 'ckpt-2'} at step 2\n" in result.stderr
    assert not re.search(r"^[IWE]\d{4} \d\d:\d\d", result.stderr, re.MULTILINE)  # no absl prefixes
    assert "oneDNN custom operations" not in result.stderr and "InitializeLog" not in result.stderr
    assert "kernels: cpu (auto: CPU with oneDNN)\n" in result.stderr  # what --kernels=auto chose
    assert json.loads((workdir / "metrics.json").read_text())["step"] == 3


@pytest.mark.slow
def test_train_without_data_uses_built_in_pairs(tmp_path):
    """No --data: the built-in synthetic pairs are made (no download) and trained on."""
    data_root = tmp_path / "cache"
    result = run_cli("train", "--steps=1", *TINY, env={"PIX2PIX_TF_DATA_DIR": str(data_root)}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list((data_root / "synthetic-v1" / "32px" / "train").glob("*.jpg"))
    config = json.loads((tmp_path / "runs" / "synthetic" / "config.json").read_text())
    assert config["data"]["data"] == ""
    assert config["train"]["batch_size"] == 2


@pytest.mark.slow
def test_corrupt_image_stops_before_training_or_is_skipped(paired_folder, tmp_path):
    """One bad file in a dataset: named before any step runs; --skip_bad_images trains anyway."""
    (paired_folder / "train" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    workdir = tmp_path / "run"
    result = run_cli("train", f"--data={paired_folder}", f"--workdir={workdir}", "--steps=1", *TINY)
    assert result.returncode == 2
    assert "1 unusable image(s)" in result.stderr and "broken.png: unreadable" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / "checkpoints").exists()

    result = run_cli("train", f"--data={paired_folder}", f"--workdir={workdir}", "--steps=1",
                     "--skip_bad_images", *TINY)
    assert result.returncode == 0, result.stderr
    assert "skipping 1 unusable image(s) of 7" in result.stderr


def test_single_photos_are_refused_at_start_and_leave_no_run_folder(tmp_path):
    """Photos in train/ instead of A|B pairs: refused before the first step with data check's finding
    and what plain photos need, and the refused run leaves no folder behind (not even its .lock)."""
    import numpy as np
    import tensorflow as tf

    for split in ("train", "val"):
        (tmp_path / "photos" / split).mkdir(parents=True)
        tf.io.write_file(str(tmp_path / "photos" / split / "photo.png"), tf.io.encode_png(np.zeros((80, 80, 3), np.uint8)))
    workdir = tmp_path / "runs" / "photos"
    result = run_cli("train", f"--data={tmp_path / 'photos'}", f"--workdir={workdir}", *TINY)
    assert result.returncode == 2
    assert "photo.png: 80x80 px is not two squares side by side (A|B)" in result.stderr
    assert "--task=colorize|edges|inpaint|superres" in result.stderr
    assert "Traceback" not in result.stderr
    assert "the paper's recipe (32 px, batch 2, 100 + 100 epochs); for a quick try: pix2pix-tf train " \
           f"--preset=quick --data={tmp_path / 'photos'}" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_the_end_of_a_run_names_only_the_files_it_wrote(tmp_path, capsys):
    """--val_every beyond --steps: no validation.csv and no best checkpoint, so neither is named."""
    from pix2pix_tf.cli.summary import print_results
    from pix2pix_tf.training.train import TrainResult

    metrics = {"eval_mode": "paper", "images": 3, "l1": 0.5, "psnr": 10.0, "baseline_mean_target_l1": 0.6}
    print_results(TrainResult(4, "ckpt-4", metrics=metrics), tmp_path, "train")
    said = capsys.readouterr().out
    assert "metrics.json" in said and "validation" not in said and "best" not in said
    (tmp_path / "validation.csv").write_text("step,l1,psnr,ssim\n")
    (tmp_path / "checkpoints" / "best").mkdir(parents=True)
    (tmp_path / "checkpoints" / "best" / "best.json").write_text("{}")
    print_results(TrainResult(4, "ckpt-4", metrics=metrics), tmp_path, "train")
    said = capsys.readouterr().out
    assert f"validation: {tmp_path / 'validation.csv'}" in said and str(tmp_path / "checkpoints" / "best") in said


def test_sigterm_stops_a_command_with_one_line_and_exit_143(capsys):
    """evaluate, export, translate and the rest: SIGTERM mid-way is one line saying the command did
    not finish (it was a bare "Terminated"); the handler before it is back afterwards."""
    import os
    import signal
    import time

    from pix2pix_tf.cli import errors

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exited:
        with errors.reported_errors("evaluate"):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert exited.value.code == 143
    assert capsys.readouterr().err.strip() == (
        "pix2pix-tf evaluate: error: stopped by SIGTERM before it finished; run the same command again")
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_full_disk_is_one_line_from_any_command_and_other_errors_still_raise(capsys):
    """export and evaluate write through TensorFlow ops: a full disk there was a traceback; it is one
    line without TensorFlow's decorations. An error that is not the user's is not hidden."""
    import tensorflow as tf

    from pix2pix_tf.cli import errors

    message = ("{{function_node __wrapped__SaveV2_dtypes_139_device_/job:localhost/replica:0/task:0/device:CPU:0}} "
               "out/variables/variables.data-00000-of-00001.tempstate1; No space left on device [Op:SaveV2]")
    with pytest.raises(SystemExit) as exited:
        with errors.reported_errors("export"):
            raise tf.errors.ResourceExhaustedError(None, None, message)
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "pix2pix-tf export: error: the disk is full (out/variables/variables.data-00000-of-00001.tempstate1; "
        "No space left on device); free space there and run the same command again")
    with pytest.raises(tf.errors.ResourceExhaustedError, match="OOM when allocating"):
        with errors.reported_errors("export"):
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
