"""pix2pix-tf train: train on a folder of paired images, or on the built-in data with no flags.

  pix2pix-tf train                                            # built-in façades, 64 px, 5-8 min on 2 cores
  pix2pix-tf train --data=path/to/facades --direction=BtoA    # the paper's recipe at 256 px
  pix2pix-tf train --preset=quick --data=path/to/pairs         # a quick try on your own pairs: 64 px
"""

from __future__ import annotations

import dataclasses
import pathlib

from absl import app, flags

from pix2pix_tf import run_folder
from pix2pix_tf.cli import config_flags, errors
from pix2pix_tf.cli.summary import print_results
from pix2pix_tf.config import PRESETS, TASK_INPUT_CHANNELS, Config, get_preset

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder: config, checkpoints, samples, TensorBoard logs. "
                    "Default: runs/<dataset name>. An existing run there is resumed.")
flags.DEFINE_enum("preset", None, list(PRESETS), "Starting config before the flags apply: paper (the "
                  "paper's recipe), quick (built-in data at 64 px, 32 filters, batch 4, 12 + 8 epochs) or hd (pix2pixHD's "
                  "losses: LSGAN, instance norm, 2 discriminator scales, feature matching 10, no L1). Default: "
                  "quick without --data, paper with it. A resumed run starts from its saved config.")
config_flags.define_config_flags()


def resolve_config(workdir: pathlib.Path) -> Config:
    """Saved config of a resumed run, else the preset; then the flags given on the command line."""
    saved = workdir / run_folder.CONFIG
    if saved.exists():
        return config_flags.apply_flags(Config.load(saved))
    base = get_preset(FLAGS.preset or ("paper" if FLAGS.data else "quick"))
    if not FLAGS.data:  # the built-in façades are label maps in the synthetic palette
        base = base.replace(data=dataclasses.replace(base.data, palette="synthetic"))
    if FLAGS.task in TASK_INPUT_CHANNELS:  # a colorizer's input is the gray image: no second flag needed
        base = base.replace(model=dataclasses.replace(base.model, input_channels=TASK_INPUT_CHANNELS[FLAGS.task]))
    return config_flags.apply_flags(base)


def paper_recipe_note(config: Config) -> str:
    """The line a new run with --data and no --preset starts with: it gets the paper's recipe, and
    how to get a quick try instead."""
    train = config.train
    length = f"{train.steps} steps" if train.steps else f"{train.epochs} + {train.decay_epochs} epochs"
    return (f"--data without --preset: the paper's recipe ({config.data.image_size} px, batch {train.batch_size}, "
            f"{length}); for a quick try: pix2pix-tf train --preset=quick --data={FLAGS.data}")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not FLAGS.data:
        data_name = "synthetic"
    elif FLAGS.data.startswith("tfds:"):
        data_name = FLAGS.data.rsplit("/", 1)[-1]
    else:  # the folder's own name, also for --data=.. or a trailing slash (not "runs/..")
        data_name = pathlib.Path(FLAGS.data).expanduser().resolve().name or "data"
    workdir = pathlib.Path(FLAGS.workdir or f"runs/{data_name}")
    with errors.reported_errors("train"):
        new_run = not (workdir / run_folder.CONFIG).exists()
        config = resolve_config(workdir)
        if FLAGS.data and not FLAGS.preset and new_run:
            print(paper_recipe_note(config), flush=True)
        from pix2pix_tf.training.train import train_and_evaluate

        results = train_and_evaluate(config, workdir)
    print_results(results, workdir, "train")


def run(argv: list[str]) -> None:
    app.run(main, argv=argv)
