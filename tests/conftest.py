"""Shared fixtures: tiny configs and tiny paired folders made in the test, never real data."""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from pix2pix_tf.config import Config, DataConfig, ModelConfig, TrainConfig  # noqa: E402


def write_pairs(root: pathlib.Path, split: str, count: int, size: int = 40, seed: int = 0) -> None:
    """Random A|B PNGs of height ``size`` and width ``2 * size`` in root/split."""
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = rng.integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
        tf.io.write_file(str(folder / f"{index}.png"), tf.io.encode_png(image))


@pytest.fixture
def paired_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    """A pix2pix-layout folder with 6 train and 3 val random pairs of 40x80 px."""
    root = tmp_path / "pairs"
    write_pairs(root, "train", 6, seed=1)
    write_pairs(root, "val", 3, seed=2)
    return root


def tiny_config(data_dir: os.PathLike | str = "", **train_overrides) -> Config:
    """32 px, 8 filters, batch 2: a full pix2pix that trains a step in milliseconds. In float32
    (not the default auto), so that what a test computes does not depend on the CPU's bf16 units."""
    train = dict(batch_size=2, steps=2, log_every=1, sample_every=2, checkpoint_every=2, num_samples=2,
                 mixed_precision="none")
    train.update(train_overrides)
    return Config(
        model=ModelConfig(filters=8, disc_filters=8),
        data=DataConfig(data=str(data_dir), image_size=32),
        train=TrainConfig(**train),
    )
