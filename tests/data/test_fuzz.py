"""A few hundred broken inputs through the data loader, `data check` and `translate`: none crashes.

Each input is either reported (named, with a reason) or, with --skip_bad_images, skipped and
counted. The inputs come from a seeded generator, so a failure repeats.
"""

from __future__ import annotations

import os
import pathlib
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_pairs

from pix2pix_tf.data import checks, pipeline
from pix2pix_tf.data import tools as data_tools
from pix2pix_tf.deploy.inputs import find_inputs
from pix2pix_tf.deploy.translator import Translator


def _png_declaring(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def make_fuzz_inputs(folder: pathlib.Path, count: int = 300, seed: int = 0) -> dict[str, bool]:
    """Writes ``count`` broken or odd inputs into ``folder``; returns {name: whether it should decode}."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (24, 48, 3), dtype=np.uint8)
    jpeg, png = tf.io.encode_jpeg(pixels).numpy(), tf.io.encode_png(pixels).numpy()
    expected: dict[str, bool] = {}
    for index in range(count):
        kind = index % 9
        name = f"{index:03d}"
        if kind == 0:
            path, data, ok = folder / f"{name}.jpg", rng.bytes(int(rng.integers(1, 4000))), False
        elif kind == 1:
            path, data, ok = folder / f"{name}.jpg", jpeg[: int(rng.integers(1, len(jpeg) // 2))], False
        elif kind == 2:
            path, data, ok = folder / f"{name}.png", png[: int(rng.integers(1, len(png) - 12))], False
        elif kind == 3:
            path, data, ok = folder / f"{name}.png", b"", False
        elif kind == 4:
            side = int(rng.integers(20_000, 60_000))
            path, data, ok = folder / f"{name}.png", _png_declaring(side, side), False
        elif kind == 5:  # wrong extension, real content: decoders sniff the content, so it is fine
            path, data, ok = folder / f"{name}.png", jpeg, True
        elif kind == 6:
            path, data, ok = folder / f"{name}.gif", b"GIF89a" + struct.pack("<HH", 65535, 65535) + rng.bytes(30), False
        elif kind == 7:  # a link to itself: reading it loops
            path = folder / f"{name}.png"
            os.symlink(path.name, path)
            expected[path.name] = False
            continue
        else:
            path, data, ok = folder / f"{name}.bmp", b"BM" + rng.bytes(int(rng.integers(0, 200))), False
        path.write_bytes(data)
        expected[path.name] = ok
    return expected


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> tuple[pathlib.Path, dict[str, bool]]:
    root = tmp_path_factory.mktemp("fuzz")
    write_pairs(root, "train", 4, size=32, seed=5)  # a few good pairs among the broken files
    expected = make_fuzz_inputs(root / "train")
    expected.update({f"{index}.png": True for index in range(4)})
    return root, expected


def test_every_input_gets_a_verdict_and_the_right_one(fuzz_folder):
    root, expected = fuzz_folder
    for name, ok in expected.items():
        problem = checks.read_problem(str(root / "train" / name))
        assert (problem is None) == ok, (name, problem)
    problems = {pathlib.Path(path).name: problem
                for path, problem in checks.scan([str(root / "train" / name) for name in expected]).items()}
    assert all("megapixel limit" in problems[name] for name in expected if name.endswith(".gif"))
    assert "Too many levels of symbolic links" in problems["007.png"]


def test_data_check_lists_every_broken_file_without_crashing(fuzz_folder):
    root, expected = fuzz_folder
    report = data_tools.check_dataset(root, splits=["train"], image_size=32)
    named = {pathlib.Path(path).name for path, _ in report.problems}
    assert {name for name, ok in expected.items() if not ok} <= named


def test_loader_refuses_naming_the_files_or_skips_them(fuzz_folder):
    root, expected = fuzz_folder
    with pytest.raises(ValueError, match="unusable image"):
        pipeline.make_dataset(tiny_config(root), "train", training=True, batch_size=2)
    config = tiny_config(root)
    config = config.replace(data=config.data.__class__(**{**config.data.__dict__, "skip_bad_images": True}))
    assert pipeline.count_examples(config, "train") == sum(expected.values())
    inputs, targets = next(iter(pipeline.make_dataset(config, "train", training=True, batch_size=2)))
    assert inputs.shape == targets.shape == (2, 32, 32, 3)


def test_translate_skips_the_broken_files_and_writes_the_rest(fuzz_folder, tmp_path):
    root, expected = fuzz_folder
    config = tiny_config()
    translator = Translator(lambda images: np.zeros(images.shape[:3] + (3,), np.float32), config, multiple=1)
    images, _ = find_inputs(root / "train")
    assert len(images) == len(expected)  # looping links are listed, to be reported
    with pytest.raises(ValueError, match=r"\d+ unreadable image"):
        translator.translate_files(images, tmp_path / "refused")
    written = translator.translate_files(images, tmp_path / "out", skip_bad=True)
    assert sorted(path.name for path in written) == sorted(
        f"{pathlib.Path(name).stem}.png" for name, ok in expected.items() if ok)
