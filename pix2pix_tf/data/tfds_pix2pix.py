"""The pix2pix authors' paired datasets as a TensorFlow Datasets builder, and a loader for training.

Importing this module registers the builder ``pix2pix`` with one config per archive the authors
publish at ``http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/<name>.tar.gz``:

  config          A (left half)   B (right half)   the paper trains
  facades         photo           labels           BtoA: labels -> photo
  maps            aerial photo    map              AtoB: aerial -> map (and BtoA)
  cityscapes      photo           labels           BtoA: labels -> photo
  edges2shoes     edges           photo            AtoB: edges -> photo
  edges2handbags  edges           photo            AtoB: edges -> photo
  night2day       night           day              AtoB: night -> day

Each archive holds ``<name>/<split>/*.jpg`` (train, val and, for some, test), every file being the
A and B images side by side (width = 2 * height). One example per file, at native resolution
(256 x 256 halves; 600 x 600 for maps)::

  {"A": uint8 (H, W, 3), "B": uint8 (H, W, 3), "file_name": "1.jpg"}

With no internet, put the archive in a folder and pass that folder as ``manual_dir``::

  import tensorflow_datasets as tfds
  from pix2pix_tf.data import tfds_pix2pix  # registers "pix2pix"

  tfds.load("pix2pix/facades", download_and_prepare_kwargs={
      "download_config": tfds.download.DownloadConfig(manual_dir="/data/archives")})

``load_split`` gives the ``(A, B)`` pairs of a prepared split, as the folder pipeline reads them.
"""

from __future__ import annotations

import os
import pathlib
import socket
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from pix2pix_tf.config import check_choice
from pix2pix_tf.data.layout import IMAGE_EXTENSIONS

# TensorFlow is imported in the functions that use it (TFDS loads it lazily too): an unknown
# name or a missing archive is then reported in a second, without TensorFlow's start-up lines.
if TYPE_CHECKING:
    import tensorflow as tf

URL_TEMPLATE = "http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/{name}.tar.gz"
SPLITS = ("train", "val", "test")


class Sides(NamedTuple):
    """What the halves of a dataset's images show, and the direction the paper trains."""

    a: str
    b: str
    direction: str


DATASETS: dict[str, Sides] = {
    "facades": Sides("photo", "labels", "BtoA"),
    "maps": Sides("aerial photo", "map", "AtoB"),
    "cityscapes": Sides("photo", "labels", "BtoA"),
    "edges2shoes": Sides("edges", "photo", "AtoB"),
    "edges2handbags": Sides("edges", "photo", "AtoB"),
    "night2day": Sides("night", "day", "AtoB"),
}


def archive_url(name: str) -> str:
    """Where the authors publish the archive of dataset ``name``."""
    return URL_TEMPLATE.format(name=name)


def archive_file_name(name: str) -> str:
    """The archive's file name, as ``manual_dir`` must hold it: ``<name>.tar.gz``."""
    return f"{name}.tar.gz"


def check_name(name: str) -> None:
    """ValueError listing the datasets if ``name`` is not one of them."""
    check_choice("dataset", name, DATASETS)


class Pix2pix(tfds.core.GeneratorBasedBuilder):
    """Paired images of the pix2pix paper (Isola et al., 2017): A | B side by side, split in two."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: A = left half, B = right half of each archive image, native size.",
    }
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(
            name=name,
            description=f"A = {sides.a}, B = {sides.b}; the paper trains {sides.direction}.",
        )
        for name, sides in DATASETS.items()
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = """\
    Optional. With no internet, download
    http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/<name>.tar.gz elsewhere and put it,
    under that file name, in the manual_dir folder.
    """

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict({
                "A": tfds.features.Image(shape=(None, None, 3)),
                "B": tfds.features.Image(shape=(None, None, 3)),
                "file_name": tfds.features.Text(),
            }),
            supervised_keys=("A", "B"),
            homepage="https://phillipi.github.io/pix2pix/",
            citation="""@inproceedings{isola2017image,
  title={Image-to-Image Translation with Conditional Adversarial Networks},
  author={Isola, Phillip and Zhu, Jun-Yan and Zhou, Tinghui and Efros, Alexei A},
  booktitle={CVPR}, year={2017}}""",
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        name = self.builder_config.name
        root = dl_manager.extract(_fetch_archive(name, dl_manager)) / name
        present = [split for split in SPLITS if (root / split).is_dir()]
        if not present:
            raise ValueError(f"{archive_file_name(name)}: no {'/'.join(SPLITS)} folder under {name}/")
        return {split: self._generate_examples(root / split) for split in present}

    def _generate_examples(self, folder):
        """One example per image file of an extracted split folder, keyed by its file name."""
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            a, b = split_pair(path.read_bytes())
            yield path.name, {"A": a, "B": b, "file_name": path.name}


def _fetch_archive(name: str, dl_manager: tfds.download.DownloadManager):
    """The archive in the manual folder if it is there, else downloaded (OSError naming both ways)."""
    try:
        manual_archive = dl_manager.manual_dir / archive_file_name(name)
    except AssertionError:  # TFDS's way of saying the manual folder is missing or empty
        manual_archive = None
    if manual_archive is not None and manual_archive.exists():
        return manual_archive
    url = archive_url(name)
    try:
        _check_host_resolves(url)
        return dl_manager.download(url)
    except (OSError, tfds.download.DownloadError) as error:
        raise OSError(
            f"could not download {url} ({type(error).__name__}); with no internet, put that file as "
            f"{archive_file_name(name)} in a folder and pass it as manual_dir (--manual_dir)"
        ) from error


def _check_host_resolves(url: str) -> None:
    """socket.gaierror at once if the host's name does not resolve (no network).

    TFDS retries a failed connection 10 times with exponential backoff: about 3.5 minutes before
    it reports an unresolvable host. Behind a proxy the proxy resolves names, so no check there.
    """
    if not urllib.request.getproxies():
        socket.getaddrinfo(urllib.parse.urlsplit(url).hostname, None)


def split_pair(encoded: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Decodes an A|B image file: (A, B) numpy uint8 (H, W // 2, 3), the left and right halves."""
    import tensorflow as tf

    image = tf.io.decode_image(encoded, channels=3, expand_animations=False).numpy()
    half = image.shape[1] // 2
    return image[:, :half], image[:, half : 2 * half]


def prepare(
    name: str, data_dir: str | os.PathLike | None = None, manual_dir: str | os.PathLike | None = None
) -> tfds.core.DatasetBuilder:
    """Downloads (or takes from ``manual_dir``) and prepares ``pix2pix/<name>``; returns its builder.

    Raises:
      ValueError: ``name`` is unknown.
      OSError: ``manual_dir`` lacks ``<name>.tar.gz`` (checked before any network use), or the
        download failed.
    """
    check_name(name)
    download_config = None
    if manual_dir is not None:
        manual_dir = pathlib.Path(manual_dir).expanduser()
        archive = manual_dir / archive_file_name(name)
        if not archive.is_file():
            raise OSError(f"--manual_dir: {archive} not found; download {archive_url(name)} there")
        download_config = tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    builder = tfds.builder(f"pix2pix/{name}", data_dir=_expand(data_dir))
    builder.download_and_prepare(download_config=download_config)
    return builder


def load_split(name: str, split: str, data_dir: str | None = None) -> tf.data.Dataset:
    """The ``(A, B)`` pairs of a prepared split: uint8 (H, W, 3) each, values in [0, 255].

    The halves the folder pipeline reads from an A|B file, before any jitter; in a fixed order
    (TFDS's, not file order) with a known cardinality. Raises ValueError naming the dataset and
    split if the name is unknown, the dataset is not prepared in ``data_dir`` (default: TFDS's,
    $TFDS_DATA_DIR or ~/tensorflow_datasets), or the split is not one it has.
    """
    import tensorflow as tf

    check_name(name)
    builder = tfds.builder(f"pix2pix/{name}", data_dir=_expand(data_dir))
    if not builder.is_prepared():
        raise ValueError(
            f"pix2pix/{name} is not prepared in {builder.data_dir_root}; "
            f"run: pix2pix-tf download {name}" + (f" --data_dir={data_dir}" if data_dir else "")
        )
    splits = list(builder.info.splits)
    if split not in splits:
        raise ValueError(f"pix2pix/{name} has no split {split!r}; it has: {', '.join(splits)}")
    dataset = builder.as_dataset(split=split, shuffle_files=False)
    return dataset.map(
        lambda example: (example["A"], example["B"]), num_parallel_calls=tf.data.AUTOTUNE
    )


def _expand(data_dir: str | os.PathLike | None) -> str | None:
    return None if data_dir is None else os.path.expanduser(os.fspath(data_dir))
