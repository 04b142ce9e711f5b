"""Export a trained pix2pix generator for servers (SavedModel) and phones (TFLite).

Introduction
------------
A training run folder holds checkpoints of both networks. Deployment needs only the generator,
in a fixed, deterministic form: batch norm with the moving statistics (``eval`` mode) or with
each image's own statistics and a fixed dropout mask (``paper`` mode). Either way an image gives
the same output alone or in a batch.

    python examples/export_tflite.py --workdir=runs/synthetic --output=saved_models/synthetic

Run ``pix2pix-tf train`` first (about 7 minutes) to have ``runs/synthetic``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import pix2pix_tf  # noqa: E402

WORKDIR = flags.DEFINE_string("workdir", "runs/synthetic", "Training run to export.")
OUTPUT = flags.DEFINE_string("output", "saved_models/synthetic", "Where the exported files go.")


def main(argv: list[str]) -> None:
    del argv
    out = pathlib.Path(OUTPUT.value)

    # 1. The generator and its config come from the run folder: no flags to get wrong.
    generator, config = pix2pix_tf.load_generator(WORKDIR.value)
    print(f"generator of {WORKDIR.value}: {config.model.generator}, {config.data.image_size} px")

    # 2. The deterministic inference graph (same weights, batch-independent), in the mode the run
    #    was scored in: what ships is what was measured.
    inference = pix2pix_tf.inference_generator(generator, config.train.eval_mode)

    # 3. SavedModel for servers: uint8 images of any size in, the same size out.
    saved_path = pix2pix_tf.export_saved_model(generator, config, out / "saved_model")
    loaded = pix2pix_tf.load_saved_model(saved_path)
    odd = np.random.default_rng(0).integers(0, 256, (1, 100, 150, config.model.input_channels), np.uint8)
    print(f"SavedModel {saved_path} ({loaded.mode} mode): a 100x150 image comes back "
          f"{tuple(loaded.serve(tf.constant(odd)).shape)}")

    # 4. TFLite for phones: fixed input size; int8 is calibrated on real training images.
    calibration = pix2pix_tf.dataset_images(config, "train", 64)
    for precision in ("float16", "int8"):
        path = out / f"model_{precision}.tflite"
        path.write_bytes(pix2pix_tf.convert_to_tflite(inference, config.data.image_size, precision, calibration))
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    config.save(out / "config.json")

    # 5. Parity: each TFLite model against the float graph, on validation images.
    images = pix2pix_tf.dataset_images(config, pix2pix_tf.val_split(config), 16)
    models = {precision: (out / f"model_{precision}.tflite").read_bytes() for precision in ("float16", "int8")}
    for precision, result in pix2pix_tf.verify_tflite(inference, models, images).items():
        print(f"{precision}: PSNR {result['psnr']:.1f} dB vs float (needs >= {result['threshold']:.0f})")
    print(f"next: python examples/tflite_inference.py --model={out / 'model_int8.tflite'} --image=some.jpg")


if __name__ == "__main__":
    app.run(main)
