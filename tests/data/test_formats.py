"""Every image format a user may hand us, misnamed or not: decoded as training decodes it, or
named before the first step (data check, the pre-training scan, translate) — never a crash mid-run."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import tensorflow as tf
from conftest import animated_gif, tiny_config, write_pairs
from PIL import Image

from pix2pix_tf.data import checks, pipeline, tools
from pix2pix_tf.deploy.translator import Translator

PAIR = np.random.default_rng(0).integers(0, 256, (40, 80, 3), dtype=np.uint8)


def _encoded(kind: str) -> bytes:
    """An A|B image in format ``kind``: written by Pillow where it can, else the format's real header."""
    if kind in ("WEBP", "BMP", "TIFF", "ICO"):
        buffer = io.BytesIO()
        Image.fromarray(PAIR).save(buffer, format=kind, **({"lossless": True} if kind == "WEBP" else {}))
        return buffer.getvalue()
    return {
        "AVIF": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(200),
        "HEIC": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200),
        "PSD": b"8BPS\x00\x01" + bytes(200),
        "SVG": b'<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40"><rect width="80" height="40"/></svg>',
    }[kind]


SUPPORTED = ["WEBP", "BMP"]
UNSUPPORTED = {"TIFF": "TIFF", "ICO": "ICO", "AVIF": "AVIF", "HEIC": "HEIC", "PSD": "Photoshop (PSD)", "SVG": "SVG"}


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("kind", SUPPORTED)
def test_a_supported_format_under_another_name_trains_and_translates(kind, suffix, tmp_path):
    write_pairs(tmp_path / "data", "train", 3)
    write_pairs(tmp_path / "data", "val", 2)
    (tmp_path / "data" / "train" / f"odd{suffix}").write_bytes(_encoded(kind))
    assert tools.check_dataset(tmp_path / "data", image_size=32).problems == []
    config = tiny_config(tmp_path / "data")
    inputs, targets = next(iter(pipeline.make_dataset(config, "train", training=False, batch_size=4)))
    assert inputs.shape == targets.shape == (4, 32, 32, 3)  # the WebP decodes where training decodes it
    decoded, problem = checks.read_image(str(tmp_path / "data" / "train" / f"odd{suffix}"))
    assert problem is None and np.array_equal(np.round(decoded.numpy()).astype(np.uint8), PAIR)
    translator = Translator(lambda images: np.asarray(images), config, multiple=1)
    written = translator.translate_files([tmp_path / "data" / "train" / f"odd{suffix}"], tmp_path / "out")
    assert np.array_equal(tf.io.decode_png(tf.io.read_file(str(written[0]))).numpy(), PAIR)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_an_unsupported_format_under_an_image_name_is_named_before_training(kind, suffix, tmp_path):
    write_pairs(tmp_path / "data", "train", 3)
    write_pairs(tmp_path / "data", "val", 2)
    bad = tmp_path / "data" / "train" / f"odd{suffix}"
    bad.write_bytes(_encoded(kind))
    message = f"{UNSUPPORTED[kind]} format, which TensorFlow cannot decode"
    assert checks.read_problem(str(bad)).startswith(message)
    assert any(str(bad) == path and message in problem
               for path, problem in tools.check_dataset(tmp_path / "data", image_size=32).problems)
    with pytest.raises(ValueError, match=re.escape(f"{bad}: {message}")):
        pipeline.make_dataset(tiny_config(tmp_path / "data"), "train", training=True, batch_size=2)
    translator = Translator(lambda images: np.asarray(images), tiny_config(), multiple=1)
    with pytest.raises(ValueError, match=r"(?s)1 unreadable image\(s\) left out .*" + re.escape(f"{bad}: {message}")):
        translator.translate_files([bad], tmp_path / "out")


def test_files_of_unsupported_formats_are_named_not_silently_left_out(tmp_path, caplog):
    write_pairs(tmp_path / "data", "train", 3)
    (tmp_path / "data" / "train" / "scan.TIFF").write_bytes(_encoded("TIFF"))
    (tmp_path / "data" / "train" / "shot.HEIC").write_bytes(_encoded("HEIC"))
    (tmp_path / "data" / "train" / "UPPER.PNG").write_bytes(tf.io.encode_png(PAIR).numpy())
    report = tools.check_dataset(tmp_path / "data", image_size=32)
    assert sorted(path.rsplit("/", 1)[1] for path, _ in report.problems) == ["scan.TIFF", "shot.HEIC"]
    assert report.pairs_per_split["train"] == 4  # .PNG in capitals is an image like any other
    with caplog.at_level("WARNING"):
        assert pipeline.count_examples(tiny_config(tmp_path / "data"), "train") == 4
    assert "scan.TIFF (TIFF)" in caplog.text and "shot.HEIC (HEIC)" in caplog.text


def test_an_animated_gif_counts_every_frame_against_the_pixel_limit_before_decoding(tmp_path, monkeypatch):
    """TensorFlow's decoder reads every frame of a GIF before keeping the first: 3 frames of 640 x 640
    are 1.2 megapixels to decode, refused by a 1 megapixel limit that two such frames are within."""
    monkeypatch.setattr(checks, "MAX_PIXELS", 1_000_000)
    (tmp_path / "three.gif").write_bytes(animated_gif(3, 640))
    (tmp_path / "two.gif").write_bytes(animated_gif(2, 640))
    assert checks.read_problem(str(tmp_path / "three.gif")) == (
        "declares 3 frames of 640 x 640 pixels, more than the 1 megapixel limit")
    assert checks.read_problem(str(tmp_path / "two.gif")) is None
    assert checks.gif_frames(animated_gif(3, 64)) == 3
