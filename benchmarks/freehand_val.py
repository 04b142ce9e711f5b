"""Sketch -> photo models on their val split twice: with the data's edge drawings, and with the same
drawings redrawn as a pen would draw them (``--freehand_lines``' redrawing, fixed seeds).

    python benchmarks/freehand_val.py \
        --runs=plain:runs/edges_plain@ckpt-2000,freehand:runs/edges_freehand@ckpt-2000

An edge detector's lines are thin and grey; a person's are solid black, of any width, wobbly and
broken. A model that only reads the first kind loses quality on the second. Prints a Markdown
table (L1, PSNR, SSIM per run and input kind, in each run's eval mode unless ``--mode``) and one
JSON line. The redrawn inputs are those training with ``--freehand_lines`` makes, so a run trained
with it has seen their kind (not these drawings): read the column as robustness to pen lines.
"""

from __future__ import annotations

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from model_spec import load_model  # noqa: E402

from pix2pix_tf.config import INFERENCE_MODES  # noqa: E402
from pix2pix_tf.data import freehand, pipeline  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.evaluation import scoring  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "NAME:RUN_FOLDER[@CHECKPOINT] pairs (CHECKPOINT: a file name in its checkpoints/).")
flags.DEFINE_enum("mode", None, list(INFERENCE_MODES), "Inference mode of every run (default: each run's own).")
flags.DEFINE_integer("seed", 0, "Seed of the redrawing.")
flags.mark_flags_as_required(["runs"])


def score(translator: Translator, redraw: bool, seed: int) -> dict[str, float]:
    """Mean L1, PSNR and SSIM of ``translator`` over its data's val split; with ``redraw``, each
    input redrawn by hand first (image i with seed (seed, i))."""
    config = translator.config
    totals = {"l1": [], "psnr": [], "ssim": []}
    dataset = pipeline.make_dataset(config, "val", training=False, batch_size=1)
    for index, (inputs, targets) in enumerate(dataset):
        if redraw:
            inputs = freehand.augment(inputs[0], tf.constant([seed, index], tf.int64))[tf.newaxis]
        for name, values in scoring.image_scores(targets, translator.translate_float(inputs)).items():
            totals[name].extend(values)
    return {name: float(np.mean(values)) for name, values in totals.items()} | {"images": len(totals["l1"])}


def main(argv: list[str]) -> None:
    del argv
    results = {}
    print("| run | inputs | L1 ↓ | PSNR ↑ | SSIM ↑ |\n|---|---|---|---|---|")
    for run in FLAGS.runs:
        name, spec = run.split(":", 1)
        translator = load_model(spec, FLAGS.mode)
        results[name] = {"run": spec, "mode": translator.mode}
        for kind, redraw in (("data", False), ("redrawn", True)):
            figures = score(translator, redraw, FLAGS.seed)
            results[name][kind] = figures
            print(f"| {name} | {kind} | {figures['l1']:.4f} | {figures['psnr']:.2f} | {figures['ssim']:.4f} |", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    app.run(main)
