"""pix2pix-tf download: fetch one of the pix2pix datasets and prepare it with TensorFlow Datasets.

  pix2pix-tf download facades                          # 400/100/106 pairs into ~/tensorflow_datasets
  pix2pix-tf download maps --data_dir=/data/tfds       # elsewhere: train with TFDS_DATA_DIR set
  pix2pix-tf download facades --manual_dir=~/archives  # no internet: ~/archives/facades.tar.gz

Datasets: facades, maps, cityscapes, edges2shoes, edges2handbags, night2day. Each image is split
into A (left half) and B (right half); the last line printed is the command to train on it.
"""

from __future__ import annotations

from absl import app, flags

from pix2pix_tf.cli import errors

FLAGS = flags.FLAGS
TAKES_ARGUMENTS = True  # the dataset's name
flags.DEFINE_string("data_dir", None, "Where TFDS keeps prepared datasets. "
                    "Default: $TFDS_DATA_DIR, else ~/tensorflow_datasets.")
flags.DEFINE_string("manual_dir", None, "Folder holding <NAME>.tar.gz, downloaded by hand: "
                    "used instead of the network.")


def train_command(name: str, direction: str, data_dir: str | None) -> str:
    """The command line that trains on the prepared dataset (the paper's direction for it)."""
    environment = f"TFDS_DATA_DIR={data_dir} " if data_dir else ""
    return f"{environment}pix2pix-tf train --data=tfds:pix2pix/{name} --direction={direction}"


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise app.UsageError("name one dataset: pix2pix-tf download NAME (e.g. facades)")
    name = argv[1]
    with errors.reported_errors("download"):
        # Imported here, not at the top: TFDS takes seconds to load and --help should not wait.
        from pix2pix_tf.data import tfds_pix2pix

        builder = tfds_pix2pix.prepare(name, data_dir=FLAGS.data_dir, manual_dir=FLAGS.manual_dir)
    sides = tfds_pix2pix.DATASETS[name]
    # Training reads TFDS's default folder; a dataset prepared elsewhere needs it named.
    data_dir = str(builder.data_dir_root) if FLAGS.data_dir else None
    sizes = ", ".join(f"{split} {info.num_examples}" for split, info in builder.info.splits.items())
    print(
        f"pix2pix/{name} {builder.info.version} prepared in {builder.data_dir}"
        f"\npairs: {sizes} (A = {sides.a}, B = {sides.b})"
        f"\ntrain on it: {train_command(name, sides.direction, data_dir)}"
    )
