"""pix2pix-tf plot: loss and validation curves of a run, from its TensorBoard logs, as one PNG.

  pix2pix-tf plot --workdir=runs/facades            # writes runs/facades/curves.png
"""

from __future__ import annotations

import pathlib

from absl import flags

from pix2pix_tf import run_folder
from pix2pix_tf.cli import errors
from pix2pix_tf.cli.output import define_output_flag, output_flag

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "A training run folder (reads its tensorboard/ logs).")
define_output_flag("PNG to write; default <workdir>/curves.png.")


def main(argv: list[str]) -> None:
    if not FLAGS.workdir:
        errors.fail("plot", "--workdir is required")
    workdir = pathlib.Path(FLAGS.workdir).expanduser()
    logdir = workdir / run_folder.TENSORBOARD
    with errors.reported_errors("plot"):
        if not logdir.is_dir():
            raise ValueError(f"{workdir} has no tensorboard/ folder: not a pix2pix_tf run, or not started")
        from pix2pix_tf.evaluation import plots

        output = output_flag("plot")
        out = pathlib.Path(output).expanduser() if output else workdir / run_folder.CURVES
        panels = plots.save_curves(out, plots.read_scalars(logdir), title=str(workdir))
    print(f"wrote {out} ({panels} panels)")
