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

import pathlib  # noqa: E402

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import pix2pix_tf  # noqa: E402

PHOTOS = flags.DEFINE_string("photos", "", "Folder of colour photos; empty: the built-in façade photos.")
WORKDIR = flags.DEFINE_string("workdir", "runs/colorize", "Where the run is written (and resumed from).")
STEPS = flags.DEFINE_integer("steps", 0, "Stop after this many steps (0: the quick recipe's 2,000).")


def built_in_photos(folder: pathlib.Path) -> pathlib.Path:
    """Writes the photo half of each built-in pair to folder/{train,val}/*.jpg: plain photos."""
    pairs = pix2pix_tf.make_synthetic_dataset(folder.parent / "builtin_pairs", image_size=64)
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
    # Config.for_data sets the input channels the task makes (1); everything else is the quick
    # recipe (64 px, half-width nets). Use preset="paper" and image_size 256 for real photos and a
    # longer run.
    config = pix2pix_tf.Config.for_data(str(photos), preset="quick", task="colorize")
    config = config.replace(train=dict(steps=STEPS.value))

    # 3. Look at a few pairs: the crop and mirror are the same on both sides -------------------
    inputs, targets = next(iter(pix2pix_tf.make_dataset(config, "train", training=True, batch_size=3)))
    workdir.mkdir(parents=True, exist_ok=True)
    pix2pix_tf.save_sample_grid(workdir / "pairs.png", inputs, targets, targets, "gray input | colour target")
    print(f"pairs: input {inputs.shape} (gray), target {targets.shape} (colour); see {workdir / 'pairs.png'}")

    # 4. Train ----------------------------------------------------------------------------------
    # The pix2pix objective: cGAN + 100 * L1. L1 alone gives the greyish, desaturated colours
    # the paper shows; the adversarial term pushes toward plausible, saturated ones.
    # The result says how the run ended: its step, its checkpoint, and the val scores (None when
    # Ctrl-C stopped it; the same command resumes).
    result = pix2pix_tf.train_and_evaluate(config, workdir)

    # 5. Results --------------------------------------------------------------------------------
    # The "identity" baseline does not apply (gray vs colour); the mean-target baseline does.
    if result.metrics:
        l1, baseline = result.metrics["l1"], result.metrics["baseline_mean_target_l1"]
        print(f"step {result.step}: val L1 {l1:.4f} vs {baseline:.4f} for the mean target image")
    print(f"samples: {sorted((workdir / 'samples').glob('step_*.png'))[-1]}")


if __name__ == "__main__":
    app.run(main)
