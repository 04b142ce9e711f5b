"""pix2pix-tf distill: train a small student generator from a trained teacher run.

  pix2pix-tf distill --teacher=runs/facades --workdir=runs/facades_student   # unet_mobile, 16 filters
  pix2pix-tf distill --teacher=runs/facades --workdir=runs/wider --filters=24  # a wider student

The student learns on the teacher's data, direction, jitter and step budget (its config.json is
the starting point; flags change it), from the targets and from the teacher's outputs, against a
discriminator that starts from the teacher's. The run folder is a train run folder: resume with
the same command, and evaluate, export, translate and serve take it as any other run.
"""

from __future__ import annotations

import pathlib

from absl import flags

from pix2pix_tf import run_folder
from pix2pix_tf.cli import config_flags, errors
from pix2pix_tf.cli.summary import print_results
from pix2pix_tf.config import Config

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder of the student (an existing one is resumed).")
config_flags.define_config_flags()
flags.mark_flags_as_required(["workdir"])


def resolve_config(workdir: pathlib.Path) -> Config:
    """Saved config of a resumed student run, else ``student_config`` of the teacher; then the flags
    given on the command line."""
    saved = workdir / run_folder.CONFIG
    if saved.exists():
        return config_flags.apply_flags(Config.load(saved))
    if not FLAGS.teacher:
        raise ValueError("--teacher is required: the run folder of a trained generator to learn from")
    from pix2pix_tf.training.distill import student_config

    return config_flags.apply_flags(student_config(FLAGS.teacher))  # (train_and_evaluate makes --teacher absolute)


def main(argv: list[str]) -> None:
    workdir = pathlib.Path(FLAGS.workdir)
    with errors.reported_errors("distill"):
        config = resolve_config(workdir)
        if not config.distill.teacher:
            raise ValueError(f"{workdir / run_folder.CONFIG} is not a distillation run (no teacher): "
                             "continue it with pix2pix-tf train")
        from pix2pix_tf.training.train import train_and_evaluate

        result = train_and_evaluate(config, workdir)
    print_results(result, workdir, "distill")
