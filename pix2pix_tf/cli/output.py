"""The --output flag of every command that writes files, and the --out it replaces."""

from __future__ import annotations

import sys

from absl import flags

from pix2pix_tf.cli import errors

FLAGS = flags.FLAGS


def define_output_flag(help_text: str) -> None:
    """Defines --output, and --out as its deprecated spelling (still accepted, with a note)."""
    flags.DEFINE_string("output", None, help_text)
    flags.DEFINE_string("out", None, "Deprecated spelling of --output; still accepted.")


def output_flag(command: str) -> str | None:
    """The value of --output (or of the deprecated --out, with a note on stderr)."""
    if FLAGS.out is None:
        return FLAGS.output
    if FLAGS.output is not None and FLAGS.output != FLAGS.out:
        errors.fail(command, f"--out={FLAGS.out} and --output={FLAGS.output} disagree; give --output only")
    print(f"pix2pix-tf {command}: note: --out is deprecated; use --output", file=sys.stderr)
    return FLAGS.out
