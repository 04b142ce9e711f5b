"""`pix2pix-tf data check` and `data combine`: every problem in one report, A|B files from A/ and B/."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.data import pipeline
from pix2pix_tf.data import tools as data_tools


def run_data(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pix2pix_tf", "data", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def write_image(path: pathlib.Path, image: np.ndarray, image_format: str = "png") -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = tf.io.encode_png(image) if image_format == "png" else tf.io.encode_jpeg(image, quality=95)
    path.write_bytes(encoded.numpy())
    return path


def noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def solid(height: int, width: int, colour: tuple[int, int, int]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.uint8), (height, width, 3)).copy()


@pytest.fixture
def broken_dataset(tmp_path) -> tuple[pathlib.Path, dict[str, str]]:
    """A dataset with one of each problem at 32 px --preprocess=crop, and {path: what check must say}."""
    root = tmp_path / "broken"
    write_image(root / "train" / "good.png", noise(32, 64))
    (root / "train" / "empty.jpg").write_bytes(b"")
    jpeg = tf.io.encode_jpeg(noise(32, 64)).numpy()
    (root / "train" / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (root / "train" / "noise.png").write_bytes(np.random.default_rng(1).bytes(500))
    write_image(root / "train" / "wide.png", noise(32, 100))
    write_image(root / "train" / "small.png", noise(16, 32))
    for side in ("A", "B"):
        write_image(root / "val" / side / "good.png", noise(32, 32))
    write_image(root / "val" / "A" / "resized.png", noise(32, 32))
    write_image(root / "val" / "B" / "resized.png", noise(40, 40))
    write_image(root / "val" / "A" / "only_a.png", noise(32, 32))
    write_image(root / "val" / "B" / "only_b.png", noise(32, 32))
    (root / "test").mkdir()
    expected = {
        "train/empty.jpg": "empty file (0 bytes)",
        "train/truncated.jpg": "unreadable",
        "train/noise.png": "unreadable",
        "train/wide.png": "100x32 px is not two squares side by side",
        "train/small.png": "16x16 px per side is smaller than the 32 px crop",
        "val/B/resized.png": "40x40 px differs from its A file",
        "val/A/only_a.png": f"no file with this stem in {root / 'val' / 'B'}",
        "val/B/only_b.png": f"no file with this stem in {root / 'val' / 'A'}",
        "test": "empty split",
    }
    return root, {str(root / name): message for name, message in expected.items()}


def test_check_reports_every_problem_in_one_run(broken_dataset):
    """Each problem is found, named by its file, alongside all the others; good pairs still count."""
    root, expected = broken_dataset
    report = data_tools.check_dataset(root, image_size=32, preprocess="crop")
    found = dict(report.problems)
    assert sorted(found) == sorted(expected)
    for path, message in expected.items():
        assert message in found[path], (path, found[path])
    assert report.pairs_per_split == {"train": 1, "val": 1, "test": 0}


def test_check_command_lists_problems_and_exits_1(broken_dataset):
    root, expected = broken_dataset
    result = run_data("check", f"--data={root}", "--image_size=32", "--preprocess=crop")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    for path, message in expected.items():
        assert any(line.startswith(f"{path}: ") and message in line for line in lines), path
    assert lines[-1] == "9 problems in 9 files; pairs OK per split: train 1, val 1, test 0"


@pytest.mark.slow
def test_check_command_on_a_clean_dataset_exits_0(paired_folder):
    result = run_data("check", f"--data={paired_folder}", "--image_size=32")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["no problems found; pairs OK per split: train 6, val 3"]


@pytest.mark.parametrize("args, message", [
    ((), "--data is required (pix2pix-tf data check --helpfull lists the flags)"),
    (("--data=/no/such/folder",), "--data: /no/such/folder is not a folder"),
])
def test_check_usage_errors_exit_2_with_one_line(args, message):
    result = run_data("check", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"pix2pix-tf data check: error: {message}"]


def test_size_rules_follow_preprocess(tmp_path):
    """crop: smaller than the crop is a problem; resize modes: enlarged > 2x is only a warning."""
    write_image(tmp_path / "train" / "0.png", noise(40, 80))
    cropped = data_tools.check_dataset(tmp_path, image_size=64, preprocess="crop")
    assert [problem for _, problem in cropped.problems] == [
        "40x40 px per side is smaller than the 64 px crop of --preprocess=crop (it would be enlarged, not cropped)"
    ]
    resized = data_tools.check_dataset(tmp_path, image_size=64, preprocess="resize_and_crop")
    assert resized.problems == [] and resized.pairs_per_split == {"train": 1}
    assert resized.warnings == []  # enlarged 72 / 40 = 1.8x: within UPSAMPLE_LIMIT
    upsampled = data_tools.check_dataset(tmp_path, image_size=128, preprocess="resize_and_crop")
    assert [path for path, _ in upsampled.warnings] == [str(tmp_path / "train" / "0.png")]
    assert "enlarged 3.6x to the 143 px" in upsampled.warnings[0][1]
    assert upsampled.lines()[-1] == "no problems found; 1 warnings; pairs OK per split: train 1"


def test_only_requested_splits_must_exist(paired_folder):
    assert data_tools.check_dataset(paired_folder, image_size=32).pairs_per_split == {"train": 6, "val": 3}
    report = data_tools.check_dataset(paired_folder, splits=["train", "test"], image_size=32)
    assert report.problems == [(str(paired_folder / "test"), "missing split 'test' (asked for by --splits)")]
    assert report.pairs_per_split == {"train": 6}
    with pytest.raises(ValueError, match="--image_size must be a power of two"):
        data_tools.check_dataset(paired_folder, image_size=100)


@pytest.fixture
def separate_folders(tmp_path) -> tuple[pathlib.Path, pathlib.Path]:
    """a/ and b/ with train (3 stems) and val (2 stems) of random 32x32 PNGs, B's seeds differ from A's."""
    for split, stems in (("train", ("x", "y", "z")), ("val", ("v", "w"))):
        for index, stem in enumerate(stems):
            write_image(tmp_path / "a" / split / f"{stem}.png", noise(32, 32, seed=index))
            write_image(tmp_path / "b" / split / f"{stem}.png", noise(32, 32, seed=100 + index))
    return tmp_path / "a", tmp_path / "b"


def test_combine_writes_a_left_of_b_per_split(separate_folders, tmp_path):
    a_dir, b_dir = separate_folders
    out = tmp_path / "out"
    assert data_tools.combine(a_dir, b_dir, out, image_format="png") == 5
    assert sorted(path.name for path in (out / "train").iterdir()) == ["x.png", "y.png", "z.png"]
    assert sorted(path.name for path in (out / "val").iterdir()) == ["v.png", "w.png"]
    pair = tf.io.decode_png(tf.io.read_file(str(out / "val" / "w.png"))).numpy()
    np.testing.assert_array_equal(pair[:, :32], noise(32, 32, seed=1))
    np.testing.assert_array_equal(pair[:, 32:], noise(32, 32, seed=101))


def test_combine_resizes_b_and_its_output_trains(tmp_path):
    """Flat a/ and b/ go to out/train; B of another size is resized; the result checks clean and loads."""
    for index in range(2):
        write_image(tmp_path / "a" / f"{index}.jpg", solid(32, 32, (200, 30, 30)), "jpg")
        write_image(tmp_path / "b" / f"{index}.png", solid(48, 48, (20, 200, 20)))
    out = tmp_path / "out"
    assert data_tools.combine(tmp_path / "a", tmp_path / "b", out) == 2
    pair = tf.io.decode_jpeg(tf.io.read_file(str(out / "train" / "0.jpg"))).numpy().astype(int)
    assert pair.shape == (32, 64, 3)
    assert np.abs(pair[:, :32] - (200, 30, 30)).max() <= 3 and np.abs(pair[:, 32:] - (20, 200, 20)).max() <= 3
    report = data_tools.check_dataset(out, image_size=32)
    assert report.problems == [] and report.pairs_per_split == {"train": 2}
    batches = pipeline.make_dataset(tiny_config(out), "train", training=True, batch_size=2)
    source, target = next(iter(batches))
    assert source.shape == target.shape == (2, 32, 32, 3)
    assert float(tf.reduce_mean(source[..., 0])) > 0.5 > float(tf.reduce_mean(target[..., 0]))  # A red, B green


def test_combine_stops_on_unmatched_files_naming_them(separate_folders, tmp_path):
    a_dir, b_dir = separate_folders
    write_image(a_dir / "train" / "only_a.png", noise(32, 32))
    write_image(b_dir / "val" / "only_b.png", noise(32, 32))
    result = run_data("combine", f"--a={a_dir}", f"--b={b_dir}", f"--output={tmp_path / 'out'}")
    assert result.returncode == 1
    assert f"{a_dir / 'train' / 'only_a.png'} has no match in {b_dir / 'train'}" in result.stderr
    assert f"{b_dir / 'val' / 'only_b.png'} has no match in {a_dir / 'val'}" in result.stderr
    assert "--skip_unmatched" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
    assert data_tools.combine(a_dir, b_dir, tmp_path / "out", skip_unmatched=True) == 5
    assert sorted(path.stem for path in (tmp_path / "out").rglob("*.jpg")) == ["v", "w", "x", "y", "z"]


def test_check_on_a_flat_folder_of_photos_tells_about_task(tmp_path):
    for index in range(2):
        write_image(tmp_path / f"photo{index}.jpg", noise(40, 40, seed=index), "jpg")
    report = data_tools.check_dataset(tmp_path)
    assert report.problems == [(str(tmp_path), "no split folders (train, val, test) and no A/ and B/ folders; it "
                                "holds 2 image(s) directly: to train on plain photos pass "
                                "--task=colorize|edges|inpaint|superres, or put A|B pairs in train/ and val/")]


def test_a_file_name_that_is_not_utf8_is_named_as_a_problem_of_that_file(tmp_path):
    """A Latin-1 name from an old archive stopped check, train and translate with TensorFlow's
    "Error converting unicode string", naming no file; it is now one bad file among good ones."""
    root = tmp_path / "data"
    write_image(root / "train" / "good.png", noise(32, 64))
    latin1 = root / "train" / os.fsdecode(b"caf\xe9.png")
    latin1.write_bytes((root / "train" / "good.png").read_bytes())
    report = data_tools.check_dataset(root, image_size=32, preprocess="crop")
    assert dict(report.problems) == {str(latin1): "its name is not UTF-8, which TensorFlow's file reading needs; "
                                                  "rename the file"}
    assert report.pairs_per_split == {"train": 1}
    # A UTF-8 terminal's stdout refuses the escaped name Python holds: the report prints it as \xe9.
    result = run_data("check", f"--data={root}", "--image_size=32", "--preprocess=crop",
                      env={"PYTHONIOENCODING": "utf-8:strict"})
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stdout.splitlines()[0] == (f"{root / 'train'}/caf\\xe9.png: its name is not UTF-8, which "
                                             "TensorFlow's file reading needs; rename the file")
