"""Benchmarks that print figures (never timed unit tests)."""

from __future__ import annotations

import os
import time

from pix2pix_tf import input_pipeline
from pix2pix_tf.config import Config


def benchmark_input(
    config: Config, batches: int = 200, warmup: int = 20, data_dir: str | os.PathLike | None = None
) -> dict[str, float]:
    """Images/s of the training input pipeline alone (decode, jitter, batch), as training runs it.

    Returns {"images_per_s", "batches", "batch_size", "image_size", "seconds"}.
    """
    batch_size = config.train.batch_size
    dataset = input_pipeline.make_dataset(
        config, "train", training=True, batch_size=batch_size, seed=config.train.seed, data_dir=data_dir
    )
    iterator = iter(dataset)
    for _ in range(warmup):  # fills the prefetch buffers and the autotuner's estimates
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - started
    return {
        "images_per_s": round(batches * batch_size / seconds, 2),
        "batches": batches,
        "batch_size": batch_size,
        "image_size": config.data.image_size,
        "preprocess": config.data.preprocess,
        "seconds": round(seconds, 3),
    }
