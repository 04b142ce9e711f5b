"""What training shows while it runs: sample grids, and validation on a fixed subset with the best checkpoint kept."""

from __future__ import annotations

import csv
import io
import json
import math
import pathlib
from collections.abc import Callable

import tensorflow as tf
from absl import logging

from pix2pix_tf import run_folder
from pix2pix_tf.evaluation import plots, realism, scoring
from pix2pix_tf.files import read_json, write_text_atomically
from pix2pix_tf.training import checkpoints, health

# The columns of validation.csv after the step: always these, and the FCN score with a segmenter.
SCORES = ("l1", "psnr", "ssim")
REALISM_SCORES = tuple(realism.PREFIX + name for name in ("pixel_accuracy", "class_accuracy", "class_iou"))


class SampleWriter:
    """Writes ``samples/step_NNNNNNN.png`` (input | target | output rows) and the same strips to TensorBoard.

    Args:
      samples: (input, target) pairs, float32 (H, W, C) in [-1, 1], any sizes.
    """

    def __init__(self, workdir: pathlib.Path, samples: list, generate: Callable, writer, mode: str):
        self.folder = workdir / run_folder.SAMPLES
        self.folder.mkdir(exist_ok=True)
        self.inputs = [source.numpy() for source, _ in samples]
        self.targets = [target.numpy() for _, target in samples]
        self.generate, self.writer, self.mode = generate, writer, mode

    def __call__(self, step: int) -> None:
        if not self.inputs:
            return
        outputs = [self.generate(source[tf.newaxis])[0].numpy() for source in self.inputs]
        plots.save_sample_grid(self.folder / f"step_{step:07d}.png", self.inputs, self.targets, outputs,
                                   title=f"step {step} ({self.mode} mode)")
        with self.writer.as_default(step=step):
            for index, row in enumerate(zip(self.inputs, self.targets, outputs)):
                strip = tf.concat([tf.broadcast_to(image, image.shape[:2] + (3,)) for image in row], axis=1)
                tf.summary.image(f"samples/{index} input|target|output", strip[tf.newaxis] * 0.5 + 0.5)


class Validator:
    """Scores the generator on a fixed val subset; logs to TensorBoard (``val/*``) and ``validation.csv``;
    keeps the best checkpoint by ``metric`` in ``checkpoints/best`` beside the latest ones.

    Args:
      workdir: the run folder.
      dataset: the fixed subset, batches of (input, target) in [-1, 1].
      generate: images -> outputs in the run's inference mode.
      checkpoint: what the best checkpoint holds (the same objects as the periodic ones).
      metric: "l1", "psnr", "ssim" or, with a segmenter, "fcn_class_iou".
      resumed_step: the step the run resumed at; CSV rows after it (written by the interrupted
        process after its last checkpoint) are dropped, as those steps will run again.
      weights: checked before a best checkpoint is written: one holding a NaN or an infinity (or
        scored NaN) never is.
      segmenter: also score the outputs' realism (``realism``): the FCN score, for label maps -> photos.
    """

    def __init__(self, workdir: pathlib.Path, dataset: tf.data.Dataset, generate: Callable, writer,
                 checkpoint: tf.train.Checkpoint, metric: str, resumed_step: int, weights: list[tf.Variable] = (),
                 segmenter: realism.Segmenter | None = None):
        self.dataset, self.generate, self.writer, self.metric = dataset, generate, writer, metric
        self.weights = list(weights)
        self.segmenter = segmenter
        self.columns = SCORES + (REALISM_SCORES if segmenter is not None else ())
        if metric not in self.columns:
            raise ValueError(f"best_metric={metric} is measured by a segmenter: set val_segmenter too")
        self.csv_path = workdir / run_folder.VALIDATION_CSV
        try:
            self.rows = [row for row in self._read_rows() if int(row["step"]) <= resumed_step]
        except (KeyError, ValueError, TypeError, csv.Error) as error:
            raise ValueError(f"{self.csv_path} is damaged ({type(error).__name__}: {error}); move it away and "
                             "run the same command: validation writes a new one") from error
        best_folder = workdir / run_folder.CHECKPOINTS / run_folder.BEST
        checkpoints.repair_index(best_folder, run_folder.BEST)
        self.best_manager = tf.train.CheckpointManager(checkpoint, best_folder, max_to_keep=1,
                                                       checkpoint_name=run_folder.BEST)
        self.best_path = best_folder / run_folder.BEST_RECORD
        self.best = read_json(self.best_path) if self.best_path.exists() else None
        if self.best is not None and not (isinstance(self.best, dict) and isinstance(self.best.get("value"), (int, float))
                                          and isinstance(self.best.get("step"), int)):
            raise ValueError(f"{self.best_path} is damaged (not the record pix2pix-tf writes); delete it and run the "
                             "same command: the best checkpoint is chosen anew")
        if self.best is not None and not math.isfinite(self.best["value"]):
            logging.warning("%s records a non-finite best %s; choosing the best checkpoint anew", self.best_path,
                            self.best.get("metric"))
            self.best = None
        if self.best is not None and self.best.get("metric") != metric:
            logging.warning("best checkpoint was chosen by %s; choosing by %s from now on", self.best["metric"], metric)
            self.best = None

    def _read_rows(self) -> list[dict]:
        if not self.csv_path.exists():
            return []
        with open(self.csv_path, newline="", encoding="utf-8") as file:
            return list(csv.DictReader(file))

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        higher = scoring.HIGHER_IS_BETTER[self.metric]
        return value > self.best["value"] if higher else value < self.best["value"]

    def __call__(self, step: int) -> dict[str, float]:
        """Scores the subset at ``step``; saves the best checkpoint when ``metric`` improved. Returns the scores."""
        summary = scoring.score(self.generate, self.dataset, segmenter=self.segmenter).summary
        scores = {name: summary[name] for name in self.columns}
        with self.writer.as_default(step=step):
            for name, value in scores.items():
                tf.summary.scalar(f"val/{name}", value)
        self.rows.append({"step": step, **{name: f"{value:.6g}" for name, value in scores.items()}})
        text = io.StringIO()
        columns = ["step", *self.columns]
        columns += sorted({name for row in self.rows for name in row} - set(columns))  # from an earlier setting
        table = csv.DictWriter(text, fieldnames=columns, restval="")
        table.writeheader()
        table.writerows(self.rows)
        write_text_atomically(self.csv_path, text.getvalue())
        value = scores[self.metric]
        if self._better(value) and self._finite(step, value):
            path = self.best_manager.save(checkpoint_number=step)
            self.best = {"metric": self.metric, "value": value, "step": step, "checkpoint": pathlib.Path(path).name}
            write_text_atomically(self.best_path, json.dumps(self.best, indent=2) + "\n")
        realism_line = ""
        if self.segmenter is not None:
            realism_line = (f", FCN class IoU {summary[realism.PREFIX + 'class_iou']:.4f} (real photos "
                            f"{summary[realism.REAL_PREFIX + 'class_iou']:.4f})")
        best = f"best {self.metric} {self.best['value']:.4g} at step {self.best['step']}" if self.best else "no best yet"
        logging.info("val at step %d: l1 %.4f, psnr %.2f, ssim %.4f%s (%s)", step, scores["l1"], scores["psnr"],
                     scores["ssim"], realism_line, best)
        return scores

    def _finite(self, step: int, value: float) -> bool:
        """Whether the weights and the score are finite; else says why step is not kept as the best."""
        bad = health.nonfinite_names(self.weights) + ([] if math.isfinite(value) else [f"the {self.metric} score"])
        if bad:
            logging.warning("not keeping step %d as the best checkpoint: non-finite values in %s", step,
                            ", ".join(bad[:3]))
        return not bad
