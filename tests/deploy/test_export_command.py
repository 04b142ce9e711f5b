"""pix2pix-tf export: a run becomes verified SavedModel and TFLite files; mistakes are named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

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
    from conftest import write_dataset

    root = tmp_path_factory.mktemp("deploy")
    train_and_evaluate(tiny_config(write_dataset(root / "data"), steps=3), root / "run")
    return root / "run"


def test_export_writes_every_format_and_verifies_it(trained_run, tmp_path, capfd):
    """Every format, each stage said as it runs with its time and memory, without the converter's noise."""
    said = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = exporter.export_run(trained_run, tmp_path / "out", list(exporter.FORMATS), representative_images=4,
                                     verify_images=3, say=said.append)
    assert report["passed"]
    stages = ["SavedModel", "TFLite float32", "TFLite float16", "TFLite dynamic_int8",
              "TFLite int8 (calibrated on 4 training images)",
              "parity of each TFLite file against the float graph on 3 validation images"]
    assert said[0::2] == [f"export: {stage} ..." for stage in stages]
    assert all(line.startswith(f"export: {stage}: ") and "peak memory so far" in line
               for stage, line in zip(stages, said[1::2]))
    assert "MB, peak memory" in said[1] and len(said) == 2 * len(stages)
    noise = capfd.readouterr().err + "".join(str(warning.message) for warning in caught)
    assert "fully_quantize" not in noise and "Statistics for quantized inputs" not in noise
    assert "XNNPACK" not in noise
    assert set(report["parity"]) == {"float32", "float16", "dynamic_int8", "int8"}
    for name in ("model_float32.tflite", "model_float16.tflite", "model_int8.tflite", "config.json", "export.json"):
        assert (tmp_path / "out" / name).stat().st_size > 0, name
    assert report["files"]["model_int8.tflite"] * 3 < report["files"]["model_float32.tflite"]
    assert json.loads((tmp_path / "out" / "export.json").read_text())["passed"] is True
    page = json.loads((tmp_path / "out" / "page.json").read_text())  # "web": the page around the float16 file
    assert page["model"]["url"] == "model_float16.tflite" and page["example"] == "example.png"
    assert (tmp_path / "out" / "index.html").exists() and (tmp_path / "out" / "static" / "litert" / "LICENSE").exists()

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


@pytest.mark.slow
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

    again = exporter.verify_folder(tmp_path / "out" / "saved_model", verify_images=2)  # the SavedModel itself named
    assert again["float16"]["passed"]

    (tmp_path / "out" / "model_float16.tflite").unlink()
    with pytest.raises(ValueError, match="holds no model_\\*.tflite files"):
        exporter.verify_folder(tmp_path / "out")
    with pytest.raises(ValueError, match="saved_model"):
        exporter.verify_folder(tmp_path)


def test_an_export_replaces_its_folder_only_when_complete(trained_run, tmp_path, monkeypatch):
    """A failed (or killed) export leaves the previous export whole and no half-written folder."""
    exporter.export_run(trained_run, tmp_path / "out", ["saved_model"])
    before = sorted(path.relative_to(tmp_path) for path in (tmp_path / "out").rglob("*"))

    def broken(*args, **kwargs):
        raise RuntimeError("killed mid-way")

    monkeypatch.setattr(exporter.tflite, "convert", broken)
    with pytest.raises(RuntimeError, match="killed mid-way"):
        exporter.export_run(trained_run, tmp_path / "out", ["saved_model", "tflite_fp32"])
    assert sorted(path.relative_to(tmp_path) for path in (tmp_path / "out").rglob("*")) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_an_export_is_not_written_over_a_folder_that_is_not_an_export(trained_run, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match=f"--output {tmp_path} exists and is not an export folder"):
        exporter.export_run(trained_run, tmp_path, ["saved_model"])
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.slow
def test_an_export_killed_mid_way_leaves_nothing_translate_would_accept(trained_run, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "pix2pix_tf", "export", f"--workdir={trained_run}",
                                f"--output={tmp_path / 'out'}", "--formats=saved_model,tflite_fp32,tflite_fp16"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".out.partial-*/saved_model/saved_model.pb")):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "out").exists()  # killed after the SavedModel, before the TFLite files: no export
    result = subprocess.run([sys.executable, "-m", "pix2pix_tf", "translate", f"--model={tmp_path / 'out'}",
                             f"--input={tmp_path}", f"--output={tmp_path / 'translated'}"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "does not exist" in result.stderr
    exporter.export_run(trained_run, tmp_path / "out", ["saved_model"])  # the next export cleans up
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]


@pytest.mark.slow
def test_a_run_that_keeps_each_images_size_exports_to_tflite(tmp_path):
    """--preprocess=none trains on images at their own size; the TFLite file's calibration and parity
    images are cropped or padded to its fixed size instead of failing the export."""

    from conftest import write_pairs

    write_pairs(tmp_path / "data", "train", 3, size=40)
    write_pairs(tmp_path / "data", "val", 2, size=48)
    config = tiny_config(tmp_path / "data", steps=1, batch_size=1, val_every=0)
    config = config.replace(data=dict(preprocess="none"))
    train_and_evaluate(config, tmp_path / "run")
    report = exporter.export_run(tmp_path / "run", tmp_path / "out", ["tflite_fp32", "tflite_int8"],
                                 representative_images=2, verify_images=2)
    assert set(report["parity"]) == {"float32", "int8"} and report["parity"]["float32"]["passed"]
