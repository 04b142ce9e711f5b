"""The tutorial scripts in examples/ run end to end with the command lines their docstrings give,
on tiny data made in the test; they use the public API only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, tiny_config, write_pairs

import pix2pix_tf
from pix2pix_tf.training.train import train_and_evaluate

EXAMPLES = sorted((REPO / "examples").glob("*.py"))


def run_example(name: str, *flags: str, env: dict | None = None) -> str:
    done = subprocess.run([sys.executable, str(REPO / "examples" / name), *flags], capture_output=True, text=True,
                          timeout=900, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_examples_import_the_public_api_only(path):
    imported = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, (ast.Import, ast.ImportFrom))]
    modules = [alias.name for node in imported if isinstance(node, ast.Import) for alias in node.names]
    modules += [node.module for node in imported if isinstance(node, ast.ImportFrom)]
    assert not [module for module in modules if module.startswith("pix2pix_tf.")], path.name
    used = {node.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "pix2pix_tf"}
    assert used <= set(pix2pix_tf.__all__), sorted(used - set(pix2pix_tf.__all__))


@pytest.mark.slow
def test_train_facades_on_the_built_in_data(tmp_path):
    """python examples/train_facades.py (no --data: the built-in façades, the quick recipe)."""
    output = run_example("train_facades.py", "--steps=2", f"--workdir={tmp_path / 'run'}",
                         env={"PIX2PIX_TF_DATA_DIR": str(tmp_path / "cache")})
    assert "val L1" in output and "mean-target baseline" in output
    assert (tmp_path / "run" / "training_pairs.png").stat().st_size > 0
    assert pix2pix_tf.Config.load(tmp_path / "run" / "config.json").data.palette == "synthetic"


@pytest.mark.slow
def test_colorize_photos_on_a_folder_of_photos(tmp_path):
    """python examples/colorize_photos.py --photos=path/to/my/photos"""
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        (tmp_path / "photos" / split).mkdir(parents=True)
        for index in range(4):
            image = rng.integers(0, 256, (72, 72, 3), dtype=np.uint8)
            tf.io.write_file(str(tmp_path / "photos" / split / f"{index}.jpg"), tf.io.encode_jpeg(image))
    output = run_example("colorize_photos.py", f"--photos={tmp_path / 'photos'}", "--steps=2",
                         f"--workdir={tmp_path / 'run'}")
    assert "for the mean target image" in output
    config = pix2pix_tf.Config.load(tmp_path / "run" / "config.json")
    assert (config.data.task, config.model.input_channels) == ("colorize", 1)


@pytest.mark.slow
def test_export_tflite_then_tflite_inference(tmp_path):
    """python examples/export_tflite.py --workdir=RUN --output=OUT, then
    python examples/tflite_inference.py --model=OUT/model_int8.tflite --image=in.png"""
    write_pairs(tmp_path / "data", "train", 6, seed=1)
    write_pairs(tmp_path / "data", "val", 3, seed=2)
    train_and_evaluate(tiny_config(tmp_path / "data", steps=2, val_every=0), tmp_path / "run")
    output = run_example("export_tflite.py", f"--workdir={tmp_path / 'run'}", f"--output={tmp_path / 'export'}")
    assert "int8: PSNR" in output and (tmp_path / "export" / "saved_model").is_dir()
    image = np.random.default_rng(1).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    tf.io.write_file(str(tmp_path / "in.png"), tf.io.encode_png(image))
    output = run_example("tflite_inference.py", f"--model={tmp_path / 'export' / 'model_int8.tflite'}",
                         f"--image={tmp_path / 'in.png'}", f"--output={tmp_path / 'translated.png'}")
    assert "wrote" in output
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "translated.png"))).shape == (50, 70, 3)
