"""A run's quality along its training: every kept checkpoint scored on a split (L1, SSIM and, with a
segmenter, the FCN score), as a table, a PNG of the curves and a JSON line.

    python benchmarks/quality_curve.py --workdir=runs/facades --segmenter=runs/facades_photo2labels \
        --every=2000 --plot=docs/facades_curve.png

Keep the checkpoints while training (``--keep_checkpoints`` at least steps / ``--checkpoint_every``)
to have a curve to draw. Each checkpoint is scored by ``evaluate`` in the run's own inference mode,
so a point here is what ``pix2pix-tf evaluate --checkpoint=...`` reports for it.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

from pix2pix_tf import run_folder  # noqa: E402
from pix2pix_tf.config import LABEL_PALETTE_NAMES  # noqa: E402
from pix2pix_tf.evaluation.evaluate import evaluate_model  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The run folder whose checkpoints are scored.")
flags.DEFINE_string("segmenter", None, "A photo -> label-map model: also the FCN score (label maps -> photos).")
flags.DEFINE_enum("palette", "none", list(LABEL_PALETTE_NAMES), "The segmenter's label palette (default: the "
                  "run's, else the segmenter's own).")
flags.DEFINE_string("split", "val", "Split of the run's data to score on.")
flags.DEFINE_integer("every", 0, "Score checkpoints whose step is a multiple of this (0: every kept one); "
                     "the last checkpoint is always scored.")
flags.DEFINE_string("plot", None, "Write the curves as this PNG.")
flags.DEFINE_string("output", None, "Write the table as this JSON file.")
flags.mark_flags_as_required(["workdir"])

COLUMNS = ("l1", "ssim", "fcn_pixel_accuracy", "fcn_class_iou")


def checkpoints(workdir: pathlib.Path, every: int) -> list[tuple[int, str]]:
    """(step, path) of the run's kept checkpoints, oldest first, thinned to multiples of ``every``."""
    paths = run_folder.checkpoint_paths(workdir / run_folder.CHECKPOINTS)
    found = sorted((step, path) for step, path in zip(map(run_folder.checkpoint_step, paths), paths) if step is not None)
    if not found:
        raise app.UsageError(f"{workdir} holds no checkpoints")
    return [(step, path) for step, path in found if not every or step % every == 0 or step == found[-1][0]]


def plot(rows: list[dict], path: pathlib.Path, title: str) -> None:
    """L1 and SSIM on the left, the FCN score (with the real photos' ceiling) on the right when
    there is one; L1 and SSIM alone otherwise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in rows]
    fcn = "fcn_class_iou" in rows[0]
    figure, axes = plt.subplots(1, 2 if fcn else 1, figsize=(10 if fcn else 5.5, 3.6), squeeze=False)
    axes = axes[0]
    axes[0].plot(steps, [row["l1"] for row in rows], "o-", label="L1 (lower is better)")
    axes[0].plot(steps, [row["ssim"] for row in rows], "s-", label="SSIM")
    axes[0].set_xlabel("step")
    axes[0].legend()
    if fcn:
        for name, marker in (("pixel_accuracy", "o"), ("class_iou", "s")):
            line, = axes[1].plot(steps, [row[f"fcn_{name}"] for row in rows], marker + "-", label=f"FCN {name}")
            axes[1].axhline(rows[-1][f"fcn_real_{name}"], color=line.get_color(), linestyle=":",
                            label=f"real photos' {name}")
        axes[1].set_xlabel("step")
        axes[1].legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    workdir = pathlib.Path(FLAGS.workdir).expanduser()
    rows = []
    print(f"| step | {' | '.join(COLUMNS)} |\n|---|{'---|' * len(COLUMNS)}", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for step, path in checkpoints(workdir, FLAGS.every):
            result, _ = evaluate_model(workdir, pathlib.Path(scratch) / str(step), split=FLAGS.split, checkpoint=path,
                                       segmenter=FLAGS.segmenter, palette=FLAGS.palette, grid_images=0, log=lambda line: None)
            row = {"step": step, **{name: value for name, value in result.summary.items()
                                    if name in COLUMNS or name.startswith("fcn_real_")}}
            rows.append(row)
            print(f"| {step} | " + " | ".join(f"{row[name]:.4f}" if name in row else "" for name in COLUMNS) + " |",
                  flush=True)
    if FLAGS.plot:
        plot(rows, pathlib.Path(FLAGS.plot), f"{workdir.name}: {FLAGS.split} split by checkpoint")
    if FLAGS.output:
        pathlib.Path(FLAGS.output).write_text(json.dumps(rows, indent=1) + "\n")
    print(json.dumps({"workdir": str(workdir), "split": FLAGS.split, "rows": rows}))


if __name__ == "__main__":
    app.run(main)
