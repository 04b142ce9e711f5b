"""Peak memory of translating one very large image in tiles: what `pix2pix-tf translate --tile_size`
costs on a 100-megapixel PNG.

    python benchmarks/translate_memory.py --megapixels=100 --tile_size=512

Builds a 4-filter U-Net (random weights: memory does not depend on them), writes a square PNG of
the given size (smooth colours and noise, so the file is realistic), translates it with
``Translator.translate_files`` (decode, tiles, blending, PNG encode) and prints one JSON line:
the image size, the tile size, seconds, the resident memory when the translation starts, and the
peak resident memory during it (VmHWM, reset after the test image is written).
"""

from __future__ import annotations

import gc
import json
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from pix2pix_tf.config import Config, DataConfig, ModelConfig  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402

MEGAPIXELS = flags.DEFINE_integer("megapixels", 100, "Image size in megapixels (a square).")
TILE_SIZE = flags.DEFINE_integer("tile_size", 512, "Tile side in pixels.")


def reset_peak_rss() -> None:
    """Starts VmHWM afresh at the current resident size (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as file:
        file.write("5")


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (VmHWM), MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def write_test_image(path: pathlib.Path, side: int, width: int | None = None) -> None:
    """A side x side (or side x ``width``) RGB PNG, written band by band so the image never sits in
    memory as floats."""
    width = width or side
    rows = np.linspace(0, 239, side, dtype=np.float32)
    columns = np.linspace(0, 239, width, dtype=np.float32)
    rng = np.random.default_rng(0)
    image = np.empty((side, width, 3), np.uint8)
    for top in range(0, side, 1000):
        band = rows[top : top + 1000, None] * 0.5 + columns[None, :] * 0.5
        noise = rng.integers(0, 16, (len(band), width, 3), dtype=np.uint8)
        image[top : top + 1000] = band[..., None].astype(np.uint8) + noise
    tf.io.write_file(str(path), tf.io.encode_png(image))


def main(argv: list[str]) -> None:
    del argv
    side = int(round((MEGAPIXELS.value * 1e6) ** 0.5))
    config = Config(model=ModelConfig(filters=4), data=DataConfig(image_size=256))
    generator = build_generator(config.model, 256)
    forward = tf.function(lambda images: generator(images, training=False), reduce_retracing=True)
    translator = Translator(lambda images: forward(images).numpy(), config, multiple=256, tile_size=TILE_SIZE.value)
    with tempfile.TemporaryDirectory() as folder:
        source = pathlib.Path(folder) / "large.png"
        write_test_image(source, side)
        translator.translate(np.zeros((TILE_SIZE.value, TILE_SIZE.value, 3), np.uint8))  # traces the model
        gc.collect()
        reset_peak_rss()
        before = peak_rss_mib()
        started = time.perf_counter()
        translator.translate_files([source], pathlib.Path(folder) / "out")
        seconds = time.perf_counter() - started
        print(json.dumps({"width": side, "height": side, "megapixels": round(side * side / 1e6, 1),
                          "tile_size": TILE_SIZE.value, "seconds": round(seconds, 1),
                          "rss_mib_at_start": round(before), "peak_rss_mib": round(peak_rss_mib())}))


if __name__ == "__main__":
    app.run(main)
