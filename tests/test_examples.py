"""The tutorial-style scripts in examples/ run end to end on tiny data made in the test."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from conftest import write_pairs

REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_facades_benchmark_trains_scores_exports_and_reports(tmp_path):
    data = tmp_path / "facades"
    write_pairs(data, "train", 4, size=32, seed=1)
    write_pairs(data, "val", 3, size=32, seed=2)
    workdir = tmp_path / "results"
    command = [sys.executable, str(REPO / "examples" / "facades_benchmark.py"), f"--data={data}",
               f"--workdir={workdir}", "--image_size=32", "--ablation_size=32", "--epochs=1",
               "--ablation_epochs=1", "--filters=8", "--grid_images=2"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    for name in ("labels2photo", "photo2labels", "ablation_l1", "ablation_cgan", "ablation_l1_cgan"):
        scores = json.loads((workdir / name / "scores.json").read_text())
        assert scores["steps"] == 4 and scores["images"] == 3, name
        assert (workdir / name / "eval_val" / "index.html").exists()
    # The ablation really changed the losses: G's adversarial term is off in the L1-only run.
    assert json.loads((workdir / "ablation_l1" / "config.json").read_text())["train"]["gan_weight"] == 0.0
    assert json.loads((workdir / "ablation_cgan" / "config.json").read_text())["train"]["l1_weight"] == 0.0
    assert "pixel_accuracy" in json.loads((workdir / "photo2labels" / "scores.json").read_text())
    export = json.loads((workdir / "export" / "export.json").read_text())
    assert set(export["scores"]) == {"saved_model", "float32", "float16", "int8"}
    assert (workdir / "ablation_grid.png").stat().st_size > 0
    assert (workdir / "facades_grid.png").stat().st_size > 0
    report = (workdir / "results.md").read_text()
    for row in ("| labels2photo | 32 | 4 |", "| ablation_cgan | 32 | 4 |", "| TFLite int8 |", "| SavedModel |"):
        assert row in report

    # Every stage resumes: a second run trains nothing more and rewrites the same scores.
    again = subprocess.run(command[:-1] + ["--stages=labels2photo"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((workdir / "labels2photo" / "scores.json").read_text())["steps"] == 4


@pytest.mark.slow
def test_facades_benchmark_names_a_folder_without_train_split(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "examples" / "facades_benchmark.py"), f"--data={tmp_path}"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert str(tmp_path) in done.stderr and "train/" in done.stderr
