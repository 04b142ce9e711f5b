"""Translating images of any size with each kind of model, tiling without seams, and the command."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.deploy.translator import Translator

RNG = np.random.default_rng(0)


def random_image(height: int, width: int, channels: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (height, width, channels), dtype=np.uint8)


def test_every_kind_of_model_gives_the_same_output(translators):
    image = random_image(32, 32)
    outputs = {kind: translator.translate(image) for kind, translator in translators.items()}
    for kind, output in outputs.items():
        assert output.shape == (32, 32, 3) and output.dtype == np.uint8, kind
        difference = np.abs(output.astype(int) - outputs["run"].astype(int)).max()
        assert difference <= 1, (kind, difference)


def test_export_folder_loads_its_saved_model(models):
    assert Translator.load(models["export"]).source == models["saved_model"]


def test_any_size_comes_back_at_its_size(translators):
    image = random_image(45, 70)
    for kind, translator in translators.items():
        assert translator.translate(image).shape == (45, 70, 3), kind


@pytest.mark.parametrize("channels", [1, 4])
def test_gray_and_rgba_images_are_converted(translators, channels):
    image = random_image(20, 30, channels)
    output = translators["run"].translate(image)
    assert output.shape == (20, 30, 3)
    if channels == 4:
        np.testing.assert_array_equal(output, translators["run"].translate(image[..., :3]))


def test_two_channel_image_is_refused_by_shape(translators):
    with pytest.raises(ValueError, match=r"\(8, 8, 2\)"):
        translators["run"].translate(np.zeros((8, 8, 2), np.uint8))


def test_unknown_model_path_is_named(tmp_path):
    with pytest.raises(ValueError, match="no_model"):
        Translator.load(tmp_path / "no_model")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty holds no model"):
        Translator.load(tmp_path / "empty")


def test_tflite_tiles_large_images_without_seams(translators):
    """Tiles of 32 px overlapping by 8: the boundaries fall at 24, 32, 48, 56, ... px."""
    image = tf.image.resize(random_image(25, 33).astype(np.float32), (100, 130)).numpy().astype(np.uint8)
    output = translators["tflite"].translate(image).astype(np.float32)
    assert output.shape == (100, 130, 3)
    assert np.isfinite(output).all()
    column_steps = np.abs(np.diff(output, axis=1)).mean(axis=(0, 2))  # step between columns x and x + 1
    tile_edges = [edge - 1 for start in range(0, 98, 24) for edge in (start, start + 32) if 0 < edge < 130]
    assert column_steps[tile_edges].mean() < 1.3 * column_steps.mean()


def test_blending_leaves_no_hard_step_between_tiles():
    """Tiles whose outputs are constants alternating between -0.8 and 0.8 (204 uint8 levels
    apart): pasted side by side they would step by 204 levels; the linear ramps spread each
    step over the 8 px overlap (where four tiles meet, the 2-D ramps give up to ~50 levels)."""
    values = iter(np.tile([-0.8, 0.8], 100))

    def forward(images):
        return np.full((*images.shape[:3], 3), next(values), np.float32)

    translator = Translator(forward, tiny_config(), multiple=32, tile_size=32)
    output = translator.translate(random_image(100, 130)).astype(int)
    assert output.shape == (100, 130, 3)
    assert output.max() - output.min() > 150  # the tiles do differ
    steps = max(np.abs(np.diff(output, axis=axis)).max() for axis in (0, 1))
    assert steps <= 204 // 3


def test_keras_tiling_at_the_image_size_equals_the_whole_image(models, translators):
    image = random_image(64, 64)
    tiled = Translator.load(models["run"], tile_size=64)
    np.testing.assert_array_equal(tiled.translate(image), translators["run"].translate(image))
    assert Translator.load(models["run"], tile_size=32).translate(random_image(50, 70)).shape == (50, 70, 3)


def write_images(folder: pathlib.Path) -> None:
    folder.mkdir()
    tf.io.write_file(str(folder / "a.png"), tf.io.encode_png(random_image(40, 50)))
    tf.io.write_file(str(folder / "b.jpg"), tf.io.encode_jpeg(random_image(33, 21)))
    (folder / "notes.txt").write_text("not an image")


def test_translate_files_writes_one_png_per_image(translators, tmp_path):
    from pix2pix_tf.deploy.inputs import find_inputs

    write_images(tmp_path / "in")
    images, videos = find_inputs(tmp_path / "in")
    assert videos == []
    written = translators["tflite"].translate_files(images, tmp_path / "out")
    assert [path.name for path in written] == ["a.png", "b.png"]
    shapes = [tf.io.decode_png(tf.io.read_file(str(path))).shape for path in written]
    assert shapes == [(40, 50, 3), (33, 21, 3)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pix2pix_tf", "translate", *args], check=False,
                          capture_output=True,
                          text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.slow
def test_command_names_a_corrupt_image_unless_told_to_skip_it(models, tmp_path):
    write_images(tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_bytes(b"\x89PNG not really")
    flags = [f"--model={models['tflite']}", f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'out'}"]
    result = run_cli(*flags)
    assert result.returncode == 2
    assert "broken.png" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(*flags, "--skip_bad_images")
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    assert "translated 2 image(s)" in result.stdout


@pytest.mark.parametrize("model, message", [("nowhere", "nowhere does not exist"), ("in", "in holds no model")])
def test_command_names_a_missing_or_wrong_model(tmp_path, model, message):
    write_images(tmp_path / "in")
    result = run_cli(f"--model={tmp_path / model}", f"--input={tmp_path / 'in'}", f"--output={tmp_path / 'out'}")
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_command_names_an_input_folder_without_images(models, tmp_path):
    result = run_cli(f"--model={models['tflite']}", f"--input={tmp_path}", f"--output={tmp_path / 'out'}")
    assert result.returncode == 2
    assert "holds no image files" in result.stderr and "Traceback" not in result.stderr


def test_a_tflite_model_translates_from_many_threads_at_once(translators):
    """A server calls the model from several threads; a LiteRT interpreter must not see two calls at once."""
    from concurrent.futures import ThreadPoolExecutor

    image = random_image(40, 50)
    expected = translators["tflite"].translate(image)
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda _: translators["tflite"].translate(image), range(12)))
    for output in outputs:
        np.testing.assert_array_equal(output, expected)


def test_a_missing_model_file_names_the_ones_that_come_close(tmp_path):
    """A typo in a model's name (model_int9.tflite) suggests the file that is there."""
    (tmp_path / "model_int8.tflite").write_bytes(b"")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=f"Did you mean {tmp_path / 'model_int8.tflite'}\\?$"):
        Translator.load(tmp_path / "model_int9.tflite")
    with pytest.raises(ValueError) as error:
        Translator.load(tmp_path / "something_else")
    assert "Did you mean" not in str(error.value)


def test_one_image_goes_to_the_file_named_by_output(translators, tmp_path):
    """One image in, one file out: --output=single.png is that file, not a folder; .jpg writes a JPEG."""
    write_images(tmp_path / "in")
    translator = translators["tflite"]
    assert translator.translate_files([tmp_path / "in" / "a.png"], tmp_path / "single.png") == [tmp_path / "single.png"]
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "single.png"))).shape == (40, 50, 3)
    translator.translate_files([tmp_path / "in" / "a.png"], tmp_path / "deeper" / "single.jpg")
    assert (tmp_path / "deeper" / "single.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    with pytest.raises(ValueError, match="translate writes PNG or JPEG; name the file single.png or single.jpg"):
        translator.translate_files([tmp_path / "in" / "a.png"], tmp_path / "single.bmp")
    (tmp_path / "folder.png").mkdir()  # an existing folder stays a folder, whatever its name
    assert translator.translate_files([tmp_path / "in" / "a.png"], tmp_path / "folder.png") == [
        tmp_path / "folder.png" / "a.png"]


def test_a_file_name_that_is_not_utf8_is_left_out_and_named_the_others_translated(translators, tmp_path):
    from pix2pix_tf.deploy.inputs import find_inputs

    write_images(tmp_path / "in")
    shutil.copyfile(tmp_path / "in" / "a.png", tmp_path / "in" / os.fsdecode(b"caf\xe9.png"))
    images, _ = find_inputs(tmp_path / "in")
    with pytest.raises(ValueError, match=r"1 unreadable image\(s\) left out .*the other 2 were translated(.|\n)*"
                                         r"its name is not UTF-8"):
        translators["tflite"].translate_files(images, tmp_path / "out")
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
