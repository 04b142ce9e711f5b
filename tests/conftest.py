"""The tests' shared harness: tiny configs and tiny paired folders made in the test (never real
data), and the `pix2pix-tf` command run as a user runs it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from pix2pix_tf import palettes  # noqa: E402
from pix2pix_tf.config import Config, DataConfig, ModelConfig, TrainConfig  # noqa: E402
from pix2pix_tf.deploy import pretrained, saved_model, tflite  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402
from pix2pix_tf.models.inference import inference_generator  # noqa: E402
from pix2pix_tf.run_folder import load_generator  # noqa: E402
from pix2pix_tf.training.train import train_and_evaluate  # noqa: E402


def write_pairs(root: pathlib.Path, split: str, count: int, size: int = 40, seed: int = 0) -> None:
    """Random A|B PNGs of height ``size`` and width ``2 * size`` in root/split."""
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = rng.integers(0, 256, (size, 2 * size, 3), dtype=np.uint8)
        tf.io.write_file(str(folder / f"{index}.png"), tf.io.encode_png(image))


def animated_gif(frames: int, side: int) -> bytes:
    """A GIF of ``frames`` frames of ``side`` x ``side`` pixels, each frame a different gray."""
    import io

    from PIL import Image

    images = [Image.new("L", (side, side), 40 * index) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=10, optimize=False)
    return buffer.getvalue()


def write_dataset(root: pathlib.Path, val: int = 3) -> pathlib.Path:
    """A pix2pix-layout folder at ``root`` with 6 train and ``val`` val random pairs of 40x80 px; ``root``."""
    write_pairs(root, "train", 6, seed=1)
    write_pairs(root, "val", val, seed=2)
    return root


@pytest.fixture
def paired_folder(tmp_path: pathlib.Path) -> pathlib.Path:
    """A pix2pix-layout folder with 6 train and 3 val random pairs of 40x80 px."""
    return write_dataset(tmp_path / "pairs")


def tiny_config(data_dir: os.PathLike | str = "", **train_overrides) -> Config:
    """32 px, 8 filters, batch 2: a full pix2pix that trains a step in milliseconds. In float32
    (not the default auto), so that what a test computes does not depend on the CPU's bf16 units."""
    train = dict(batch_size=2, steps=2, log_every=1, sample_every=2, checkpoint_every=2, num_samples=2,
                 mixed_precision="none")
    train.update(train_overrides)
    return Config(
        model=ModelConfig(filters=8, disc_filters=8),
        data=DataConfig(data=str(data_dir), image_size=32),
        train=TrainConfig(**train),
    )


REPO = pathlib.Path(__file__).resolve().parents[1]
# Flags of a tiny run of `pix2pix-tf train`.
TINY = ["--image_size=32", "--filters=8", "--disc_filters=8", "--batch_size=2", "--num_samples=2"]


def run_cli(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    """`pix2pix-tf ARGS...` in a process of its own: its exit code, stdout and stderr."""
    return subprocess.run(
        [sys.executable, "-m", "pix2pix_tf", *args], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )


def train_process(data, workdir, *extra: str) -> subprocess.Popen:
    """A tiny `pix2pix-tf train` running in the background, stderr into stdout, a line per step."""
    return subprocess.Popen(
        [sys.executable, "-m", "pix2pix_tf", "train", f"--data={data}", f"--workdir={workdir}", *TINY,
         "--log_every=1", "--checkpoint_every=100000", "--sample_every=100000", "--val_every=0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_for_steps(process: subprocess.Popen, steps: int, timeout: float = 240) -> list[str]:
    """Reads the process's output until it reports ``steps`` steps; returns the lines read."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(f"step {steps}/"):
            return lines
    raise AssertionError("training never reached step %d:\n%s" % (steps, "".join(lines[-30:])))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, pathlib.Path]:
    """A 2-step 32 px run, its SavedModel and its float32 .tflite (next to a config.json)."""
    root = tmp_path_factory.mktemp("translate")
    write_pairs(root / "data", "train", 6)
    write_pairs(root / "data", "val", 3)
    train_and_evaluate(tiny_config(root / "data", steps=2), root / "run")
    generator, config = load_generator(root / "run")
    saved_model.export_saved_model(generator, config, root / "export" / "saved_model")
    flatbuffer = tflite.convert(inference_generator(generator, config.train.eval_mode), 32, "float32")
    (root / "export" / "model_float32.tflite").write_bytes(flatbuffer)
    config.save(root / "export" / "config.json")
    return {
        "run": root / "run",
        "saved_model": root / "export" / "saved_model",
        "export": root / "export",
        "tflite": root / "export" / "model_float32.tflite",
    }


@pytest.fixture(scope="module")
def translators(models) -> dict[str, Translator]:
    """A Translator of each of ``models`` but the export folder."""
    return {kind: Translator.load(path) for kind, path in models.items() if kind != "export"}


def write_shipped_model(folder: pathlib.Path, config: Config, card: dict, example: np.ndarray) -> pathlib.Path:
    """A shipped-style model folder at ``folder``: an untrained generator of ``config`` (at its image
    size) as model_float16.tflite beside its config.json, ``card`` as card.json and ``example``
    (uint8 (S, S, 3)) as example_1.png; ``folder``."""
    folder.mkdir(parents=True)
    size = config.data.image_size
    generator = build_generator(config.model, size)
    (folder / "model_float16.tflite").write_bytes(tflite.convert(inference_generator(generator, "eval"), size, "float16"))
    config.save(folder / "config.json")
    (folder / pretrained.CARD).write_text(json.dumps(card), encoding="utf-8")
    tf.io.write_file(str(folder / "example_1.png"), tf.io.encode_png(example))
    return folder


def sketch(size: int = 32) -> np.ndarray:
    """A sketch as a sketch model's example: black lines (a box and a diagonal) on white, uint8 (size, size, 3)."""
    image = np.full((size, size, 3), 255, np.uint8)
    image[size // 4, size // 4:-size // 4] = image[-size // 4, size // 4:-size // 4] = 0
    image[size // 4:-size // 4, size // 4] = image[size // 4:-size // 4, -size // 4] = 0
    image[np.arange(size // 4, size * 3 // 4), np.arange(size // 4, size * 3 // 4)] = 0
    return image


@pytest.fixture(scope="session")
def shipped_models(tmp_path_factory) -> pathlib.Path:
    """A stand-in for the package's folder of shipped models holding two untrained 32 px models:
    toy_labels2photo (facades palette, a label-map example; its card says "input": "label_map") and
    toy_sketch2photo (trained as with --freehand_lines; its card says "input": "sketch", its example
    a sketch). Tests point ``pretrained.FOLDER`` at it."""
    root = tmp_path_factory.mktemp("pretrained")
    colours = np.array([colour for colour in palettes.classes("facades").values()], np.uint8)
    labels = colours[np.random.default_rng(0).integers(0, len(colours), (32, 32))]
    write_shipped_model(root / "toy_labels2photo", tiny_config().replace(data=dict(palette="facades")),
                        {"title": "Toy façades", "description": "label map → toy photo", "input": "label_map"}, labels)
    write_shipped_model(root / "toy_sketch2photo", tiny_config().replace(data=dict(freehand_lines=True)),
                        {"title": "Toy shoes", "description": "sketch → toy photo", "input": "sketch"}, sketch())
    return root
