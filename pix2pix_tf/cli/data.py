"""pix2pix-tf data: find every problem of a dataset at once, or make A|B files from A/ and B/ folders.

  pix2pix-tf data check --data=path/to/facades                  # unreadable, unmatched, odd-sized files
  pix2pix-tf data check --data=maps --preprocess=crop --image_size=512 --splits=train,val
  pix2pix-tf data combine --a=labels --b=photos --output=pairs  # pairs/SPLIT/STEM.jpg holding A | B

check prints one line per problem (PATH: problem) and a summary; it exits 0 when it found none,
1 when it found some, 2 on a usage error. combine exits 1 when a file stops it (nothing is written).
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from absl import flags

from pix2pix_tf.cli import errors
from pix2pix_tf.cli.output import define_output_flag, output_flag
from pix2pix_tf.config import COMBINE_FORMATS, DataConfig

_DATA_FIELDS = {field.name: field for field in dataclasses.fields(DataConfig)}

FLAGS = flags.FLAGS
TAKES_ARGUMENTS = True  # the action: check or combine
flags.DEFINE_string("data", None, "check: the dataset folder, in any layout training reads "
                    "(A|B files in split folders, A/ and B/ in split folders, or A/ and B/ alone as train).")
flags.DEFINE_list("splits", None, "check: splits to check, each a problem when missing. "
                  "Default: whichever of train, val, test are there.")
flags.DEFINE_integer("image_size", _DATA_FIELDS["image_size"].default,
                     "check: as in training: " + _DATA_FIELDS["image_size"].metadata["help"])
flags.DEFINE_integer("load_size", _DATA_FIELDS["load_size"].default,
                     "check: as in training: " + _DATA_FIELDS["load_size"].metadata["help"])
flags.DEFINE_enum("preprocess", _DATA_FIELDS["preprocess"].default,
                  list(_DATA_FIELDS["preprocess"].metadata["choices"]),
                  "check: as in training (crop: images smaller than --image_size are a problem; resize "
                  "modes: images enlarged more than 2x are a warning). "
                  + _DATA_FIELDS["preprocess"].metadata["help"])
flags.DEFINE_string("a", None, "combine: folder of A images (the left halves), with split subfolders or without.")
flags.DEFINE_string("b", None, "combine: folder of B images (the right halves), matched to A by file stem.")
define_output_flag("combine: where the A|B files go: OUTPUT/SPLIT/STEM.jpg (OUTPUT/train without splits).")
flags.DEFINE_enum("format", "jpg", list(COMBINE_FORMATS),
                  "combine: jpg (quality 95, full-resolution colour) or png (lossless).")
flags.DEFINE_bool("skip_unmatched", False, "combine: write the pairs that match and list the files that do not, "
                  "instead of stopping.")


def _folder_flags(command: str, names: tuple[str, ...]) -> None:
    """Exits 2 naming each flag that is missing or not a folder; before TensorFlow loads, so at once."""
    for name in names:
        value = FLAGS[name].value
        if not value:
            errors.fail(command, f"--{name} is required (pix2pix-tf {command} --helpfull lists the flags)", 2)
        if not pathlib.Path(value).expanduser().is_dir():
            errors.fail(command, f"--{name}: {value} is not a folder", 2)


def check() -> int:
    """Prints every problem of --data and a summary; 1 when there are problems, else 0."""
    _folder_flags("data check", ("data",))
    # Imported here, not at the top: TensorFlow takes seconds to load and --help should not wait.
    from pix2pix_tf.data import tools as data_tools

    with errors.reported_errors("data check"):
        report = data_tools.check_dataset(FLAGS.data, FLAGS.splits, FLAGS.image_size, FLAGS.preprocess,
                                          FLAGS.load_size)
    print("\n".join(report.lines()))
    return 1 if report.problems else 0


def combine() -> int:
    """Writes the A|B files of --a and --b into --output; 1 when a file stops it."""
    _folder_flags("data combine", ("a", "b"))
    output = output_flag("data combine")
    if not output:
        errors.fail("data combine", "--output is required (pix2pix-tf data combine --helpfull lists the flags)", 2)
    from pix2pix_tf.data import tools as data_tools

    with errors.reported_errors("data combine", exit_code=1):
        written = data_tools.combine(FLAGS.a, FLAGS.b, output, FLAGS.format, FLAGS.skip_unmatched)
    print(f"wrote {written} A|B files to {output}\ncheck them: pix2pix-tf data check --data={output}")
    return 0


ACTIONS = {"check": check, "combine": combine}


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[1] not in ACTIONS:
        errors.fail("data", f"name one action: {' or '.join(ACTIONS)} (got {' '.join(argv[1:]) or 'none'})", 2)
    with errors.reported_errors(f"data {argv[1]}"):
        sys.exit(ACTIONS[argv[1]]())
