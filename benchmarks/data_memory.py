"""Peak memory of training's input pipeline on very large A|B files: what reading them costs before
they are shrunk to the training size.

    python benchmarks/data_memory.py --width=14000 --height=7000 --files=2 --image_size=32

Writes ``--files`` A|B PNGs of width x height (smooth colours and noise, as translate_memory.py's),
then runs what ``pix2pix-tf train`` runs before its first step and while it reads: the scan that
refuses unusable files, and ``make_dataset(training=True)`` for one pass over the files (decode,
resize to the load size, crop, flip). Prints one JSON line: the file size, seconds, the resident
memory at the start, and the peak resident memory (VmHWM, reset after the files are written).
"""

from __future__ import annotations

import gc
import json
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402
from translate_memory import peak_rss_mib, reset_peak_rss, write_test_image  # noqa: E402

from pix2pix_tf.config import Config, DataConfig  # noqa: E402
from pix2pix_tf.data import pipeline  # noqa: E402

WIDTH = flags.DEFINE_integer("width", 14000, "Width of each A|B file in pixels (both halves).")
HEIGHT = flags.DEFINE_integer("height", 7000, "Height of each A|B file in pixels.")
FILES = flags.DEFINE_integer("files", 2, "How many such files the training split holds.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 32, "Training image size (--image_size).")


def main(argv: list[str]) -> None:
    del argv
    with tempfile.TemporaryDirectory() as folder:
        train = pathlib.Path(folder) / "train"
        train.mkdir()
        for index in range(FILES.value):
            write_test_image(train / f"{index}.png", HEIGHT.value, WIDTH.value)
        config = Config(data=DataConfig(data=folder, image_size=IMAGE_SIZE.value))
        gc.collect()
        reset_peak_rss()
        before = peak_rss_mib()
        started = time.perf_counter()
        dataset = pipeline.make_dataset(config, "train", training=True, batch_size=1)
        for _ in dataset.take(FILES.value):
            pass
        seconds = time.perf_counter() - started
        print(json.dumps({"width": WIDTH.value, "height": HEIGHT.value, "files": FILES.value,
                          "image_size": IMAGE_SIZE.value, "seconds": round(seconds, 1),
                          "rss_mib_at_start": round(before), "peak_rss_mib": round(peak_rss_mib())}))


if __name__ == "__main__":
    app.run(main)
