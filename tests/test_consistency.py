"""The model you ship is the model you scored: the val scores training writes to metrics.json,
``evaluate`` on the same checkpoint, and ``evaluate`` on the default export all agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_dataset

from pix2pix_tf.evaluation.evaluate import evaluate_model
from pix2pix_tf.models.inference import make_generate_fn
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.train import train_and_evaluate


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    """A 32 px run with dropout, trained 4 steps in the default (paper) mode; its metrics.json."""
    root = tmp_path_factory.mktemp("consistency")
    config = tiny_config(write_dataset(root / "data", val=5), steps=4, val_every=0)
    assert config.train.eval_mode == "paper" and config.model.dropout == 0.5
    train_and_evaluate(config, root / "run")
    return root, json.loads((root / "run" / "metrics.json").read_text())


def test_metrics_json_evaluate_and_the_default_export_agree(scored_run):
    root, trained = scored_run
    evaluated, _ = evaluate_model(root / "run", root / "eval_run")
    export = subprocess.run(
        [sys.executable, "-m", "pix2pix_tf", "export", f"--workdir={root / 'run'}", f"--output={root / 'export'}",
         "--formats=saved_model"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert export.returncode == 0, export.stderr[-2000:]
    exported, _ = evaluate_model(root / "export", root / "eval_export")
    assert trained["images"] == evaluated.summary["images"] == exported.summary["images"] == 5
    for name in ("l1", "psnr", "ssim"):
        tolerance = 1e-4 * (100 if name == "psnr" else 1)
        assert abs(evaluated.summary[name] - trained[name]) <= tolerance, name
        assert abs(exported.summary[name] - trained[name]) <= tolerance, name
    report = json.loads((root / "eval_export" / "metrics.json").read_text())
    assert report["mode"] == trained["eval_mode"] == "paper"  # the export defaulted to the scored mode


def test_paper_mode_output_of_an_image_is_the_same_alone_in_any_batch_and_on_every_call(scored_run):
    root, _ = scored_run
    generator, _ = load_generator(root / "run")
    generate = make_generate_fn(generator, "paper")
    images = tf.random.stateless_uniform((4, 32, 32, 3), (0, 1), -1, 1)
    batch = generate(images).numpy()
    np.testing.assert_array_equal(generate(images).numpy(), batch)  # the same call, the same output
    np.testing.assert_allclose(generate(images[1:2]).numpy(), batch[1:2], atol=1e-5)  # alone
    # Paper mode is not eval mode: dropout and per-image statistics change the output.
    assert np.abs(make_generate_fn(generator, "eval")(images).numpy() - batch).max() > 1e-3
