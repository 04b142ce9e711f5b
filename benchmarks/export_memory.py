"""Where an export's memory goes: the peak resident memory of each stage of `pix2pix-tf export`
in every format.

    python benchmarks/export_memory.py                                  # the paper's 256 px U-Net, 218 MB
    python benchmarks/export_memory.py --norelease_memory               # as before: freed memory kept by glibc
    python benchmarks/export_memory.py --image_size=32 --filters=8      # seconds, for a check

Builds a run folder holding that generator with random weights (memory does not depend on them)
and 16 train + 4 val random A|B pairs, exports it with ``export_run`` in every format, and starts
the peak (VmHWM, Linux) afresh as each stage starts. Prints the export's own stage lines, then one
JSON line: per stage, its seconds, the resident memory at its start and its peak, in MiB.
``--norelease_memory`` skips ``tflite.release_memory`` after each conversion, to show what it saves.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from pix2pix_tf import run_folder  # noqa: E402
from pix2pix_tf.config import Config, DataConfig, ModelConfig  # noqa: E402
from pix2pix_tf.deploy import export, tflite  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402

IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "Generator input size, px.")
FILTERS = flags.DEFINE_integer("filters", 64, "Generator filters (64: the paper's U-Net, 54 M parameters).")
RELEASE_MEMORY = flags.DEFINE_bool("release_memory", True, "Hand freed memory back after each conversion "
                                   "(tflite.release_memory); --norelease_memory shows the export without it.")


def _status_mib(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        return int(next(line for line in status if line.startswith(field + ":")).split()[1]) / 1024


def _reset_peak() -> None:
    """Starts VmHWM afresh at the current resident size (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as file:
        file.write("5")


def make_run(root: pathlib.Path, image_size: int, filters: int) -> pathlib.Path:
    """A run folder (config.json, checkpoints/ckpt-1 of a random generator) with random pairs beside it."""
    rng = np.random.default_rng(0)
    for split, count in (("train", 16), ("val", 4)):
        (root / "data" / split).mkdir(parents=True)
        for index in range(count):
            pair = rng.integers(0, 256, (image_size, 2 * image_size, 3), dtype=np.uint8)
            tf.io.write_file(str(root / "data" / split / f"{index}.png"), tf.io.encode_png(pair))
    config = Config(model=ModelConfig(filters=filters), data=DataConfig(data=str(root / "data"), image_size=image_size))
    generator = build_generator(config.model, image_size)
    workdir = root / "run"
    checkpoint = tf.train.Checkpoint(generator=generator)
    tf.train.CheckpointManager(checkpoint, workdir / run_folder.CHECKPOINTS, max_to_keep=1).save()
    config.save(workdir / run_folder.CONFIG)
    return workdir


def main(argv: list[str]) -> None:
    del argv
    if not RELEASE_MEMORY.value:
        tflite.release_memory = lambda: None
    stages: list[dict] = []

    def say(line: str) -> None:
        print(line, flush=True)
        if line.endswith(" ..."):
            stages.append({"stage": line.removeprefix("export: ").removesuffix(" ..."),
                           "rss_mib_at_start": round(_status_mib("VmRSS")), "started": time.perf_counter()})
            _reset_peak()
        else:
            stage = stages[-1]
            stage["seconds"] = round(time.perf_counter() - stage.pop("started"), 1)
            stage["peak_rss_mib"] = round(_status_mib("VmHWM"))

    with tempfile.TemporaryDirectory() as folder:
        workdir = make_run(pathlib.Path(folder), IMAGE_SIZE.value, FILTERS.value)
        before = round(_status_mib("VmRSS"))
        report = export.export_run(workdir, pathlib.Path(folder) / "out", list(export.FORMATS), say=say)
    print(json.dumps({"image_size": IMAGE_SIZE.value, "filters": FILTERS.value,
                      "release_memory": RELEASE_MEMORY.value, "rss_mib_before_export": before,
                      "files_mb": {name: round(size / 1e6, 1) for name, size in report["files"].items()},
                      "stages": stages}))


if __name__ == "__main__":
    app.run(main)
