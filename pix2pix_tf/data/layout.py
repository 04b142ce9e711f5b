"""Where the images of a paired dataset are on disk.

Three layouts are recognised, per split:

- ``root/SPLIT/*.jpg``: each file holds A | B side by side (the pix2pix layout);
- ``root/SPLIT/A/*`` and ``root/SPLIT/B/*``: separate files matched by file stem;
- ``root/A/*`` and ``root/B/*`` with no split folders: all of it is the ``train`` split.

Plain photos (for ``--task``) are ``root/SPLIT/*`` or, with no split folders, ``root/*`` (train).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

from absl import logging

from pix2pix_tf.config import TASKS

# Image files read, in any letter case (.JPG too). Any file is decoded by its content, not its name.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# Image files TensorFlow cannot decode: named in a warning (and by data check), never left out unsaid.
UNSUPPORTED_EXTENSIONS = {".tif": "TIFF", ".tiff": "TIFF", ".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF",
                          ".psd": "Photoshop (PSD)", ".svg": "SVG", ".ico": "ICO"}
_warned_folders: set[pathlib.Path] = set()


@dataclasses.dataclass(frozen=True)
class PairFiles:
    """The files of a split: ``a`` alone when each holds A|B side by side, else ``a`` and ``b``."""

    a: list[str]
    b: list[str] | None = None

    @property
    def side_by_side(self) -> bool:
        return self.b is None

    def __len__(self) -> int:
        return len(self.a)


def is_image_name(path: pathlib.Path) -> bool:
    """An entry named like an image and not a folder. Dangling or looping links count, so that
    reading them reports them instead of leaving them out unsaid."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.is_dir()


def unsupported_files(folder: pathlib.Path) -> list[tuple[str, str]]:
    """(path, format) of each file in ``folder`` named as an image format TensorFlow cannot decode."""
    return sorted((str(path), UNSUPPORTED_EXTENSIONS[path.suffix.lower()]) for path in folder.iterdir()
                  if path.suffix.lower() in UNSUPPORTED_EXTENSIONS and not path.is_dir())


def _images(folder: pathlib.Path) -> list[pathlib.Path]:
    """The image files of ``folder``, sorted; files of unsupported formats are named once in a warning."""
    unsupported = unsupported_files(folder)
    if unsupported and folder not in _warned_folders:
        _warned_folders.add(folder)
        logging.warning("leaving out %d file(s) in %s that TensorFlow cannot decode (convert them to PNG or JPEG): %s",
                        len(unsupported), folder, ", ".join(f"{pathlib.Path(path).name} ({kind})"
                                                            for path, kind in unsupported))
    return sorted(path for path in folder.iterdir() if is_image_name(path))


def _check_root(root: pathlib.Path) -> None:
    if not root.is_dir():
        raise ValueError(f"--data: {root} is not a folder")


def _by_stem(folder: pathlib.Path) -> tuple[dict[str, pathlib.Path], list[tuple[str, str]]]:
    """{stem: first file with it}, and (first, other) for each further file with a stem already seen."""
    by_stem: dict[str, pathlib.Path] = {}
    clashes: list[tuple[str, str]] = []
    for path in _images(folder):
        if path.stem in by_stem:
            clashes.append((str(by_stem[path.stem]), str(path)))
        else:
            by_stem[path.stem] = path
    return by_stem, clashes


@dataclasses.dataclass(frozen=True)
class StemMatch:
    """The images of an A and a B folder matched by file stem, mismatches listed rather than raised."""

    pairs: list[tuple[str, str]]  # (A file, B file), in stem order
    only_a: list[str]  # A files with no B file of the same stem
    only_b: list[str]  # B files with no A file of the same stem
    clashes: list[tuple[str, str]]  # (kept, other): two files of one folder sharing a stem; A's first


def match_stems(a_folder: str | os.PathLike, b_folder: str | os.PathLike) -> StemMatch:
    """Pairs the images of two folders by stem; never raises for unmatched or clashing files."""
    a_files, a_clashes = _by_stem(pathlib.Path(a_folder))
    b_files, b_clashes = _by_stem(pathlib.Path(b_folder))
    return StemMatch(
        pairs=[(str(a_files[stem]), str(b_files[stem])) for stem in sorted(a_files.keys() & b_files)],
        only_a=[str(a_files[stem]) for stem in sorted(a_files.keys() - b_files)],
        only_b=[str(b_files[stem]) for stem in sorted(b_files.keys() - a_files)],
        clashes=a_clashes + b_clashes,
    )


def _match_by_stem(a_folder: pathlib.Path, b_folder: pathlib.Path) -> PairFiles:
    """A and B files paired by stem; ValueError naming every file without a partner."""
    match = match_stems(a_folder, b_folder)
    if match.clashes:
        kept, other = match.clashes[0]
        raise ValueError(f"--data: {kept} and {other} share the stem {pathlib.Path(other).stem!r}; "
                         "A and B files are matched by stem, so each must be unique")
    unmatched = [f"{path} has no match in {b_folder}" for path in match.only_a]
    unmatched += [f"{path} has no match in {a_folder}" for path in match.only_b]
    if unmatched:
        raise ValueError(f"--data: {len(unmatched)} unmatched file(s):\n  " + "\n  ".join(unmatched))
    if not match.pairs:
        raise ValueError(f"--data: {a_folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return PairFiles([a for a, _ in match.pairs], [b for _, b in match.pairs])


def photos_hint(root: pathlib.Path) -> str:
    """How to use ``root`` when it holds images but no split folders (plain photos, most likely), else ""."""
    photos = sum(1 for path in root.iterdir() if is_image_name(path))
    if not photos:
        return ""
    return (f"; it holds {photos} image(s) directly: to train on plain photos pass --task={'|'.join(TASKS)}, "
            "or put A|B pairs in train/ and val/")


def _split_folder(root: pathlib.Path, split: str, hint: str = "") -> pathlib.Path:
    folder = root / split
    if not folder.is_dir():
        present = sorted(child.name for child in root.iterdir() if child.is_dir() and not child.name.startswith("."))
        raise ValueError(f"--data: {root} has no {split!r} split (found folders: {', '.join(present) or 'none'})"
                         + hint)
    return folder


def find_pairs(root: str | os.PathLike, split: str) -> PairFiles:
    """The pair files of one split in any of the three layouts; ValueError naming what is wrong."""
    root = pathlib.Path(root).expanduser()
    _check_root(root)
    if (root / "A").is_dir() and (root / "B").is_dir() and not (root / split).is_dir():
        if split != "train":
            raise ValueError(f"--data: {root} holds A/ and B/ without split folders, which serve as "
                             f"'train' only; there is no {split!r} split")
        return _match_by_stem(root / "A", root / "B")
    folder = _split_folder(root, split, "" if (root / split).is_dir() else photos_hint(root))
    if (folder / "A").is_dir() and (folder / "B").is_dir():
        return _match_by_stem(folder / "A", folder / "B")
    paths = _images(folder)
    if not paths:
        raise ValueError(f"--data: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return PairFiles([str(path) for path in paths])


def find_photos(root: str | os.PathLike, split: str) -> list[str]:
    """Plain photos of one split: root/split/*, or root/* as train when there are no split folders."""
    root = pathlib.Path(root).expanduser()
    _check_root(root)
    folder = root / split
    if not folder.is_dir():
        if split != "train" or not _images(root):
            _split_folder(root, split)  # raises, naming the folders that are there
        folder = root
    paths = _images(folder)
    if not paths:
        raise ValueError(f"--data: {folder} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    return [str(path) for path in paths]


def has_split(root: str | os.PathLike, split: str) -> bool:
    """Whether ``root`` has a ``split`` folder."""
    return (pathlib.Path(root).expanduser() / split).is_dir()
