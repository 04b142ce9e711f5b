"""Every way users hold paired images loads into the same element spec; bad input is named."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.config import Config
from pix2pix_tf.data import pipeline
from pix2pix_tf.images import network_stride

LEFT, RIGHT = (200, 40, 40), (40, 40, 200)  # A is red-ish, B blue-ish


def _pair_image(height: int = 40, width: int = 40) -> np.ndarray:
    image = np.zeros((height, 2 * width, 3), np.uint8)
    image[:, :width], image[:, width:] = LEFT, RIGHT
    return image


def _write(path: pathlib.Path, image: np.ndarray, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = fmt or path.suffix.lstrip(".").lower()
    if fmt == "png":
        data = tf.io.encode_png(image)
    elif fmt == "jpg":
        data = tf.io.encode_jpeg(image, quality=100, chroma_downsampling=False)
    else:
        from PIL import Image

        Image.fromarray(image.squeeze()).save(path, format={"bmp": "BMP", "gif": "GIF"}[fmt])
        return
    tf.io.write_file(str(path), data)


def _config(data, train: dict | None = None, **data_overrides) -> Config:
    config = tiny_config(data, **(train or {}))
    return config.replace(data=dict(**data_overrides)) if data_overrides else config


def _first(config: Config, split: str = "train", training: bool = False, batch_size: int = 1):
    inputs, targets = next(iter(pipeline.make_dataset(config, split, training=training, batch_size=batch_size)))
    return inputs.numpy(), targets.numpy()


def _mean_colour(images: np.ndarray) -> np.ndarray:
    return ((images + 1) * 127.5).reshape(-1, images.shape[-1]).mean(axis=0)


@pytest.mark.parametrize("extension", ["jpg", "png", "bmp", "gif"])
def test_side_by_side_files_load_in_every_format(tmp_path, extension):
    """A|B files in JPEG, PNG, BMP and GIF give A as input and B as target, in [-1, 1]."""
    _write(tmp_path / "train" / f"0.{extension}", _pair_image())
    inputs, targets = _first(_config(tmp_path))
    assert inputs.shape == targets.shape == (1, 32, 32, 3)
    np.testing.assert_allclose(_mean_colour(inputs), LEFT, atol=6)
    np.testing.assert_allclose(_mean_colour(targets), RIGHT, atol=6)


def test_direction_swaps_the_sides(tmp_path):
    _write(tmp_path / "train" / "0.png", _pair_image())
    inputs, targets = _first(_config(tmp_path, direction="BtoA"))
    np.testing.assert_allclose(_mean_colour(inputs), RIGHT, atol=1)
    np.testing.assert_allclose(_mean_colour(targets), LEFT, atol=1)


@pytest.mark.parametrize("layout", ["train/A", "A"])
def test_separate_a_and_b_folders_are_matched_by_stem(tmp_path, layout):
    """train/A + train/B, or A/ + B/ without splits (the train split), pair files by stem."""
    a_folder, b_folder = tmp_path / layout, tmp_path / layout.replace("A", "B")
    for stem, value in (("x", 10), ("y", 250)):
        _write(a_folder / f"{stem}.png", np.full((40, 40, 3), value, np.uint8))
        _write(b_folder / f"{stem}.jpg", np.full((40, 40, 3), 255 - value, np.uint8))
    inputs, targets = next(iter(pipeline.make_dataset(_config(tmp_path), "train", training=False, batch_size=2)))
    np.testing.assert_allclose((inputs.numpy() + 1) * 127.5 + (targets.numpy() + 1) * 127.5, 255, atol=3)
    assert _mean_colour(inputs.numpy()[:1])[0] == pytest.approx(10, abs=1)


def test_unmatched_stems_are_each_named(tmp_path):
    _write(tmp_path / "train" / "A" / "1.png", np.zeros((8, 8, 3), np.uint8))
    _write(tmp_path / "train" / "A" / "2.png", np.zeros((8, 8, 3), np.uint8))
    _write(tmp_path / "train" / "B" / "1.png", np.zeros((8, 8, 3), np.uint8))
    _write(tmp_path / "train" / "B" / "3.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(_config(tmp_path), "train", training=False, batch_size=1)
    assert "A/2.png has no match" in str(error.value) and "B/3.png has no match" in str(error.value)


def test_sixteen_bit_and_rgba_and_gray_inputs_come_out_in_range(tmp_path):
    """16-bit PNG keeps its scale; RGBA drops alpha; gray becomes RGB; all in [-1, 1]."""
    sixteen = np.zeros((40, 80, 3), np.uint16)
    sixteen[:, :40] = 65535
    (tmp_path / "train").mkdir()
    tf.io.write_file(str(tmp_path / "train" / "a16.png"), tf.io.encode_png(tf.constant(sixteen)))
    rgba = np.concatenate([_pair_image(), np.full((40, 80, 1), 7, np.uint8)], axis=-1)
    _write(tmp_path / "train" / "b_rgba.png", rgba)
    _write(tmp_path / "train" / "c_gray.png", np.full((40, 80, 1), 128, np.uint8))
    inputs, targets = next(iter(pipeline.make_dataset(_config(tmp_path), "train", training=False, batch_size=3)))
    inputs, targets = inputs.numpy(), targets.numpy()
    assert inputs.min() >= -1 and inputs.max() <= 1 and targets.min() >= -1 and targets.max() <= 1
    np.testing.assert_allclose(inputs[0], 1.0, atol=1e-3)  # white 16-bit half stays white
    np.testing.assert_allclose(targets[0], -1.0, atol=1e-3)
    np.testing.assert_allclose(_mean_colour(inputs[1:2]), LEFT, atol=1)
    np.testing.assert_allclose(inputs[2], 128 / 127.5 - 1, atol=2e-2)


@pytest.mark.parametrize("preprocess", ["resize_and_crop", "crop", "scale_width_and_crop", "none"])
def test_eight_bit_files_load_as_pixels_and_train_on_what_float_decoding_gives(tmp_path, preprocess):
    """8-bit files stay uint8 until resized or cropped (a 14000 x 7000 PNG is 0.3 GB a copy instead
    of 1.2 GB at float32), and the pairs they give equal those of decoding at float."""
    rng = np.random.default_rng(0)
    _write(tmp_path / "train" / "0.png", rng.integers(0, 256, (40, 80, 3), np.uint8))
    config = _config(tmp_path, {"batch_size": 1}, preprocess=preprocess)
    loaded, _ = pipeline._pairs(config, "train", tmp_path, training=True, seed=0)
    assert [spec.dtype for spec in loaded.element_spec] == [tf.uint8, tf.uint8]
    a, b = next(iter(loaded))
    seed = tf.constant([3, 4], tf.int64)
    for training in (True, False):
        from_pixels = pipeline.transform(a, b, seed, config, training)
        from_float = pipeline.transform(tf.cast(a, tf.float32), tf.cast(b, tf.float32), seed, config, training)
        for got, expected in zip(from_pixels, from_float):
            assert got.dtype == tf.float32
            np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_a_sixteen_bit_png_keeps_the_levels_between_eight_bit_ones(tmp_path):
    """A split holding a 16-bit PNG decodes at float: level 1000 of 65535 (3.89 of 255) stays 3.89,
    not 4, beside an 8-bit file."""
    sixteen = np.full((40, 80, 3), 1000, np.uint16)
    (tmp_path / "train").mkdir()
    tf.io.write_file(str(tmp_path / "train" / "a16.png"), tf.io.encode_png(tf.constant(sixteen)))
    _write(tmp_path / "train" / "b8.png", _pair_image())
    inputs, _ = _first(_config(tmp_path), batch_size=2)
    np.testing.assert_allclose(inputs[0], 1000 / 65535 * 255 / 127.5 - 1, atol=1e-4)


def test_gray_to_colour_channels(tmp_path):
    """input_channels=1 gives a 1-channel input of the A side's luminance; the target stays RGB."""
    _write(tmp_path / "train" / "0.png", _pair_image())
    config = _config(tmp_path)
    config = config.replace(model=dict(input_channels=1))
    inputs, targets = _first(config)
    assert inputs.shape[-1] == 1 and targets.shape[-1] == 3
    luminance = 0.299 * LEFT[0] + 0.587 * LEFT[1] + 0.114 * LEFT[2]
    assert _mean_colour(inputs)[0] == pytest.approx(luminance, abs=1.5)


def test_crop_and_flip_are_identical_on_both_sides(tmp_path):
    """The same random crop and mirror hit input and target: a shared pattern stays aligned."""
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    _write(tmp_path / "train" / "0.png", np.concatenate([pattern, pattern], axis=1))
    config = _config(tmp_path, preprocess="crop")
    dataset = pipeline.make_dataset(config, "train", training=True, batch_size=1, seed=3)
    crops = set()
    for inputs, targets in dataset.take(12):
        np.testing.assert_array_equal(inputs.numpy(), targets.numpy())
        crops.add(inputs.numpy().tobytes())
    assert len(crops) > 3  # the crops really were random


@pytest.mark.parametrize(
    "preprocess, size, expected",
    [
        ("resize_and_crop", (40, 40), (32, 32)),
        ("crop", (48, 48), (32, 32)),  # A|B halves must be square here, as data check says
        ("scale_width_and_crop", (40, 60), (32, 32)),
        ("scale_width", (30, 60), (32, 64)),  # width to load_size 36, height 18; padded to 32s
        ("none", (40, 70), (64, 96)),  # native 40x70, padded to the U-Net's multiple (32)
    ],
)
def test_preprocess_modes_give_the_documented_sizes(tmp_path, preprocess, size, expected):
    """Cropping modes give image_size squares; the others keep the size, padded to the net's multiple."""
    height, width = size
    _write(tmp_path / "train" / "0.png", _pair_image(height, width))
    config = _config(tmp_path, train={"batch_size": 1}, preprocess=preprocess)
    inputs, targets = _first(config, training=True)
    stride = network_stride(config)
    assert inputs.shape == targets.shape
    assert inputs.shape[1:3] == expected
    assert inputs.shape[1] % stride == 0 and inputs.shape[2] % stride == 0


def test_variable_size_modes_need_batch_size_one(tmp_path):
    with pytest.raises(ValueError, match="--preprocess=none keeps each image's own size.*--batch_size=1"):
        _config(tmp_path, preprocess="none")


def test_corrupt_image_stops_before_training_naming_every_bad_file(tmp_path):
    _write(tmp_path / "train" / "good.png", _pair_image())
    (tmp_path / "train" / "empty.jpg").write_bytes(b"")
    good_jpeg = tf.io.encode_jpeg(_pair_image()).numpy()
    (tmp_path / "train" / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (tmp_path / "train" / "noise.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(_config(tmp_path), "train", training=True, batch_size=1)
    message = str(error.value)
    assert "3 unusable image(s)" in message
    for name in ("empty.jpg: empty file", "truncated.jpg: unreadable", "noise.png: unreadable"):
        assert name in message
    assert "good.png" not in message
    assert "function_node" not in message and "[Op:" not in message  # the decoder's words, not TensorFlow's


def test_skip_bad_images_trains_on_the_rest(tmp_path):
    _write(tmp_path / "train" / "good.png", _pair_image())
    (tmp_path / "train" / "bad.png").write_bytes(b"\x89PNG broken")
    config = _config(tmp_path, skip_bad_images=True)
    assert pipeline.count_examples(config, "train") == 1
    inputs, _ = _first(config, training=True)
    assert np.isfinite(inputs).all()


def test_single_photos_as_a_b_files_are_refused_with_the_data_check_finding(tmp_path):
    """80x80 photos in train/ would each be cut into two 40x80 halves: refused before any batch,
    with the line `pix2pix-tf data check` prints for each file, and what to do with photos."""
    from pix2pix_tf.data import tools

    for index in range(2):
        _write(tmp_path / "train" / f"photo{index}.png", np.full((80, 80, 3), 90, np.uint8))
    finding = tools.check_dataset(tmp_path, image_size=32).problems[0]
    assert "80x80 px is not two squares side by side" in finding[1]
    with pytest.raises(ValueError) as error:
        pipeline.make_dataset(_config(tmp_path), "train", training=True, batch_size=1)
    message = str(error.value)
    assert f"{finding[0]}: {finding[1]}" in message
    assert "2 unusable image(s)" in message and "--task=colorize|edges|inpaint|superres" in message
    with pytest.raises(ValueError, match="every image is unusable.*not two squares side by side"):
        pipeline.make_dataset(_config(tmp_path, skip_bad_images=True), "train", training=True, batch_size=1)


def test_one_photo_among_pairs_is_named_without_the_photos_hint(tmp_path):
    _write(tmp_path / "train" / "pair.png", _pair_image())
    _write(tmp_path / "train" / "photo.png", np.full((40, 40, 3), 90, np.uint8))
    with pytest.raises(ValueError) as error:
        pipeline.count_examples(_config(tmp_path), "train")
    assert "photo.png: 40x40 px is not two squares side by side" in str(error.value)
    assert "pair.png" not in str(error.value) and "--task" not in str(error.value)
    assert pipeline.count_examples(_config(tmp_path, skip_bad_images=True), "train") == 1


def test_a_flat_folder_of_photos_is_told_about_task(tmp_path):
    """Photos with no split folders: the error says --task is how plain photos train."""
    for index in range(3):
        _write(tmp_path / f"photo{index}.jpg", np.full((40, 40, 3), 90, np.uint8))
    with pytest.raises(ValueError, match=re.escape(
            "has no 'train' split (found folders: none); it holds 3 image(s) directly: to train on plain "
            "photos pass --task=colorize|edges|inpaint|superres")):
        pipeline.make_dataset(_config(tmp_path), "train", training=True, batch_size=1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: root / "missing", "is not a folder"),
        (lambda root: (root / "train").mkdir() or root, "holds no images"),
        (lambda root: (root / "test").mkdir() or root, "has no 'train' split (found folders: test)"),
    ],
)
def test_empty_or_missing_data_gives_a_one_line_error(tmp_path, make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        pipeline.make_dataset(_config(make(tmp_path)), "train", training=True, batch_size=1)


def test_deterministic_mode_repeats_the_same_batches(paired_folder):
    config = _config(paired_folder, deterministic=True)

    def first_batches():
        dataset = pipeline.make_dataset(config, "train", training=True, batch_size=2, seed=5)
        return [inputs.numpy() for inputs, _ in dataset.take(3)]

    for first, second in zip(first_batches(), first_batches()):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("task, channels", [("colorize", 1), ("edges", 3), ("inpaint", 3), ("superres", 3)])
def test_plain_photos_become_pairs_for_each_task(tmp_path, task, channels):
    """--task turns a folder of ordinary photos (no split folders) into training pairs."""
    rng = np.random.default_rng(0)
    for index in range(2):
        _write(tmp_path / f"photo{index}.jpg", rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    config = tiny_config(tmp_path)
    config = config.replace(
        model=dict(input_channels=channels),
        data=dict(task=task),
    )
    inputs, targets = _first(config, training=True, batch_size=2)
    assert inputs.shape == (2, 32, 32, channels) and targets.shape == (2, 32, 32, 3)
    assert not np.allclose(inputs[..., :1], targets[..., :1], atol=1e-3)  # the input is a transform of the photo


def test_colorize_input_is_the_luminance_of_the_target(tmp_path):
    """The crop and flip of the task pairs stay aligned: gray input == luminance of the target."""
    _write(tmp_path / "photo.png", np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    config = tiny_config(tmp_path)
    config = config.replace(model=dict(input_channels=1),
                            data=dict(task="colorize", preprocess="crop"))
    inputs, targets = _first(config, training=True)
    luminance = tf.image.rgb_to_grayscale((targets + 1) * 127.5).numpy() / 127.5 - 1
    np.testing.assert_allclose(inputs, luminance, atol=1e-4)
