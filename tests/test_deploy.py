"""pix2pix-tf export: a run becomes verified SavedModel and TFLite files; mistakes are named."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.deploy import export as exporter
from pix2pix_tf.deploy import saved_model
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.train import train_and_evaluate


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 32 px run trained for a few steps on random pairs (the test needs weights, not quality)."""
    from conftest import write_pairs

    root = tmp_path_factory.mktemp("deploy")
    write_pairs(root / "data", "train", 6, seed=1)
    write_pairs(root / "data", "val", 3, seed=2)
    train_and_evaluate(tiny_config(root / "data", steps=3), root / "run")
    return root / "run"


def test_export_writes_every_format_and_verifies_it(trained_run, tmp_path):
    report = exporter.export_run(trained_run, tmp_path / "out", list(exporter.FORMATS), representative_images=4,
                               verify_images=3)
    assert report["passed"]
    assert set(report["parity"]) == {"float32", "float16", "dynamic_int8", "int8"}
    for name in ("model_float32.tflite", "model_float16.tflite", "model_int8.tflite", "config.json", "export.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert report["files"]["model_int8.tflite"] * 3 < report["files"]["model_float32.tflite"]
    assert json.loads((tmp_path / "out" / "export.json").read_text())["passed"] is True

    loaded = saved_model.load_saved_model(tmp_path / "out" / "saved_model")
    serve, config, mode = loaded.serve, loaded.config, loaded.mode
    generator, trained_config = load_generator(trained_run)
    assert config == trained_config and mode == trained_config.train.eval_mode == "paper"
    image = np.random.default_rng(0).integers(0, 256, (1, 45, 70, 3), dtype=np.uint8)
    output = serve(tf.constant(image)).numpy()
    assert output.shape == image.shape and output.dtype == np.uint8


def test_unknown_format_lists_the_choices(trained_run, tmp_path):
    with pytest.raises(ValueError, match="--formats='onnx' is not valid; choose one of: saved_model, tflite_fp32"):
        exporter.export_run(trained_run, tmp_path, ["onnx"])


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pix2pix_tf", "export", *args], capture_output=True, text=True,
                          timeout=600, env=os.environ)


@pytest.mark.slow
def test_export_command_prints_sizes_and_parity(trained_run, tmp_path):
    result = run_cli(f"--workdir={trained_run}", f"--output={tmp_path / 'out'}", "--formats=saved_model,tflite_fp32",
                     "--verify_images=2")
    assert result.returncode == 0, result.stderr
    assert "model_float32.tflite" in result.stdout and "parity      float32: PSNR" in result.stdout
    assert (tmp_path / "out" / "model_float32.tflite").exists() and "deprecated" not in result.stderr


@pytest.mark.slow
def test_export_command_still_takes_the_deprecated_out_flag(trained_run, tmp_path):
    result = run_cli(f"--workdir={trained_run}", f"--out={tmp_path / 'old'}", "--formats=saved_model")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "old" / "saved_model" / "saved_model.pb").exists()
    assert "--out is deprecated; use --output" in result.stderr


@pytest.mark.parametrize(
    "config_text, message",
    [(None, "is not a pix2pix_tf run folder: no config.json"), ("{}", "checkpoints holds no checkpoint")],
)
def test_export_of_a_folder_without_a_trained_run_is_named(tmp_path, config_text, message):
    """A missing run, or one with no checkpoint yet, gives one line naming the folder."""
    if config_text is not None:
        (tmp_path / "config.json").write_text(config_text)
    result = run_cli(f"--workdir={tmp_path}", f"--output={tmp_path / 'out'}")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_verify_command_checks_an_export_against_its_saved_model(trained_run, tmp_path):
    """`pix2pix-tf verify` re-checks an export folder on its own; a folder of another kind is named."""
    exporter.export_run(trained_run, tmp_path / "out", ["saved_model", "tflite_fp16"], verify_images=2)
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf", "verify", f"--model={tmp_path / 'out'}",
                             "--verify_images=2"], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "parity      float16: PSNR" in result.stdout and "ok" in result.stdout

    (tmp_path / "out" / "model_float16.tflite").unlink()
    with pytest.raises(ValueError, match="holds no model_\\*.tflite files"):
        exporter.verify_folder(tmp_path / "out")
    with pytest.raises(ValueError, match="saved_model"):
        exporter.verify_folder(tmp_path)
