"""pix2pix-tf train: train on a folder of paired images, or on the built-in data with no flags.

  pix2pix-tf train                                            # built-in façades, 64 px, 5-8 min on 2 cores
  pix2pix-tf train --data=path/to/facades --direction=BtoA    # the paper's recipe at 256 px
  pix2pix-tf train --preset=quick --data=path/to/pairs         # a quick try on your own pairs: 64 px
"""

from __future__ import annotations

import pathlib

from absl import flags

from pix2pix_tf import run_folder
from pix2pix_tf.cli import config_flags, errors
from pix2pix_tf.cli.summary import print_results
from pix2pix_tf.config import PRESETS, Config

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder: config, checkpoints, samples, TensorBoard logs. "
                    "Default: runs/<dataset name>. An existing run there is resumed.")
flags.DEFINE_enum("preset", None, list(PRESETS), "Starting config before the flags apply: paper (the "
                  "paper's recipe), quick (built-in data at 64 px, 32 filters, batch 4, 12 + 8 epochs) or hd (pix2pixHD's "
                  "losses: LSGAN, instance norm, 2 discriminator scales, feature matching 10, no L1). Default: "
                  "quick without --data, paper with it. A resumed run starts from its saved config.")
config_flags.define_config_flags()


def resolve_config(workdir: pathlib.Path) -> Config:
    """Saved config of a resumed run, else ``Config.for_data`` (the preset, the built-in palette, the
    task's input channels); then the flags given on the command line."""
    saved = workdir / run_folder.CONFIG
    if saved.exists():
        return config_flags.apply_flags(Config.load(saved))
    return config_flags.apply_flags(Config.for_data(FLAGS.data, FLAGS.preset, FLAGS.task))


def paper_recipe_note(config: Config) -> str:
    """The line a new run with --data and no --preset starts with: it gets the paper's recipe, and
    how to get a quick try instead."""
    train = config.train
    length = f"{train.steps} steps" if train.steps else f"{train.epochs} + {train.decay_epochs} epochs"
    return (f"--data without --preset: the paper's recipe ({config.data.image_size} px, batch {train.batch_size}, "
            f"{length}); for a quick try: pix2pix-tf train --preset=quick --data={FLAGS.data}")


def main(argv: list[str]) -> None:
    workdir = pathlib.Path(FLAGS.workdir) if FLAGS.workdir else run_folder.default_workdir(FLAGS.data)
    with errors.reported_errors("train"):
        new_run = not (workdir / run_folder.CONFIG).exists()
        config = resolve_config(workdir)
        if FLAGS.data and not FLAGS.preset and new_run:
            print(paper_recipe_note(config), flush=True)
        from pix2pix_tf.training.train import train_and_evaluate

        result = train_and_evaluate(config, workdir)
    print_results(result, workdir, "train")
