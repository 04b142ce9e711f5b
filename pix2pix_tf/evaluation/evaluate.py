"""``evaluate_model``: what ``pix2pix-tf evaluate`` runs — a model over a split, into a report folder."""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable

import numpy as np

from pix2pix_tf import palettes, run_folder
from pix2pix_tf.config import check_palette
from pix2pix_tf.data import pipeline
from pix2pix_tf.evaluation import metrics, realism, scoring
from pix2pix_tf.evaluation.report import ReportWriter
from pix2pix_tf.progress import format_duration


def evaluate_model(
    model: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    data: str | None = None,
    split: str = "val",
    mode: str | None = None,
    checkpoint: str | None = None,
    max_images: int = 0,
    palette: str = "none",
    segmenter: str | os.PathLike | None = None,
    inception_weights: str | None = None,
    grid_images: int = 8,
    log: Callable[[str], None] = print,
) -> tuple[scoring.Evaluation, dict[str, pathlib.Path]]:
    """Runs a model over a split; writes ``metrics.json``, ``index.html``, ``grid.png`` and ``images/``.

    Args:
      model: a run folder, a SavedModel or export folder, or a .tflite file (``Translator.load``).
      out_dir: the report folder; default ``<model folder>/eval_<split>``.
      data: the dataset; default the one the model was trained on (its config).
      split: "val", "train" or any split folder of ``data``.
      mode: "paper" or "eval" for a run folder (default: the run's ``eval_mode``).
      checkpoint: of a run folder: None or "latest", "best" (chosen by validation) or a path.
      max_images: score the first N images only (0: all).
      palette: a name of ``palettes.LABEL_PALETTES`` ("facades", "synthetic") or your own classes'
        colours ("colors:#rrggbb,#rrggbb,...") also scores label maps (pixel and class accuracy, class
        IoU); "none" does not. With ``segmenter``, the palette of the segmenter's label maps instead.
      segmenter: a photo -> label-map model (run folder, export, .tflite or shipped model) that reads
        each generated photo and the real one (the paper's FCN score, ``realism``): for models that
        make photos from label maps. Its palette: ``palette``, else the model's label palette,
        else the segmenter's own.
      inception_weights: also compute FID and KID: "imagenet" (downloads once) or a local
        InceptionV3(include_top=False) weights file. None skips them.
      log: where progress lines go.
    Returns:
      The evaluation (summary and per-image rows) and the paths of the files written, by name.
    Raises:
      ValueError naming the model, data or split that cannot be used.
    """
    from pix2pix_tf.deploy.translator import Translator

    check_palette(palette)
    for name, value in (("max_images", max_images), ("grid_images", grid_images)):
        if value < 0:
            raise ValueError(f"--{name} must be >= 0, got {value}")
    model_path = pathlib.Path(model).expanduser()
    translator = Translator.load(model_path, mode, checkpoint=checkpoint)
    record = model_path / run_folder.DATA_RECORD if model_path.is_dir() else None
    config, data_dir = pipeline.with_data(translator.config, data, record)
    names = pipeline.example_names(config, split, data_dir)
    dataset = pipeline.make_dataset(config, split, training=False, batch_size=1, data_dir=data_dir)
    if max_images:
        dataset, names = dataset.take(max_images), names[:max_images]
    features = metrics.inception_feature_extractor(inception_weights) if inception_weights else None
    reader = None
    if segmenter:
        reader_palette = palette if palette != "none" else translator.config.data.palette
        reader = realism.load_segmenter(segmenter, palette=None if reader_palette == "none" else reader_palette)
        palette = "none"  # the outputs are photos: the segmenter reads them, not the palette score
    folder = model_path if model_path.is_dir() else model_path.parent
    out_dir = pathlib.Path(out_dir).expanduser() if out_dir else folder / f"eval_{split}"
    writer = ReportWriter(out_dir, grid_images)
    started = time.perf_counter()
    log(f"evaluating {translator.source} ({translator.mode or 'unknown'} mode) on {data_dir} [{split}], "
        f"{len(names)} images -> {out_dir}")

    def on_image(index, name, source, target, output, scores) -> None:
        writer.add(index, name, source, target, output, scores)
        done = index + 1
        if done % 25 == 0 or done == len(names):
            elapsed = time.perf_counter() - started
            log(f"  {done}/{len(names)} images, {done / elapsed:.1f} img/s, "
                f"ETA {format_duration(elapsed / done * (len(names) - done))}")

    result = scoring.score(
        translator.translate_float, dataset, names=names, palette=_colours(palette), segmenter=reader,
        features=features, on_image=on_image,
    )
    info = {"model": str(translator.source), "checkpoint": checkpoint or "latest", "mode": translator.mode, "data": str(data_dir), "split": split,
            "seconds": round(time.perf_counter() - started, 1)}
    if features is not None:
        info["inception_weights"] = str(inception_weights)
    if reader is not None:
        info["segmenter"] = reader.source
    return result, writer.finish(result, info)


def summary_lines(summary: dict[str, float]) -> list[str]:
    """Human-readable lines of an evaluation summary (the model's scores, then the baselines)."""
    def value(name: str) -> str:
        number = summary[name]
        return f"{number:.2f}" if name.endswith("psnr") or name in ("fid",) else f"{number:.4f}"

    own = [name for name in ("l1", "psnr", "ssim", "pixel_accuracy", "class_accuracy", "class_iou", "fid", "kid")
           if name in summary]
    lines = [f"{summary['images']} images: " + ", ".join(f"{name} {value(name)}" for name in own)]
    fcn = ("pixel_accuracy", "class_accuracy", "class_iou")
    if realism.PREFIX + "class_iou" in summary:
        lines.append("FCN score (a segmenter reads the outputs): " + ", ".join(
            f"{name} {value(realism.PREFIX + name)}" for name in fcn))
    if realism.REAL_PREFIX + "class_iou" in summary:
        lines.append("FCN score of the real photos (the ceiling): " + ", ".join(
            f"{name} {value(realism.REAL_PREFIX + name)}" for name in fcn))
    for baseline in ("mean_target", "identity"):
        names = [name for name in summary if name.startswith(f"baseline_{baseline}_")]
        if names:
            lines.append(f"baseline {baseline}: " + ", ".join(
                f"{name.rsplit('_', 1)[1]} {value(name)}" for name in names))
    return lines




def _colours(palette: str) -> np.ndarray | None:
    """(classes, 3) uint8 colours of ``palette`` for the palette score; None for "none"."""
    colours = list(palettes.classes(palette).values())
    return np.array(colours, np.uint8) if colours else None
