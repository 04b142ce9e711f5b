"""Dataset tools: every problem of a paired dataset in one report, and A|B files made from A/ and B/.

``check_dataset`` reads a dataset in any layout of ``data.layout`` the way training will, and lists
every file it could not use, instead of stopping at the first one as training does. ``combine``
writes the pix2pix layout (A and B side by side in one file) from separate A and B folders.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import pathlib

import tensorflow as tf
from absl import logging

from pix2pix_tf.config import COMBINE_FORMATS, DataConfig, check_choice
from pix2pix_tf.data import checks, layout
from pix2pix_tf.files import printable

DEFAULT_SPLITS = ("train", "val", "test")
# Enlarging more than this (to reach the resize target) leaves training inputs mostly interpolation.
UPSAMPLE_LIMIT = 2.0

_WORKERS = 4


@dataclasses.dataclass
class CheckReport:
    """What ``check_dataset`` found.

    problems: (path, problem), in path order; each one makes a pair unusable or a split missing.
    warnings: (path, warning), in path order; the pair is usable, but training will see little of it.
    pairs_per_split: {split: pairs with no problem}, for each split looked at.
    """

    problems: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    warnings: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    pairs_per_split: dict[str, int] = dataclasses.field(default_factory=dict)

    def lines(self) -> list[str]:
        """``PATH: problem`` and ``PATH: warning: ...`` lines in path order, then a one-line summary."""
        findings = self.problems + [(path, f"warning: {warning}") for path, warning in self.warnings]
        lines = [f"{printable(path)}: {finding}" for path, finding in sorted(findings)]
        pairs = ", ".join(f"{split} {count}" for split, count in self.pairs_per_split.items()) or "none"
        files = len({path for path, _ in self.problems})
        summary = f"{len(self.problems)} problems in {files} files" if self.problems else "no problems found"
        warned = f"; {len(self.warnings)} warnings" if self.warnings else ""
        return lines + [f"{summary}{warned}; pairs OK per split: {pairs}"]


def _locate_splits(root: pathlib.Path, splits: list[str] | None):
    """({split: (A|B folder,) or (A folder, B folder)}, problems of the splits that are missing)."""
    flat = (root / "A").is_dir() and (root / "B").is_dir()  # A/ and B/ with no split folders: train
    present = [name for name in DEFAULT_SPLITS if (root / name).is_dir() or (name == "train" and flat)]
    names = list(splits or present)
    located, problems = {}, []
    for split in names:
        folder = root / split
        if folder.is_dir():
            separate = (folder / "A").is_dir() and (folder / "B").is_dir()
            located[split] = (folder / "A", folder / "B") if separate else (folder,)
        elif split == "train" and flat:
            located[split] = (root / "A", root / "B")
        else:
            hint = "; A/ and B/ without split folders serve as train only" if flat else ""
            problems.append((str(folder), f"missing split {split!r} (asked for by --splits){hint}"))
    if not names:
        problems.append((str(root), f"no split folders ({', '.join(DEFAULT_SPLITS)}) and no A/ and B/ folders"
                                    + layout.photos_hint(root)))
    return located, problems


def _split_pairs(root: pathlib.Path, split: str, folders: tuple[pathlib.Path, ...]):
    """(pairs: (A|B file,) or (A file, B file) each, problems of files that cannot be paired)."""
    if len(folders) == 1:
        try:
            return [(path,) for path in layout.find_pairs(root, split).a], []
        except ValueError:  # the only error left for a folder of A|B files: it holds no images
            folder = folders[0]
            one_side = (folder / "A").is_dir() != (folder / "B").is_dir()
            hint = " (it has one of A/ and B/ but not both)" if one_side else ""
            return [], [(str(folder), f"empty split: no images ({', '.join(layout.IMAGE_EXTENSIONS)}){hint}")]
    a_folder, b_folder = folders
    match = layout.match_stems(a_folder, b_folder)
    problems = [(other, f"shares its stem with {kept}; A and B files are matched by stem")
                for kept, other in match.clashes]
    problems += [(path, f"no file with this stem in {b_folder}") for path in match.only_a]
    problems += [(path, f"no file with this stem in {a_folder}") for path in match.only_b]
    if not match.pairs and not problems:
        problems.append((str(a_folder.parent), "empty split: no images in A/ and B/"))
    return match.pairs, problems


def _size_finding(height: int, width: int, config: DataConfig) -> tuple[str, str] | None:
    """("problem" or "warning", message) about one side of a pair of (height, width) pixels, or None."""
    size, load, mode = config.image_size, config.resolved_load_size, config.preprocess
    if mode == "crop" and min(height, width) < size:
        return "problem", (f"{width}x{height} px per side is smaller than the {size} px crop of "
                           "--preprocess=crop (it would be enlarged, not cropped)")
    upsample = {"resize_and_crop": load / min(height, width), "scale_width": load / width,
                "scale_width_and_crop": load / width}.get(mode, 1.0)
    if upsample > UPSAMPLE_LIMIT:
        return "warning", (f"{width}x{height} px per side is enlarged {upsample:.1f}x to the {load} px "
                           f"of --preprocess={mode} (blurry inputs; a smaller --image_size fits it)")
    return None


def _pair_findings(
    pair: tuple[str, ...], shapes: dict[str, tuple[int, int]], config: DataConfig
) -> tuple[str, str, str] | None:
    """(kind, path, message): the first reason the pair is unusable (or worth a warning), or None."""
    for path in pair:
        problem = checks.geometry_problem(shapes[path], len(pair) == 1)
        if problem:
            return "problem", path, problem  # training refuses it too
    if len(pair) == 1:
        height, width = shapes[pair[0]]
        finding = checks.side_by_side_finding(height, width, config.preprocess)  # what training refuses too
        if finding:
            return finding[0], pair[0], finding[1]
        width //= 2
    else:
        (height, width), b_shape = shapes[pair[0]], shapes[pair[1]]
        if b_shape != (height, width):
            return "problem", pair[1], (f"{b_shape[1]}x{b_shape[0]} px differs from its A file {pair[0]} "
                                        f"({width}x{height} px); training would resize B to A's size")
    finding = _size_finding(height, width, config)
    return None if finding is None else (finding[0], pair[0], finding[1])


def check_dataset(
    root: str | os.PathLike, splits: list[str] | None = None, image_size: int = 256,
    preprocess: str = "resize_and_crop", load_size: int = 0,
) -> CheckReport:
    """Every problem of a paired dataset at once, as training with these settings would meet them.

    Args:
      root: the dataset folder, in any layout of ``data.layout``.
      splits: the splits to check, each a problem when missing; None: those of train, val, test present.
      image_size, preprocess, load_size: as in ``DataConfig``; they decide which sizes are too small
        (a problem for ``crop``) or enlarged more than ``UPSAMPLE_LIMIT`` times (a warning).
    Raises:
      ValueError: ``root`` is not a folder, or a setting is out of range.
    """
    root = pathlib.Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"--data: {root} is not a folder")
    try:
        config = DataConfig(image_size=image_size, load_size=load_size, preprocess=preprocess)
    except ValueError as error:
        raise ValueError(f"--{error}") from error
    located, problems = _locate_splits(root, splits)
    pairs_by_split = {}
    for split, folders in located.items():
        pairs_by_split[split], split_problems = _split_pairs(root, split, folders)
        problems += split_problems
        problems += [(path, f"{kind} format, which TensorFlow cannot decode: training leaves it out; "
                            "convert it to PNG or JPEG")
                     for folder in folders for path, kind in layout.unsupported_files(folder)]
    paths = [path for pairs in pairs_by_split.values() for pair in pairs for path in pair]
    inspected = checks.inspect_all(paths, _WORKERS)
    problems += [(path, problem) for path, (problem, _) in inspected.items() if problem]
    shapes = {path: shape for path, (_, shape) in inspected.items() if shape}
    report = CheckReport()
    for split, pairs in pairs_by_split.items():
        readable = [pair for pair in pairs if all(path in shapes for path in pair)]
        findings = [_pair_findings(pair, shapes, config) for pair in readable]
        findings = [finding for finding in findings if finding is not None]
        problems += [(path, message) for kind, path, message in findings if kind == "problem"]
        report.warnings += [(path, message) for kind, path, message in findings if kind == "warning"]
        report.pairs_per_split[split] = len(readable) - sum(kind == "problem" for kind, _, _ in findings)
    report.problems = sorted(problems)
    report.warnings.sort()
    return report


def _subfolders(folder: pathlib.Path) -> list[str]:
    return sorted(child.name for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))


def _combine_plan(
    a_dir: pathlib.Path, b_dir: pathlib.Path, skip_unmatched: bool
) -> dict[str, list[tuple[str, str]]]:
    """{split: (A file, B file) pairs}; ValueError naming every file that stops the combination."""
    a_splits, b_splits = _subfolders(a_dir), _subfolders(b_dir)
    if a_splits and a_splits == b_splits:  # a/train + b/train -> out/train
        folders = {split: (a_dir / split, b_dir / split) for split in a_splits}
    else:
        folders = {"train": (a_dir, b_dir)}
    plan, errors, unmatched = {}, [], []
    for split, (a_folder, b_folder) in folders.items():
        match = layout.match_stems(a_folder, b_folder)
        errors += [f"{other} shares its stem with {kept}" for kept, other in match.clashes]
        unmatched += [f"{path} has no match in {b_folder}" for path in match.only_a]
        unmatched += [f"{path} has no match in {a_folder}" for path in match.only_b]
        plan[split] = match.pairs
    if unmatched and skip_unmatched:
        logging.warning("skipping %d unmatched file(s) (--skip_unmatched):\n  %s",
                        len(unmatched), "\n  ".join(unmatched))
    elif unmatched:
        errors += unmatched
    unreadable = checks.scan([path for pairs in plan.values() for pair in pairs for path in pair], _WORKERS)
    errors = [f"{printable(path)}: {problem}" for path, problem in sorted(unreadable.items())] + errors
    if errors:
        stopped_by_unmatched = unmatched and not skip_unmatched
        hint = "; pass --skip_unmatched to combine the matched files only" if stopped_by_unmatched else ""
        raise ValueError(f"{len(errors)} problem(s), nothing written{hint}:\n  " + "\n  ".join(errors))
    if not any(plan.values()):
        found = f" (split folders: A {', '.join(a_splits) or 'none'}, B {', '.join(b_splits) or 'none'})"
        raise ValueError(f"{a_dir} and {b_dir} hold no images with the same stem{found}")
    return plan


def _write_pair(a_path: str, b_path: str, out_path: pathlib.Path, image_format: str) -> bool:
    """Writes A | B (uint8 RGB, B resized to A's size) to ``out_path``; True when B was resized."""
    a, b = (tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
            for path in (a_path, b_path))
    resized = a.shape[:2] != b.shape[:2]
    if resized:
        b = tf.image.resize(tf.cast(b, tf.float32), a.shape[:2], method="bicubic", antialias=True)
        b = tf.cast(tf.clip_by_value(tf.round(b), 0.0, 255.0), tf.uint8)
    image = tf.concat([a, b], axis=1)  # (H, 2W, 3)
    if image_format == "jpg":  # full-resolution chroma: label maps keep crisp colour edges
        encoded = tf.io.encode_jpeg(image, quality=95, chroma_downsampling=False)
    else:
        encoded = tf.io.encode_png(image)
    temp_path = out_path.with_name(f".{out_path.name}.tmp")  # hidden: never listed as an image
    temp_path.write_bytes(encoded.numpy())
    os.replace(temp_path, out_path)  # a crash leaves no half-written image
    return resized


def combine(
    a_dir: str | os.PathLike, b_dir: str | os.PathLike, out_dir: str | os.PathLike,
    image_format: str = "jpg", skip_unmatched: bool = False,
) -> int:
    """Writes ``out_dir/SPLIT/STEM.jpg`` (or .png) holding A | B for every stem in both folders.

    Splits are kept when ``a_dir`` and ``b_dir`` have the same split subfolders, else everything
    goes to ``out_dir/train``. B is resized to A's size (bicubic) where they differ, with a warning
    saying how often. JPEGs are quality 95 without chroma subsampling.

    Returns:
      The number of files written.
    Raises:
      ValueError: a folder is missing, or a file is unreadable, shares its stem or (unless
        ``skip_unmatched``) has no partner; all are named and nothing is written.
    """
    check_choice("--format", image_format, COMBINE_FORMATS)
    a_dir, b_dir, out_dir = (pathlib.Path(path).expanduser() for path in (a_dir, b_dir, out_dir))
    for flag, folder in (("a", a_dir), ("b", b_dir)):
        if not folder.is_dir():
            raise ValueError(f"--{flag}: {folder} is not a folder")
    plan = _combine_plan(a_dir, b_dir, skip_unmatched)
    jobs = []
    for split, pairs in plan.items():
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        jobs += [(a, b, out_dir / split / f"{pathlib.Path(a).stem}.{image_format}", image_format)
                 for a, b in pairs]
        logging.info("%s: %d pairs -> %s", split, len(pairs), out_dir / split)
    with concurrent.futures.ThreadPoolExecutor(_WORKERS) as pool:
        resized = sum(pool.map(lambda job: _write_pair(*job), jobs))
    if resized:
        logging.warning("B resized to A's size (bicubic) in %d of %d pairs: their sizes differ",
                        resized, len(jobs))
    return len(jobs)
