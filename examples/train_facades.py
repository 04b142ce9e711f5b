"""Train pix2pix on façades: label maps in, photos out.

Introduction
------------
pix2pix (Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks",
CVPR 2017) learns a mapping from one image to another from aligned pairs. A U-Net generator
translates the input; a PatchGAN discriminator looks at (input, output) pairs patch by patch and
tells real from generated; an L1 term keeps the output near the target.

This script walks through it on the façades dataset (CMP Facade Database, 400 pairs, A = photo,
B = labels, so labels -> photo is direction BtoA):

    python examples/train_facades.py --data=path/to/facades --direction=BtoA

With no ``--data`` it uses the built-in synthetic façades (A = labels, B = photo), made locally
on first use, and the small ``quick`` recipe (64 px), so it finishes in minutes on a laptop CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import math  # noqa: E402
import pathlib  # noqa: E402

from absl import app, flags  # noqa: E402

import pix2pix_tf  # noqa: E402

DATA = flags.DEFINE_string("data", "", "Folder of A|B pairs with train/ and val/; empty: built-in data.")
DIRECTION = flags.DEFINE_enum("direction", None, ["AtoB", "BtoA"], "Default: BtoA for --data, AtoB built-in.")
WORKDIR = flags.DEFINE_string("workdir", "runs/train_facades", "Where the run is written (and resumed from).")
STEPS = flags.DEFINE_integer("steps", 0, "Stop after this many steps (0: the recipe's full schedule).")


def trainable_parameters(model) -> int:
    return sum(math.prod(weight.shape) for weight in model.trainable_weights)


def main(argv: list[str]) -> None:
    del argv
    # 1. Configuration ---------------------------------------------------------------------
    # Every option lives in a frozen dataclass. Config.for_data picks what `pix2pix-tf train`
    # trains: the "paper" preset (256 px, batch 1, 100 + 100 epochs) for your data, the small
    # "quick" one for the built-in data. replace() changes fields of a section.
    config = pix2pix_tf.Config.for_data(DATA.value)
    direction = DIRECTION.value or ("BtoA" if DATA.value else "AtoB")
    config = config.replace(data=dict(direction=direction), train=dict(steps=STEPS.value))
    print(config.to_json())

    # 2. Data --------------------------------------------------------------------------------
    # Each file holds A | B side by side. Training pairs get the paper's jitter: resize to
    # load_size, random crop to image_size and random mirror, identical on both halves.
    # Values are float32 in [-1, 1].
    train_dataset = pix2pix_tf.make_dataset(config, "train", training=True, batch_size=2)
    inputs, targets = next(iter(train_dataset))
    print(f"a training batch: inputs {inputs.shape}, targets {targets.shape}, "
          f"range [{float(inputs.numpy().min()):.2f}, {float(inputs.numpy().max()):.2f}]")
    workdir = pathlib.Path(WORKDIR.value)
    workdir.mkdir(parents=True, exist_ok=True)
    pix2pix_tf.save_sample_grid(workdir / "training_pairs.png", inputs, targets, targets, "jittered pairs")

    # 3. Models ------------------------------------------------------------------------------
    # The U-Net has log2(image_size) stride-2 levels; at 256 px with 64 filters it has 54,413,955
    # trainable parameters, the PyTorch reference's count. The 70x70 PatchGAN outputs one logit
    # per patch. (The quick recipe halves both widths.)
    generator = pix2pix_tf.build_generator(config.model, config.data.image_size)
    discriminator = pix2pix_tf.build_discriminator(config.model)
    field = pix2pix_tf.receptive_field(config.model.disc_layers)
    print(f"generator: {trainable_parameters(generator):,} parameters; "
          f"discriminator: {trainable_parameters(discriminator):,} parameters, {field}x{field} px patches")

    # 4. Training ----------------------------------------------------------------------------
    # train_and_evaluate runs the one train step (D, then G against the updated D, with
    # G's loss = BCE + 100 * L1), checkpoints, writes sample grids and TensorBoard logs, and
    # resumes from the latest checkpoint if the workdir already holds this run.
    result = pix2pix_tf.train_and_evaluate(config, workdir)
    if result.interrupted:  # Ctrl-C or SIGTERM: a checkpoint was saved; the same command resumes
        print(f"stopped by {result.interrupted} at step {result.step}; run the same command to resume")
        return

    # 5. Results -----------------------------------------------------------------------------
    # The model must beat two trivial answers: copying the input, and the mean target image.
    scores = result.metrics
    print(f"val L1 {scores['l1']:.4f} (mean-target baseline {scores['baseline_mean_target_l1']:.4f})")
    print(f"val PSNR {scores['psnr']:.2f} dB (mean-target baseline {scores['baseline_mean_target_psnr']:.2f} dB)")
    latest = sorted((workdir / "samples").glob("step_*.png"))[-1]
    print(f"look at {latest}: input | target | output for fixed validation images")
    print(f"curves: tensorboard --logdir {workdir / 'tensorboard'}")


if __name__ == "__main__":
    app.run(main)
