"""The TFDS builder, its loader and `pix2pix-tf download`, on a tiny archive made in the test.

The archive has the real layout (``facades/{train,val,test}/N.jpg``, A | B side by side) and is
built through the builder's real code path from ``manual_dir``: no network, no mocks.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tarfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from pix2pix_tf.data import tfds_pix2pix

SPLIT_SIZES = {"train": 3, "val": 2, "test": 1}
HEIGHT = 16


def side_colours(index: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A red and B blue, with a green level that tells the files apart."""
    return (255, 60 * index, 0), (0, 60 * index, 255)


def write_archive(folder: pathlib.Path) -> pathlib.Path:
    """folder/facades.tar.gz: 16x32 px A|B JPEGs per split, and a stray text file to be skipped."""
    source = folder / "source" / "facades"
    for split, count in SPLIT_SIZES.items():
        (source / split).mkdir(parents=True)
        for index in range(count):
            image = np.zeros((HEIGHT, 2 * HEIGHT, 3), np.uint8)
            image[:, :HEIGHT], image[:, HEIGHT:] = side_colours(index)
            encoded = tf.io.encode_jpeg(image, quality=100)
            tf.io.write_file(str(source / split / f"{index}.jpg"), encoded)
    (source / "train" / "README.txt").write_text("not an image")
    manual_dir = folder / "manual"
    manual_dir.mkdir()
    with tarfile.open(manual_dir / "facades.tar.gz", "w:gz") as archive:
        archive.add(source, arcname="facades")
    return manual_dir


def assert_halves(a: np.ndarray, b: np.ndarray, index: int) -> None:
    """A is the left (red) half and B the right (blue) one, away from the seam JPEG blurs."""
    a_colour, b_colour = side_colours(index)
    np.testing.assert_allclose(a[:, : HEIGHT - 4].mean(axis=(0, 1)), a_colour, atol=12)
    np.testing.assert_allclose(b[:, 4:].mean(axis=(0, 1)), b_colour, atol=12)


@pytest.fixture(scope="module")
def manual_dir(tmp_path_factory) -> pathlib.Path:
    return write_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def data_dir(manual_dir, tmp_path_factory) -> str:
    """A TFDS data folder where pix2pix/facades was prepared from the manual archive."""
    data_dir = tmp_path_factory.mktemp("tfds")
    tfds_pix2pix.prepare("facades", data_dir=data_dir, manual_dir=manual_dir)
    return str(data_dir)


def test_builder_makes_every_split_of_the_archive(data_dir):
    builder = tfds.builder("pix2pix/facades", data_dir=data_dir)
    assert builder.info.version == "1.0.0"
    assert {split: info.num_examples for split, info in builder.info.splits.items()} == SPLIT_SIZES


def test_examples_hold_the_left_half_as_a_and_the_right_half_as_b(data_dir):
    """Through plain `tfds.load`: A and B are native-size uint8 halves, named by their file."""
    dataset = tfds.load("pix2pix/facades", split="train", data_dir=data_dir, download=False)
    names = []
    for example in tfds.as_numpy(dataset):
        a, b, name = example["A"], example["B"], example["file_name"].decode()
        assert a.shape == b.shape == (HEIGHT, HEIGHT, 3)
        assert a.dtype == b.dtype == np.uint8
        assert_halves(a, b, int(name.split(".")[0]))
        names.append(name)
    assert sorted(names) == ["0.jpg", "1.jpg", "2.jpg"]


def test_load_split_yields_a_b_pairs_like_the_folder_pipeline(data_dir):
    dataset = tfds_pix2pix.load_split("facades", "val", data_dir=data_dir)
    spec = tf.TensorSpec((None, None, 3), tf.uint8)
    assert dataset.element_spec == (spec, spec)
    assert int(dataset.cardinality()) == SPLIT_SIZES["val"]
    pairs = list(dataset.as_numpy_iterator())
    assert len(pairs) == SPLIT_SIZES["val"]
    for a, b in pairs:
        assert a[0, 0, 0] > 200 and b[0, -1, 2] > 200  # red left, blue right


@pytest.mark.parametrize(
    "name, split, message",
    [
        ("facade", "train", "dataset='facade' is not valid; choose one of: facades, maps, "),
        ("facades", "validation", "pix2pix/facades has no split 'validation'; it has: train, val, test"),
        ("maps", "train", "pix2pix/maps is not prepared in"),
    ],
)
def test_load_split_errors_name_the_dataset_and_split(data_dir, name, split, message):
    with pytest.raises(ValueError, match=message):
        tfds_pix2pix.load_split(name, split, data_dir=data_dir)


def test_missing_manual_archive_fails_before_any_download(tmp_path):
    (tmp_path / "manual").mkdir()
    with pytest.raises(OSError, match=r"facades\.tar\.gz not found; download http://efrosgans"):
        tfds_pix2pix.prepare("facades", data_dir=tmp_path / "tfds", manual_dir=tmp_path / "manual")


def test_unreachable_server_fails_at_once_and_says_how_to_work_offline(tmp_path, monkeypatch):
    """An unresolvable host (".invalid" never resolves) fails in seconds, not after TFDS's retries."""
    for variable in [name for name in os.environ if name.lower().endswith("_proxy")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(tfds_pix2pix, "URL_TEMPLATE", "http://pix2pix-tf.invalid/{name}.tar.gz")
    message = (r"could not download http://pix2pix-tf\.invalid/facades\.tar\.gz .*"
               r"put that file as facades\.tar\.gz in a folder and pass it as manual_dir")
    with pytest.raises(OSError, match=message):
        tfds_pix2pix.prepare("facades", data_dir=tmp_path / "tfds")


def run_download(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pix2pix_tf", "download", *args],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.slow
def test_download_command_builds_from_manual_dir(manual_dir, tmp_path):
    data_dir = tmp_path / "tfds"
    result = run_download("facades", f"--data_dir={data_dir}", f"--manual_dir={manual_dir}")
    assert result.returncode == 0, result.stderr
    assert f"prepared in {data_dir / 'pix2pix' / 'facades' / '1.0.0'}" in result.stdout
    assert "pairs: train 3, val 2, test 1 (A = photo, B = labels)" in result.stdout
    assert (f"train on it: TFDS_DATA_DIR={data_dir} pix2pix-tf train --data=tfds:pix2pix/facades "
            "--direction=BtoA") in result.stdout


@pytest.mark.parametrize(
    "name, message",
    [
        ("shoes", "dataset='shoes' is not valid; choose one of: facades, maps, cityscapes, "
                  "edges2shoes, edges2handbags, night2day"),
        ("maps", "maps.tar.gz not found; download http://efrosgans.eecs.berkeley.edu/pix2pix/datasets/"
                 "maps.tar.gz there"),
    ],
)
def test_download_command_errors_are_one_line(name, message, manual_dir, tmp_path):
    """An unknown name, or a --manual_dir without the archive: one line, exit 2, no traceback.

    Both are found before TensorFlow loads, so its start-up lines do not bury the message.
    """
    result = run_download(name, f"--data_dir={tmp_path / 'tfds'}", f"--manual_dir={manual_dir}")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pix2pix-tf download: error: "), result.stderr
    assert message in lines[0]


def test_training_pipeline_reads_a_tfds_build(data_dir, monkeypatch):
    """--data=tfds:pix2pix/facades gives the same (input, target) batches as a folder would."""

    from conftest import tiny_config

    from pix2pix_tf.data import pipeline

    monkeypatch.setenv("TFDS_DATA_DIR", data_dir)
    config = tiny_config("tfds:pix2pix/facades")
    config = config.replace(data=dict(direction="BtoA"))
    assert pipeline.count_examples(config, "train") == SPLIT_SIZES["train"]
    inputs, targets = next(iter(pipeline.make_dataset(config, "val", training=False, batch_size=2)))
    assert inputs.shape == targets.shape == (2, 32, 32, 3)
    # BtoA: the input is the blue right half, the target the red left half.
    assert float(inputs[..., 2].numpy().mean()) > 0.8 and float(targets[..., 0].numpy().mean()) > 0.8
    batches = pipeline.make_dataset(config, "train", training=True, batch_size=2)
    assert next(iter(batches))[0].shape == (2, 32, 32, 3)
