"""Evaluation a user runs and looks at: validation during training, evaluate's report, plot."""

from __future__ import annotations

import contextlib
import csv
import html.parser
import json
import os
import pathlib
import threading

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, run_cli, tiny_config, write_dataset

from pix2pix_tf.evaluation import evaluate as evaluator
from pix2pix_tf.evaluation import plots
from pix2pix_tf.models.inference import inference_generator
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.train import train_and_evaluate


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> pathlib.Path:
    """A tiny run (6 steps) that validated at steps 2, 4 and 6 on 2 val images."""
    root = write_dataset(tmp_path_factory.mktemp("data"))
    workdir = tmp_path_factory.mktemp("run")
    train_and_evaluate(tiny_config(root, steps=6, val_every=2, val_images=2), workdir)
    return workdir


def test_validation_during_training_writes_csv_tensorboard_and_best_checkpoint(trained_run):
    with open(trained_run / "validation.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [int(row["step"]) for row in rows] == [2, 4, 6]
    assert set(rows[0]) == {"step", "l1", "psnr", "ssim"}
    best = json.loads((trained_run / "checkpoints" / "best" / "best.json").read_text())
    lowest = min(rows, key=lambda row: float(row["l1"]))
    assert best["metric"] == "l1" and best["step"] == int(lowest["step"])
    assert best["value"] == pytest.approx(float(lowest["l1"]), rel=1e-4)
    assert tf.train.latest_checkpoint(str(trained_run / "checkpoints" / "best")).endswith(f"best-{best['step']}")
    generator, _ = load_generator(trained_run, "best")  # the best checkpoint restores
    assert generator(tf.zeros([1, 32, 32, 3])).shape == (1, 32, 32, 3)
    scalars = plots.read_scalars(trained_run / "tensorboard")
    assert list(scalars["val/l1"][0]) == [2, 4, 6]
    for tag in ("train/d_loss", "train/g_loss", "train/learning_rate", "train/d_real", "train/d_fake"):
        assert tag in scalars, tag


def test_tensorboard_holds_the_graph_of_the_train_step(trained_run):
    events = [tf.compat.v1.Event.FromString(record.numpy())
              for path in (trained_run / "tensorboard").glob("events.out.tfevents.*")
              for record in tf.data.TFRecordDataset(str(path))]
    graphs = [value for event in events for value in event.summary.value
              if value.metadata.plugin_data.plugin_name == "graph_run_metadata_graph"]
    assert [value.tag for value in graphs] == ["train_step"]
    assert len(graphs[0].tensor.string_val[0]) > 10_000  # a serialized RunMetadata holding the graph


@pytest.mark.slow
def test_resume_drops_validation_rows_the_interrupted_process_wrote_after_its_checkpoint(tmp_path, paired_folder):
    config = tiny_config(paired_folder, steps=2, val_every=2, val_images=2)
    train_and_evaluate(config, tmp_path)
    with open(tmp_path / "validation.csv", "a") as file:
        file.write("3,0.5,10,0.1\n")  # as if validated after the step-2 checkpoint, then killed
    train_and_evaluate(config.replace(train=dict(steps=4)), tmp_path)
    steps = [int(row["step"]) for row in csv.DictReader(open(tmp_path / "validation.csv"))]
    assert steps == [2, 4]


class _Sources(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources = []

    def handle_starttag(self, tag, attributes):
        if tag == "img":
            self.sources.append(dict(attributes)["src"])


def test_evaluate_writes_metrics_html_and_grid_that_reference_real_files(trained_run, tmp_path):
    out = tmp_path / "report"
    result = run_cli("evaluate", f"--workdir={trained_run}", f"--output={out}", "--palette=facades")
    assert result.returncode == 0, result.stderr
    assert "3 images: l1" in result.stdout
    record = json.loads((out / "metrics.json").read_text())
    assert record["images"] == 3 and len(record["per_image"]) == 3
    assert {"l1", "psnr", "ssim", "pixel_accuracy", "class_iou", "baseline_mean_target_l1"} <= set(record)
    assert [row["name"] for row in record["per_image"]] == ["0", "1", "2"]  # the val files' stems
    parser = _Sources()
    parser.feed((out / "index.html").read_text())
    assert len(parser.sources) == 9  # input, output, target per image
    assert all((out / source).is_file() for source in parser.sources)
    assert tf.io.decode_png(tf.io.read_file(str(out / "grid.png"))).shape[0] > 100


def test_evaluate_with_a_segmenter_reports_the_fcn_score_beside_the_real_photos(trained_run, tmp_path):
    out = tmp_path / "realism"
    result = run_cli("evaluate", f"--workdir={trained_run}", f"--output={out}", f"--segmenter={trained_run}",
                     "--palette=facades", "--max_images=2")
    assert result.returncode == 0, result.stderr
    assert "FCN score (a segmenter reads the outputs): pixel_accuracy" in result.stdout
    assert "FCN score of the real photos (the ceiling)" in result.stdout
    record = json.loads((out / "metrics.json").read_text())
    assert {"fcn_pixel_accuracy", "fcn_class_accuracy", "fcn_class_iou", "fcn_real_class_iou"} <= set(record)
    assert "class_iou" not in record  # the outputs are photos: not scored as label maps themselves
    assert record["segmenter"] == str(trained_run)
    assert "fcn_class_iou" in record["per_image"][0]
    page = (out / "index.html").read_text()
    assert "Realism: the FCN score" in page and "real photos (ceiling)" in page


def test_a_segmenter_without_a_label_palette_is_refused_naming_it(trained_run, tmp_path):
    with pytest.raises(ValueError, match=f"--segmenter {trained_run}: no label palette.*--palette=facades"):
        evaluator.evaluate_model(trained_run, tmp_path / "r", segmenter=trained_run, log=lambda line: None)


def test_validation_scores_realism_with_a_segmenter_and_keeps_the_most_realistic_checkpoint(trained_run, tmp_path):
    from conftest import write_pairs

    write_pairs(tmp_path / "data", "train", 4, seed=3)
    write_pairs(tmp_path / "data", "val", 2, seed=4)
    config = tiny_config(tmp_path / "data", steps=4, val_every=2, val_images=2, val_segmenter=str(trained_run),
                         best_metric="fcn_class_iou")
    config = config.replace(data=dict(palette="facades"))
    result = train_and_evaluate(config, tmp_path / "run")
    with open(tmp_path / "run" / "validation.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["step"] for row in rows] == ["2", "4"]
    assert all(0.0 <= float(row["fcn_class_iou"]) <= 1.0 for row in rows)
    best = json.loads((tmp_path / "run" / "checkpoints" / "best" / "best.json").read_text())
    assert best["metric"] == "fcn_class_iou"
    assert best["value"] == pytest.approx(max(float(row["fcn_class_iou"]) for row in rows), rel=1e-5)
    assert {"fcn_class_iou", "fcn_real_class_iou"} <= set(result.metrics)  # metrics.json of the whole val split


def test_the_quality_curve_scores_every_kept_checkpoint_with_the_fcn_score(trained_run, tmp_path):
    """benchmarks/quality_curve.py: one row per kept checkpoint (steps 2, 4, 6), a plot, a JSON line."""
    import subprocess
    import sys

    script = REPO / "benchmarks" / "quality_curve.py"
    result = subprocess.run([sys.executable, str(script), f"--workdir={trained_run}", f"--segmenter={trained_run}",
                             "--palette=facades", "--every=4", f"--plot={tmp_path / 'curve.png'}"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])["rows"]
    assert [row["step"] for row in rows] == [4, 6]  # multiples of 4, and the last checkpoint
    assert all({"l1", "ssim", "fcn_class_iou", "fcn_real_class_iou"} <= set(row) for row in rows)
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "curve.png"))).shape[1] > 500


def test_compare_runs_adds_the_fcn_score_and_the_real_photos_ceiling_with_a_segmenter(trained_run, tmp_path):
    """benchmarks/compare_runs.py --segmenter: FCN columns per run and a last row for the real photos;
    --grid: input | each run | target, a row per val image."""
    import subprocess
    import sys

    script = REPO / "benchmarks" / "compare_runs.py"
    result = subprocess.run([sys.executable, str(script), f"--runs=a:{trained_run},b:{trained_run}",
                             f"--segmenter={trained_run}", "--palette=facades", f"--grid={tmp_path / 'grid.png'}",
                             "--grid_images=2"],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["a"]["fcn_class_iou"] == pytest.approx(figures["b"]["fcn_class_iou"])
    assert set(figures["real_photos"]) == {"fcn_pixel_accuracy", "fcn_class_iou"}
    table = [line for line in result.stdout.splitlines() if line.startswith("|")]
    assert "fcn_class_iou" in table[0] and table[-1].startswith("| real photos |")
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).shape[:2] == (2 * 200 + 40, 4 * 200)


def test_an_image_grid_has_a_column_per_heading_and_a_row_per_image_float_or_uint8(tmp_path):
    from pix2pix_tf.evaluation import plots

    floats = np.linspace(-1, 1, 3 * 8 * 8 * 3, dtype=np.float32).reshape(3, 8, 8, 3)
    grays = np.full((3, 8, 8, 1), 200, np.uint8)
    plots.save_image_grid(tmp_path / "grid.png", [("float", floats), ("uint8", list(grays))], "a title",
                          row_labels=["a", "b", "c"])
    grid = tf.io.decode_png(tf.io.read_file(str(tmp_path / "grid.png"))).numpy()
    assert grid.shape[:2] == (3 * 200 + 40, 2 * 200)
    assert (grid[:, 200:, :3] == 200).all(axis=-1).sum() > 3 * 100 * 100  # the uint8 column shown as is
    assert not list(tmp_path.glob("*.tmp.png"))


@pytest.fixture(scope="module")
def run_with_earlier_best(tmp_path_factory) -> pathlib.Path:
    """A run validated at step 2 only, then trained on to step 6: its best checkpoint is not its latest."""
    root = tmp_path_factory.mktemp("earlier_best")
    config = tiny_config(write_dataset(root / "data"), steps=2, val_every=2, val_images=2)
    train_and_evaluate(config, root / "run")
    train_and_evaluate(config.replace(train=dict(steps=6, val_every=0)), root / "run")
    assert json.loads((root / "run" / "checkpoints" / "best" / "best.json").read_text())["step"] == 2
    assert tf.train.latest_checkpoint(str(root / "run" / "checkpoints")).endswith("ckpt-6")
    return root / "run"


def _scores_of(run: pathlib.Path, checkpoint: str) -> dict:
    """L1/PSNR/SSIM of the run's generator at ``checkpoint``, scored directly (not through evaluate)."""
    from pix2pix_tf.data import pipeline
    from pix2pix_tf.evaluation import scoring
    from pix2pix_tf.models.inference import make_generate_fn

    generator, config = load_generator(run, checkpoint)
    dataset = pipeline.make_dataset(config, "val", training=False, batch_size=1).take(2)
    return scoring.score(make_generate_fn(generator, config.train.eval_mode), dataset).summary


def test_evaluate_api_scores_the_best_checkpoint_and_a_subset(run_with_earlier_best, tmp_path):
    result, paths = evaluator.evaluate_model(run_with_earlier_best, tmp_path, checkpoint="best", max_images=2,
                                             log=lambda line: None)
    assert result.summary["images"] == 2
    best, latest = _scores_of(run_with_earlier_best, "best"), _scores_of(run_with_earlier_best, "latest")
    assert result.summary["l1"] == pytest.approx(best["l1"], abs=1e-6)
    assert abs(best["l1"] - latest["l1"]) > 1e-5  # so the comparison above tells the checkpoints apart
    assert json.loads(paths["metrics.json"].read_text())["checkpoint"] == "best"


@pytest.mark.parametrize("args, message", [
    ([], "give one of --workdir"),
    (["--workdir=/nonexistent/run"], "/nonexistent/run"),
])
def test_evaluate_names_what_is_missing(args, message):
    result = run_cli("evaluate", *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_evaluate_names_a_missing_split(trained_run, tmp_path):
    from pix2pix_tf.run_folder import load_config

    data = load_config(trained_run).data.data
    result = run_cli("evaluate", f"--workdir={trained_run}", "--split=test", f"--output={tmp_path / 'report'}")
    assert result.returncode == 2
    assert f"{data} has no 'test' split (found folders: train, val)" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_plot_draws_losses_and_validation_curves(trained_run, tmp_path):
    result = run_cli("plot", f"--workdir={trained_run}", f"--output={tmp_path / 'curves.png'}")
    assert result.returncode == 0, result.stderr
    assert "8 panels" in result.stdout
    assert tf.io.decode_png(tf.io.read_file(str(tmp_path / "curves.png"))).shape[1] > 500


def test_plot_names_a_folder_that_is_not_a_run(tmp_path):
    result = run_cli("plot", f"--workdir={tmp_path}")
    assert result.returncode == 2
    assert "no tensorboard/ folder" in result.stderr


def test_export_ships_the_best_checkpoint(run_with_earlier_best, tmp_path):
    import numpy as np

    from pix2pix_tf.deploy import export as exporter
    from pix2pix_tf.deploy import saved_model

    exporter.export_run(run_with_earlier_best, tmp_path / "export", ["saved_model"], checkpoint="best")
    loaded = saved_model.load_saved_model(tmp_path / "export" / "saved_model")
    best, config = load_generator(run_with_earlier_best, "best")
    latest, _ = load_generator(run_with_earlier_best, "latest")
    assert loaded.mode == config.train.eval_mode  # the export defaults to the mode the run was scored in
    images = tf.random.stateless_uniform((1, 32, 32, 3), (0, 1), -1, 1)
    actual = loaded.translate_float(images).numpy()
    np.testing.assert_allclose(actual, inference_generator(best, loaded.mode)(images), atol=1e-5)
    assert np.abs(actual - inference_generator(latest, loaded.mode)(images)).max() > 1e-4  # not the latest


def test_evaluate_refuses_a_negative_count_and_lists_only_what_it_wrote(trained_run, tmp_path):
    with pytest.raises(ValueError, match="--max_images must be >= 0, got -1"):
        evaluator.evaluate_model(trained_run, tmp_path, max_images=-1, log=lambda line: None)
    _, paths = evaluator.evaluate_model(trained_run, tmp_path, grid_images=0, max_images=1, log=lambda line: None)
    assert sorted(paths) == ["index.html", "metrics.json"]
    assert not (tmp_path / "grid.png").exists()


def test_an_evaluation_stopped_midway_leaves_no_report_of_an_earlier_one_over_its_images(trained_run, tmp_path):
    """The earlier metrics.json and index.html described images/ files the new model had overwritten."""
    evaluator.evaluate_model(trained_run, tmp_path, log=lambda line: None)

    def stopped(line):
        if "images" in line:  # the start line: the evaluation begins writing images/
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluator.evaluate_model(trained_run, tmp_path, log=stopped)
    assert not any((tmp_path / name).exists() for name in ("metrics.json", "index.html", "grid.png"))


def test_plot_reads_an_event_file_cut_mid_record_up_to_the_cut(tmp_path, caplog):
    """A run killed while writing, or still writing: the events before the cut are plotted."""
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        for step in range(20):
            tf.summary.scalar("train/d_loss", 0.5 + step, step=step)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    path.write_bytes(path.read_bytes()[:-7])
    with caplog.at_level("WARNING"):
        steps, values = plots.read_scalars(tmp_path)["train/d_loss"]
    assert list(steps) == list(range(19)) and values[-1] == 18.5
    assert f"{path} is truncated or damaged after" in caplog.text


def test_plot_leaves_out_an_event_file_it_cannot_read_and_names_it(tmp_path, caplog):
    """A dangling link or a folder named like an event file was a FailedPreconditionError traceback;
    a FIFO blocked plot for good (SIGTERM too)."""
    writer = tf.summary.create_file_writer(str(tmp_path))
    with writer.as_default():
        tf.summary.scalar("train/d_loss", 0.5, step=1)
    writer.close()
    (tmp_path / "events.out.tfevents.0.gone.v2").symlink_to(tmp_path / "nowhere")
    (tmp_path / "events.out.tfevents.1.folder.v2").mkdir()
    fifo = tmp_path / "events.out.tfevents.2.fifo.v2"
    os.mkfifo(fifo)  # reading it blocks until a writer comes

    def unblock() -> None:  # were it read, a writer opening and closing it ends the read: the test fails, not hangs
        with contextlib.suppress(OSError):  # ENXIO: nobody reads it, as it should be
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))

    timer = threading.Timer(20, unblock)
    timer.start()
    with caplog.at_level("WARNING"):
        assert list(plots.read_scalars(tmp_path)["train/d_loss"][1]) == [0.5]
    timer.cancel()
    assert f"{tmp_path / 'events.out.tfevents.2.fifo.v2'} cannot be read (not a regular file" in caplog.text
    assert f"{tmp_path / 'events.out.tfevents.0.gone.v2'} cannot be read (No such file or directory)" in caplog.text
    assert f"{tmp_path / 'events.out.tfevents.1.folder.v2'} cannot be read (Is a directory)" in caplog.text
