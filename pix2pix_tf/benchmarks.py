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


def benchmark_inference(
    config: Config,
    precisions: tuple[str, ...] = ("float32", "float16", "dynamic_int8", "int8"),
    runs: int = 10,
    num_threads: int = 2,
    workdir: str | os.PathLike | None = None,
) -> dict[str, dict[str, float]]:
    """Size (MB) and median latency (ms per image, ``num_threads`` threads) of each TFLite precision.

    Uses the generator of ``workdir`` when given, else a freshly initialised one of ``config``
    (size and latency do not depend on the weights' values). int8 is calibrated on uniform noise
    images when there is no run: fine for timing, not for quality.
    """
    import numpy as np

    from pix2pix_tf import export, models, tflite, train_lib

    if workdir:
        generator, config = train_lib.load_generator(workdir)
    else:
        generator = models.build_generator(config.model, config.data.image_size)
    inference = export.inference_generator(generator, "eval")
    size, channels = config.data.image_size, config.model.input_channels
    images = np.random.default_rng(0).uniform(-1, 1, (8, size, size, channels)).astype(np.float32)
    results = {}
    for precision in precisions:
        model_bytes = tflite.convert(inference, size, precision, images)
        runner = tflite.TFLiteModel(model_bytes, num_threads=num_threads)
        runner.run(images[:1])  # first call allocates and plans
        timings = []
        for index in range(runs):
            started = time.perf_counter()
            runner.run(images[index % len(images)][np.newaxis])
            timings.append(time.perf_counter() - started)
        results[precision] = {
            "size_mb": round(len(model_bytes) / 1e6, 1),
            "median_ms": round(1000 * sorted(timings)[len(timings) // 2], 1),
            "min_ms": round(1000 * min(timings), 1),
        }
    return results
