"""Runs side by side: val scores, cost and one picture grid (teacher vs student vs scratch,
float32 vs bfloat16, one recipe against another).

    python benchmarks/compare_runs.py \
        --runs=teacher:runs/teacher,distilled:runs/student,scratch:runs/scratch \
        --palette=facades --grid=docs/distill_photo2labels.png
    python benchmarks/compare_runs.py --runs=teacher:runs/facades,student:runs/facades_student \
        --segmenter=runs/photo2labels --grid=docs/facades_teacher_student.png   # + the FCN score

Scores every run folder on its data's val split with ``evaluate`` (each run in its own
``eval_mode`` unless ``--mode`` says otherwise; the palette score for label-map outputs), prints
a Markdown table (with ``--segmenter``, the FCN score of photo outputs and, as the last row, the
same segmenter on the real photos) with each run's GMAC per image at its training size, its image size, precision
and seed, its scores and their change relative to the first run, and ends with one JSON line. ``--grid`` writes the first
``--grid_images`` val images through every run, one column per run between input and target.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from pix2pix_tf import run_folder, speed  # noqa: E402
from pix2pix_tf.config import INFERENCE_MODES, LABEL_PALETTE_NAMES  # noqa: E402
from pix2pix_tf.data import pipeline  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.evaluation import plots  # noqa: E402
from pix2pix_tf.evaluation.evaluate import evaluate_model  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "NAME:RUN_FOLDER pairs; the first is the reference of the relative columns.")
flags.DEFINE_enum("palette", "none", list(LABEL_PALETTE_NAMES), "Also score label-map outputs in this palette.")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of every run (default: each run's own).")
flags.DEFINE_string("segmenter", None, "A photo -> label-map model: also the FCN score of each run's photos "
                    "(``evaluate --segmenter``), and of the real photos as the last row.")
flags.DEFINE_string("grid", None, "Write a PNG: input | each run | target, one row per val image.")
flags.DEFINE_integer("grid_images", 4, "Rows of the grid.")
flags.mark_flags_as_required(["runs"])

METRICS = ("l1", "psnr", "ssim", "pixel_accuracy", "class_iou", "fcn_pixel_accuracy", "fcn_class_iou")


def _runs() -> dict[str, pathlib.Path]:
    runs = {}
    for item in FLAGS.runs:
        name, _, folder = item.partition(":")
        if not folder:
            raise app.UsageError(f"--runs: {item!r} is not NAME:RUN_FOLDER")
        runs[name] = pathlib.Path(folder)
    return runs


def _gmacs(folder: pathlib.Path) -> float:
    config = run_folder.load_config(folder)
    size = config.data.image_size
    return speed.model_flops(build_generator(config.model, size), size) / 2e9


def _grid(path: str, runs: dict[str, pathlib.Path], count: int) -> None:
    """input | each run's output | target for the first ``count`` val pairs."""
    translators = {name: Translator.load(folder, FLAGS.mode) for name, folder in runs.items()}
    config = next(iter(translators.values())).config
    data_dir = pipeline.resolve_data_dir(config.data)
    examples = list(pipeline.make_dataset(config, "val", training=False, batch_size=1, data_dir=data_dir).take(count))
    columns = [("input", [inputs[0] for inputs, _ in examples])]
    columns += [(name, [translators[name].translate_float(inputs)[0] for inputs, _ in examples]) for name in runs]
    columns.append(("target", [targets[0] for _, targets in examples]))
    plots.save_image_grid(path, columns)
    print(f"grid: {path}")


def main(argv: list[str]) -> None:
    del argv
    runs = _runs()
    results = {}
    with tempfile.TemporaryDirectory() as reports:
        for name, folder in runs.items():
            evaluation, _ = evaluate_model(folder, pathlib.Path(reports) / name, mode=FLAGS.mode, palette=FLAGS.palette,
                                           segmenter=FLAGS.segmenter, grid_images=0, log=lambda line: None)
            config = run_folder.load_config(folder)
            results[name] = {
                "run": str(folder), "generator": f"{config.model.generator} ({config.model.filters} filters)",
                "gmacs": round(_gmacs(folder), 3), "mode": FLAGS.mode or config.train.eval_mode,
                "image_size": config.data.image_size, "seed": config.train.seed,
                "precision": {"none": "float32"}.get(config.train.mixed_precision, config.train.mixed_precision),
                "steps": json.loads((folder / run_folder.METRICS).read_text())["step"]
                if (folder / run_folder.METRICS).exists() else None,
                **{key: evaluation.summary[key] for key in METRICS if key in evaluation.summary},
            }
    keys = [key for key in METRICS if key in next(iter(results.values()))]
    real = {key: evaluation.summary[key.replace("fcn_", "fcn_real_")] for key in keys if key.startswith("fcn_")}
    reference = next(iter(results.values()))
    print("| run | generator | GMAC | size | precision | seed | steps | mode | " + " | ".join(keys) + " |")
    print("|---" * (8 + len(keys)) + "|")
    for name, row in results.items():
        cells = []
        for key in keys:
            change = 100 * (row[key] - reference[key]) / abs(reference[key]) if reference[key] else float("nan")
            cells.append(f"{row[key]:.4f}" + ("" if row is reference else f" ({change:+.1f} %)"))
        print(f"| {name} | {row['generator']} | {row['gmacs']:.2f} | {row['image_size']} | {row['precision']} | "
              f"{row['seed']} | {row['steps']} | {row['mode']} | "
              + " | ".join(cells) + " |")
    if real:  # the ceiling: the segmenter on the real photos
        print("| real photos | | | | | | | | " + " | ".join(f"{real[key]:.4f}" if key in real else "" for key in keys) + " |")
        results["real_photos"] = real
    if FLAGS.grid:
        _grid(FLAGS.grid, runs, FLAGS.grid_images)
    print(json.dumps(results, sort_keys=True, default=lambda value: float(np.asarray(value))))


if __name__ == "__main__":
    app.run(main)
