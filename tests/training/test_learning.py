"""A short run on the built-in pairs learns: val L1 drops below the untrained model and both baselines."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

from pix2pix_tf.config import Config, DataConfig, ModelConfig, TrainConfig
from pix2pix_tf.data import pipeline, synthetic
from pix2pix_tf.evaluation import scoring
from pix2pix_tf.models import inference
from pix2pix_tf.training.step import Pix2Pix
from pix2pix_tf.training.train import train_and_evaluate, with_resolved_precision


@pytest.mark.slow
def test_short_run_on_built_in_data_beats_untrained_model_and_baselines(tmp_path):
    """What a newcomer's first run must show, at 32 px and a few hundred steps."""
    data_dir = synthetic.make_synthetic_dataset(tmp_path / "data", train_size=96, val_size=12, image_size=32)
    config = Config(
        model=ModelConfig(filters=16, disc_filters=16),
        data=DataConfig(data=str(data_dir), image_size=32),
        train=TrainConfig(batch_size=4, epochs=16, decay_epochs=4, log_every=100, sample_every=1000,
                          checkpoint_every=1000, num_samples=4, eval_mode="eval"),
    )
    tf.keras.utils.set_random_seed(0)
    untrained = Pix2Pix(with_resolved_precision(config), steps_per_epoch=24).generator
    val_dataset = pipeline.make_dataset(config, "val", training=False, batch_size=4)
    before = scoring.score(inference.make_generate_fn(untrained, "eval"), val_dataset).summary

    results = train_and_evaluate(config, tmp_path / "run")

    assert results.step == 20 * 24 and results.interrupted is None
    scores = results.metrics
    assert scores["l1"] < 0.8 * before["l1"]
    assert scores["l1"] < scores["baseline_mean_target_l1"]
    assert scores["l1"] < scores["baseline_identity_l1"]
    assert scores["psnr"] > scores["baseline_mean_target_psnr"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["l1"] == scores["l1"]
