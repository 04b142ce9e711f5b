"""Tests for the built-in synthetic façade dataset (pix2pix_tf.data.synthetic)."""

import json

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.data import synthetic
from pix2pix_tf.data.synthetic import (
    PALETTE,
    default_data_dir,
    make_synthetic_dataset,
    render_pair,
)

SMALL = {"train_size": 4, "val_size": 2, "image_size": 32}


def _file_bytes(root):
    """{relative path: content} of every image under root."""
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*.jpg"))}


def test_layout_is_pix2pix_side_by_side_pairs(tmp_path):
    root = make_synthetic_dataset(tmp_path / "data", **SMALL)
    assert root == tmp_path / "data"
    assert [path.name for path in tmp_path.iterdir()] == ["data"]  # no temporary folder left
    for split, count in [("train", 4), ("val", 2)]:
        files = sorted((root / split).iterdir())
        assert [path.name for path in files] == [f"{index:06d}.jpg" for index in range(count)]
        for path in files:
            image = tf.io.decode_jpeg(path.read_bytes()).numpy()
            assert image.shape == (32, 64, 3)
    marker = json.loads((root / "dataset.json").read_text())
    assert marker["train_size"] == 4 and marker["image_size"] == 32


def test_left_half_is_label_map_and_right_half_is_photo(tmp_path):
    root = make_synthetic_dataset(tmp_path / "data", **SMALL)
    image = tf.io.decode_jpeg((root / "train" / "000000.jpg").read_bytes()).numpy().astype(int)
    label_map, _ = render_pair(np.random.default_rng([0, 0, 0]), 32)
    # JPEG is lossy, but the palette colours are far apart: nearest colour recovers the labels.
    palette = np.array(list(PALETTE.values()))
    nearest = np.argmin(((image[:, :32, None] - palette) ** 2).sum(-1), -1)
    assert np.mean(palette[nearest] == label_map) > 0.99
    assert not np.allclose(image[:, 32:], image[:, :32], atol=60)


def test_same_arguments_give_identical_files_and_seed_changes_them(tmp_path):
    first = _file_bytes(make_synthetic_dataset(tmp_path / "first", **SMALL))
    second = _file_bytes(make_synthetic_dataset(tmp_path / "second", **SMALL))
    assert first == second
    other_seed = _file_bytes(make_synthetic_dataset(tmp_path / "other", **SMALL, seed=1))
    assert all(first[name] != other_seed[name] for name in first)
    # val must not depend on how many training images there are.
    fewer_train = _file_bytes(
        make_synthetic_dataset(tmp_path / "fewer", **{**SMALL, "train_size": 1})
    )
    assert {name: fewer_train[name] for name in fewer_train if name.startswith("val")} == {
        name: first[name] for name in first if name.startswith("val")
    }


def test_render_pair_labels_use_palette_and_photo_follows_labels():
    palette = np.array(list(PALETTE.values()))
    window, wall = palette[list(PALETTE).index("window")], palette[list(PALETTE).index("wall")]
    for index in range(5):
        label_map, photo = render_pair(np.random.default_rng(index), 64)
        assert label_map.shape == photo.shape == (64, 64, 3)
        assert label_map.dtype == photo.dtype == np.uint8
        is_palette_colour = (label_map[:, :, None, :] == palette).all(-1).any(-1)
        assert is_palette_colour.all()
        # Learnable: the photo's colour depends on the class (windows do not look like walls).
        window_mean = photo[(label_map == window).all(-1)].mean(0)
        wall_mean = photo[(label_map == wall).all(-1)].mean(0)
        assert np.abs(wall_mean - window_mean).sum() > 40


def test_second_call_reuses_files_and_other_arguments_regenerate(tmp_path, monkeypatch):
    root = make_synthetic_dataset(tmp_path / "data", **SMALL)
    times = {path: path.stat().st_mtime_ns for path in root.rglob("*")}

    def fail_to_render(*args, **kwargs):
        raise AssertionError("rendered again although the dataset is already there")

    with monkeypatch.context() as patch:
        patch.setattr(synthetic, "render_pair", fail_to_render)
        assert make_synthetic_dataset(root, **SMALL) == root
    assert {path: path.stat().st_mtime_ns for path in root.rglob("*")} == times
    make_synthetic_dataset(root, **{**SMALL, "train_size": 3})
    assert len(list((root / "train").iterdir())) == 3
    assert json.loads((root / "dataset.json").read_text())["train_size"] == 3


def test_leftover_folder_without_marker_is_regenerated(tmp_path):
    root = tmp_path / "data"
    (root / "train").mkdir(parents=True)
    (root / "train" / "000000.jpg").write_bytes(b"half-written")
    make_synthetic_dataset(root, **SMALL)
    assert len(list((root / "train").iterdir())) == 4
    assert tf.io.decode_jpeg((root / "train" / "000000.jpg").read_bytes()).shape == (32, 64, 3)
    assert (root / "dataset.json").exists()


def test_refuses_to_replace_a_folder_with_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        make_synthetic_dataset(tmp_path, **SMALL)
    assert (tmp_path / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("argument, value", [("image_size", 8), ("train_size", 0), ("val_size", 0)])
def test_bad_arguments_raise_value_error_naming_them(tmp_path, argument, value):
    with pytest.raises(ValueError, match=argument):
        make_synthetic_dataset(tmp_path / "data", **{**SMALL, argument: value})
    assert not (tmp_path / "data").exists()


def test_default_data_dir_honours_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("PIX2PIX_TF_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path / "synthetic-v1"
    monkeypatch.delenv("PIX2PIX_TF_DATA_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "pix2pix_tf" / "synthetic-v1"
