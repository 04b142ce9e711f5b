"""Train a colorizer from a folder of ordinary photos.

Introduction
------------
Colorization needs no labelled pairs: every colour photo already is one. pix2pix_tf's ``task``
option makes the pair on the fly: the input is the photo's luminance (1 channel), the target the
photo itself. The same trick gives edges -> photo (``edges``), inpainting (``inpaint``) and
super-resolution (``superres``).

    python examples/colorize_photos.py --photos=path/to/my/photos

Any folder of JPEG/PNG/BMP/GIF files works (``photos/train`` and ``photos/val`` if you have
them; otherwise everything trains and samples come from the training photos). With no
``--photos`` the script collects the built-in synthetic façade photos into a folder first, so it
runs with no download.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import dataclasses  # noqa: E402
import pathlib  # noqa: E402

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import pix2pix_tf  # noqa: E402
from pix2pix_tf.data import (  # noqa: E402
    pipeline,
    synthetic,  # noqa: E402
)
from pix2pix_tf.evaluation import plots  # noqa: E402

PHOTOS = flags.DEFINE_string("photos", "", "Folder of colour photos; empty: the built-in façade photos.")
WORKDIR = flags.DEFINE_string("workdir", "runs/colorize", "Where the run is written (and resumed from).")
STEPS = flags.DEFINE_integer("steps", 0, "Stop after this many steps (0: the quick recipe's 2,000).")


def built_in_photos(folder: pathlib.Path) -> pathlib.Path:
    """Writes the photo half of each built-in pair to folder/{train,val}/*.jpg: plain photos."""
    pairs = synthetic.make_synthetic_dataset(synthetic.default_data_dir() / "64px", image_size=64)
    for split in ("train", "val"):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for path in sorted((pairs / split).glob("*.jpg")):
            target = folder / split / path.name
            if not target.exists():
                image = tf.io.decode_jpeg(tf.io.read_file(str(path)))
                tf.io.write_file(str(target), tf.io.encode_jpeg(image[:, image.shape[1] // 2 :], quality=95))
    return folder


def main(argv: list[str]) -> None:
    del argv
    workdir = pathlib.Path(WORKDIR.value)

    # 1. The photos ---------------------------------------------------------------------------
    photos = pathlib.Path(PHOTOS.value) if PHOTOS.value else built_in_photos(workdir / "photos")
    print(f"photos: {photos}")

    # 2. The task and the model ---------------------------------------------------------------
    # The generator's input is the 1-channel gray image; its output the 3-channel colour photo.
    # Everything else is the quick recipe (64 px, half-width nets); use the "paper" preset and
    # image_size 256 for real photos and a longer run.
    config = pix2pix_tf.get_preset("quick")
    config = config.replace(
        model=dataclasses.replace(config.model, input_channels=1),
        data=dataclasses.replace(config.data, data=str(photos), task="colorize"),
        train=dataclasses.replace(config.train, steps=STEPS.value),
    )

    # 3. Look at a few pairs: the crop and mirror are the same on both sides -------------------
    inputs, targets = next(iter(pipeline.make_dataset(config, "train", training=True, batch_size=3)))
    workdir.mkdir(parents=True, exist_ok=True)
    plots.save_sample_grid(workdir / "pairs.png", inputs, targets, targets, "gray input | colour target")
    print(f"pairs: input {inputs.shape} (gray), target {targets.shape} (colour); see {workdir / 'pairs.png'}")

    # 4. Train ----------------------------------------------------------------------------------
    # The pix2pix objective: cGAN + 100 * L1. L1 alone gives the greyish, desaturated colours
    # the paper shows; the adversarial term pushes toward plausible, saturated ones.
    results = pix2pix_tf.train_and_evaluate(config, workdir)

    # 5. Results --------------------------------------------------------------------------------
    # The "identity" baseline does not apply (gray vs colour); the mean-target baseline does.
    print(f"val L1 {results['l1']:.4f} vs {results['baseline_mean_target_l1']:.4f} for the mean target image")
    print(f"samples: {sorted((workdir / 'samples').glob('step_*.png'))[-1]}")


if __name__ == "__main__":
    app.run(main)
