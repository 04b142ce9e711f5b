"""Scores of a generator on a split, per image and in the mean, beside the trivial baselines it has to beat."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf

from pix2pix_tf.evaluation import metrics, realism

# Per-image scores and whether larger is better (for "best" checkpoints and worst-first sorting).
HIGHER_IS_BETTER = {"l1": False, "psnr": True, "ssim": True, "pixel_accuracy": True,
                    "class_accuracy": True, "class_iou": True, "fcn_pixel_accuracy": True,
                    "fcn_class_accuracy": True, "fcn_class_iou": True}

# on_image(index, name, input, target, output, scores): inputs (H, W, C) float32 in [-1, 1].
ImageCallback = Callable[[int, str, np.ndarray, np.ndarray, np.ndarray, dict[str, float]], None]


@dataclasses.dataclass
class Evaluation:
    """What ``evaluate`` measured.

    Attributes:
      summary: means over the split: l1, psnr, ssim; baseline_mean_target_* and
        baseline_identity_* (same metrics); pixel_accuracy, class_accuracy and class_iou with a
        palette; fcn_* and fcn_real_* with a segmenter (``realism``); fid and kid with a feature
        extractor; images (the count).
      rows: one dict per image, in dataset order: name, l1, psnr, ssim (+ palette and FCN scores).
    """

    summary: dict[str, float]
    rows: list[dict]


@tf.function(reduce_retracing=True)
def _scores(target: tf.Tensor, output: tf.Tensor) -> dict[str, tf.Tensor]:
    return {
        "l1": metrics.per_image_l1(target, output),
        "psnr": metrics.per_image_psnr(target, output),
        "ssim": metrics.per_image_ssim(target, output),
    }


def image_scores(target: tf.Tensor, output: tf.Tensor) -> dict[str, np.ndarray]:
    """L1, PSNR and SSIM of a batch, each (batch,) float."""
    output = tf.convert_to_tensor(output, tf.float32)
    return {name: values.numpy() for name, values in _scores(target, tf.broadcast_to(output, tf.shape(target))).items()}


def _mean_target(dataset: tf.data.Dataset) -> tf.Tensor:
    """The per-pixel mean target (the mean colour when targets differ in size): a first pass, targets only."""
    total, count, shapes = None, 0, set()
    for _, target in dataset:
        shapes.add(tuple(target.shape[1:]))
        if len(shapes) > 1:
            break
        total = tf.reduce_sum(target, axis=0) if total is None else total + tf.reduce_sum(target, axis=0)
        count += int(target.shape[0])
    if len(shapes) == 1:
        return (total / count)[tf.newaxis]
    colours = [tf.reduce_mean(target, axis=[0, 1, 2]) for _, target in dataset]
    return tf.reduce_mean(tf.stack(colours), axis=0)


def score(
    generate: Callable[[tf.Tensor], tf.Tensor],
    dataset: tf.data.Dataset,
    *,
    names: Iterable[str] | None = None,
    palette: np.ndarray | None = None,
    segmenter: realism.Segmenter | None = None,
    features: Callable[[tf.Tensor], np.ndarray] | None = None,
    on_image: ImageCallback | None = None,
) -> Evaluation:
    """Scores ``generate`` over ``dataset``, one batch in memory at a time.

    Also scores two baselines a trained model must beat: ``identity`` (output = input; only when
    input and target have the same channels) and ``mean_target`` (every output is the per-pixel
    mean of the split's targets: the best constant image, an oracle that has seen the targets).

    Args:
      generate: (batch, H, W, C_in) -> (batch, H, W, C_out), float32 in [-1, 1].
      dataset: batches of (input_image, target_image) in [-1, 1]; read twice (targets, then all).
      names: a name per image for ``rows`` (default: the image's index).
      palette: (classes, 3) uint8 colours: also score label maps (``metrics.PaletteScore``).
      segmenter: also score the realism of generated photos made from label maps, and of the
        real photos beside them (``realism.RealismScore``).
      features: images -> (batch, d) features (``metrics.inception_feature_extractor``): also
        FID and KID of the outputs against the targets.
      on_image: called after each image, e.g. to write it or show progress.
    """
    mean_target = _mean_target(dataset)
    names = iter(names) if names is not None else None
    palette_score = metrics.PaletteScore(palette) if palette is not None else None
    realism_score = realism.RealismScore(segmenter) if segmenter is not None else None
    totals: dict[str, list[np.ndarray]] = {}
    rows: list[dict] = []
    feature_sets: tuple[list, list] = ([], [])
    for inputs, target in dataset:
        output = tf.convert_to_tensor(generate(inputs), tf.float32)
        scores = image_scores(target, output)
        baselines = {"baseline_mean_target_": tf.broadcast_to(mean_target, tf.shape(target))}
        if inputs.shape[-1] == target.shape[-1]:
            baselines["baseline_identity_"] = inputs
        for prefix, baseline in baselines.items():
            for name, values in image_scores(target, baseline).items():
                totals.setdefault(prefix + name, []).append(values)
        palette_rows = palette_score.update(target.numpy(), output.numpy()) if palette_score else None
        realism_rows = realism_score.update(inputs.numpy(), target.numpy(), output.numpy()) if realism_score else None
        if features is not None:
            feature_sets[0].append(features(output))
            feature_sets[1].append(features(target))
        for index in range(int(target.shape[0])):
            row = {"name": next(names) if names is not None else str(len(rows))}
            row.update({name: float(values[index]) for name, values in scores.items()})
            if palette_rows:
                row.update(palette_rows[index])
            if realism_rows:
                row.update(realism_rows[index])
            rows.append(row)
            if on_image is not None:
                on_image(len(rows) - 1, row["name"], inputs[index].numpy(), target[index].numpy(),
                         output[index].numpy(), row)
    if not rows:
        raise ValueError("the dataset to evaluate holds no images")
    summary = {name: float(np.mean([row[name] for row in rows])) for name in ("l1", "psnr", "ssim")}
    summary.update({name: float(np.mean(np.concatenate(values))) for name, values in totals.items()})
    if palette_score:
        summary.update(palette_score.result())
    if realism_score:
        summary.update(realism_score.result())
    if features is not None and len(rows) >= 2:
        generated, real = np.concatenate(feature_sets[0]), np.concatenate(feature_sets[1])
        summary["fid"] = metrics.frechet_distance(generated, real)
        summary["kid"] = metrics.kernel_distance(generated, real)
    summary["images"] = len(rows)
    return Evaluation(summary, rows)
