"""Finding the files a dataset cannot use, before any training step runs."""

from __future__ import annotations

import concurrent.futures
import os
import struct

import tensorflow as tf
from absl import logging

from pix2pix_tf import images
from pix2pix_tf.config import TASKS
from pix2pix_tf.files import op_error_text, printable

# Images declaring more pixels than this are refused before decoding: a 30000 x 30000 header
# would make the decoder allocate 2.7 GB whatever the file really holds. Every frame of an
# animated GIF counts, as the decoder reads them all before keeping the first.
MAX_PIXELS = 100_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _webp_size(header: bytes) -> tuple[int, int] | None:
    """(height, width) from a WebP file's first 30 bytes: its VP8X canvas, VP8L or VP8 frame header."""
    chunk = header[12:16]
    if chunk == b"VP8X":
        return 1 + int.from_bytes(header[27:30], "little"), 1 + int.from_bytes(header[24:27], "little")
    if chunk == b"VP8L":
        bits = int.from_bytes(header[21:25], "little")
        return 1 + ((bits >> 14) & 0x3FFF), 1 + (bits & 0x3FFF)
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", header[26:30])
        return height & 0x3FFF, width & 0x3FFF
    return None


def declared_size(data: tf.Tensor) -> tuple[int, int] | None:
    """(height, width) as a JPEG, PNG, GIF, BMP or WebP header states it, without decoding; None for other formats.

    Raises tf.errors.InvalidArgumentError for a JPEG whose header cannot be parsed.
    """
    header = data.numpy()[:30]
    if header[:4] == b"RIFF" and header[8:12] == b"WEBP" and len(header) >= 30:
        return _webp_size(header)
    if header[:3] == b"\xff\xd8\xff":
        return tuple(int(side) for side in tf.io.extract_jpeg_shape(data)[:2])
    if header[:8] == PNG_SIGNATURE and len(header) >= 24:
        width, height = struct.unpack(">II", header[16:24])
    elif header[:6] in (b"GIF87a", b"GIF89a") and len(header) >= 10:
        width, height = struct.unpack("<HH", header[6:10])
    elif header[:2] == b"BM" and len(header) >= 26:
        width, height = (abs(side) for side in struct.unpack("<ii", header[18:26]))
    else:
        return None
    return height, width


def _after_sub_blocks(data: bytes, position: int) -> int:
    """The position after the GIF data sub-blocks starting at ``position`` (each a length byte and
    that many bytes, the last of length 0), or past the end of ``data`` when they are cut off."""
    while position < len(data):
        length = data[position]
        position += 1 + length
        if length == 0:
            break
    return position


def _colour_table_bytes(flags: int) -> int:
    """The bytes of the colour table a GIF screen or image descriptor's flags byte announces."""
    return 3 * 2 ** ((flags & 0x07) + 1) if flags & 0x80 else 0


def gif_frames(data: bytes) -> int:
    """The frames (image descriptors) of the GIF ``data``, counted by walking its blocks without
    decoding: TensorFlow's decoder reads every frame of an animated GIF into memory, each up to the
    screen's size, before it keeps the first. The walk stops at the trailer or where the blocks stop
    making sense (the decoder refuses such a file itself)."""
    if len(data) < 13:  # no logical screen descriptor
        return 0
    position, frames = 13 + _colour_table_bytes(data[10]), 0
    while position < len(data):
        if data[position] == 0x21:  # an extension: introducer, label, sub-blocks
            position = _after_sub_blocks(data, position + 2)
        elif data[position] == 0x2C and position + 10 <= len(data):  # 10 bytes, a colour table, LZW code size
            frames += 1
            position = _after_sub_blocks(data, position + 11 + _colour_table_bytes(data[position + 9]))
        else:  # the trailer (0x3B), or something no decoder reads on from
            break
    return frames


def pixels_beyond(encoded: bytes, size: tuple[int, int] | None, limit: int) -> str | None:
    """The pixels the decoder would allocate for the image file ``encoded``, whose header declares
    ``size`` (``declared_size``), when more than ``limit`` ("6000 x 5000 pixels", "150 frames of
    4000 x 4000 pixels": a GIF's frames are counted from its blocks), all before decoding; None
    within ``limit`` or when ``size`` is None (a format whose size the header does not give)."""
    height, width = size or (0, 0)
    frames = max(gif_frames(encoded), 1) if encoded[:3] == b"GIF" else 1
    if frames * height * width <= limit:
        return None
    return f"{width} x {height} pixels" if frames == 1 else f"{frames} frames of {width} x {height} pixels"


# Formats people keep images in that TensorFlow does not decode, by the bytes they start with.
_UNSUPPORTED_SIGNATURES = (
    (b"II*\x00", 0, "TIFF"), (b"MM\x00*", 0, "TIFF"), (b"8BPS", 0, "Photoshop (PSD)"),
    (b"\x00\x00\x01\x00", 0, "ICO"), (b"ftypavif", 4, "AVIF"), (b"ftypavis", 4, "AVIF"),
    (b"ftypheic", 4, "HEIC"), (b"ftypheix", 4, "HEIC"), (b"ftypmif1", 4, "HEIF"), (b"ftypmsf1", 4, "HEIF"),
)


def unsupported_format(header: bytes) -> str | None:
    """The name of an image format TensorFlow cannot decode that ``header`` (a file's first bytes) is, or None."""
    for signature, offset, name in _UNSUPPORTED_SIGNATURES:
        if header[offset:offset + len(signature)] == signature:
            return name
    text = header.lstrip()[:5].lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "SVG"
    return None


def read_image(path: str, pixels: bool = False) -> tuple[tf.Tensor | None, str | None]:
    """``path`` decoded as training decodes it (``images.decode_bytes``: float32 (H, W, 3) in
    [0, 255]; with ``pixels``, ``images.decode_pixels``: uint8) and None; or None and why it
    cannot be used as an image.

    Problems: missing or unreadable (including dangling or looping links), empty, more than
    ``MAX_PIXELS`` declared in its header (all the frames of an animated GIF together), truncated,
    a format TensorFlow cannot decode (named where its header tells it: TIFF, HEIC, AVIF, PSD, ICO,
    SVG), not an image at all, or a name that is not UTF-8 (TensorFlow's file names are UTF-8).
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # a name in another encoding (Latin-1 from an old archive) reaches Python escaped
        return None, "its name is not UTF-8, which TensorFlow's file reading needs; rename the file"
    try:
        if os.path.getsize(path) == 0:
            return None, "empty file (0 bytes)"
        data = tf.io.read_file(path)
        encoded = data.numpy()
        beyond = pixels_beyond(encoded, declared_size(data), MAX_PIXELS)
        if beyond:
            return None, f"declares {beyond}, more than the {MAX_PIXELS // 10**6} megapixel limit"
        unsupported = unsupported_format(encoded[:64])
        if unsupported:
            return None, f"{unsupported} format, which TensorFlow cannot decode; convert it to PNG or JPEG"
        return (images.decode_pixels(data) if pixels else images.decode_bytes(data)), None
    except (tf.errors.OpError, OSError) as error:
        return None, f"unreadable: {op_error_text(error)}"


def read_problem(path: str) -> str | None:
    """Why ``path`` cannot be used as an image (see ``read_image``), or None."""
    return read_image(path, pixels=True)[1]


def inspect(path: str) -> tuple[str | None, tuple[int, int] | None]:
    """(why ``path`` cannot be used as an image, None) or (None, its (height, width) in pixels)."""
    pixels, problem = read_image(path, pixels=True)  # decoded by training's decoder, once, at uint8
    return problem, None if problem else (int(pixels.shape[0]), int(pixels.shape[1]))


def high_bit_depth(path: str) -> bool:
    """Whether ``path`` is a PNG of 16 bits per channel (its header says so), whose precision only a
    float decoding keeps. False for other files and for files that cannot be read."""
    try:
        with open(path, "rb") as file:
            header = file.read(25)
    except OSError:
        return False
    return len(header) == 25 and header[:8] == PNG_SIGNATURE and header[24] == 16


# Verdicts by (path, size, modification time): a run lists a split more than once (to count it,
# then to read it), and a changed file gets looked at again.
_verdicts: dict[tuple[str, int, int], tuple[str | None, tuple[int, int] | None]] = {}


def _key(path: str) -> tuple[str, int, int]:
    try:
        status = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, status.st_size, status.st_mtime_ns)


def inspect_all(paths: list[str], workers: int = 4) -> dict[str, tuple[str | None, tuple[int, int] | None]]:
    """``inspect`` of every path, decoding in parallel threads, once per file version."""
    keys = {path: _key(path) for path in paths}
    unseen = list({path for path in paths if keys[path] not in _verdicts})
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for path, verdict in zip(unseen, pool.map(inspect, unseen)):
            _verdicts[keys[path]] = verdict
    return {path: _verdicts[keys[path]] for path in paths}


def scan(paths: list[str], workers: int = 4) -> dict[str, str]:
    """{path: problem} for every file that does not decode; decodes in parallel threads, once per file version."""
    return {path: problem for path, (problem, _) in inspect_all(paths, workers).items() if problem}


def side_by_side_finding(height: int, width: int, preprocess: str) -> tuple[str, str] | None:
    """("problem" or "warning", why) when a file of ``height`` x ``width`` px is not the two squares
    side by side (A|B) that training cuts it into; a warning only for the modes that keep each
    image's aspect ratio (``preprocess`` scale_width, scale_width_and_crop, none)."""
    if width in (2 * height, 2 * height + 1):
        return None
    kind = "warning" if preprocess in ("scale_width", "scale_width_and_crop", "none") else "problem"
    return kind, (f"{width}x{height} px is not two squares side by side (A|B): "
                  f"the width should be 2 x height = {2 * height}")


def geometry_problem(shape: tuple[int, int], side_by_side: bool, task: str = "none") -> str | None:
    """Why an image of ``shape`` (height, width) px cannot be trained on at all, or None: an A|B
    file (``side_by_side``) too narrow to split into two halves, or a photo smaller than ``--task``
    needs. Training would crash at the step that reads it, in every ``--preprocess`` mode."""
    from pix2pix_tf.data import tasks

    height, width = shape
    if side_by_side and width < 2:
        return f"{width}x{height} px cannot be split into A and B halves (an A|B file needs a width of at least 2 px)"
    minimum = tasks.minimum_side(task)
    if min(height, width) < minimum:
        return f"{width}x{height} px is smaller than the {minimum} px per side --task={task} needs"
    return None


# Said when no A|B file of a split is two squares side by side: the files are most likely photos.
PHOTOS_HINT = (f"these look like single photos, not A|B pairs. To train on plain photos, pass --task={'|'.join(TASKS)} "
               "(pairs made from each photo); to pair two folders of matching files, use A/ and B/ folders "
               "or pix2pix-tf data combine")


def usable(
    a: list[str], b: list[str] | None, skip_bad: bool, preprocess: str | None = None, task: str = "none"
) -> tuple[list[str], list[str] | None]:
    """The (A, B) file lists without unusable files: those that do not decode, those
    ``geometry_problem`` refuses (``b`` None: ``a`` holds A|B files, or photos for ``task``) and,
    for A|B files when ``preprocess`` is given, those ``side_by_side_finding`` calls a problem (the
    findings ``pix2pix-tf data check`` prints).

    Raises ValueError naming every unusable file and why unless ``skip_bad``; then drops those
    pairs and logs how many.
    """
    found = inspect_all(a + (b or []))
    side_by_side = set(a) if b is None and task == "none" else set()
    problems = {path: problem or geometry_problem(shape, path in side_by_side, task)
                for path, (problem, shape) in found.items()}
    problems = {path: problem for path, problem in problems.items() if problem}
    not_pairs = {}
    if b is None and preprocess is not None:
        findings = {path: side_by_side_finding(*shape, preprocess) for path, (_, shape) in found.items()
                    if shape and path not in problems}
        not_pairs = {path: finding[1] for path, finding in findings.items() if finding and finding[0] == "problem"}
        problems.update(not_pairs)
    if not problems:
        return a, b
    hint = f"\n{PHOTOS_HINT}" if len(not_pairs) == len(a) else ""
    if not skip_bad:
        lines = [f"{printable(path)}: {problem}" for path, problem in sorted(problems.items())]
        raise ValueError(
            f"{len(problems)} unusable image(s); fix or remove them, or pass --skip_bad_images:\n  "
            + "\n  ".join(lines) + hint
        )
    keep = [index for index in range(len(a)) if a[index] not in problems and (b is None or b[index] not in problems)]
    logging.warning("skipping %d unusable image(s) of %d (--skip_bad_images)", len(a) - len(keep), len(a))
    if not keep:
        first = min(problems)
        raise ValueError(f"every image is unusable; nothing to train on ({printable(first)}: {problems[first]}){hint}")
    return [a[index] for index in keep], None if b is None else [b[index] for index in keep]
