"""Scores of a generator on a split, beside the trivial baselines it has to beat."""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from pix2pix_tf import metrics


def evaluate(generate: Callable[[tf.Tensor], tf.Tensor], dataset: tf.data.Dataset) -> dict[str, float]:
    """Mean L1 ([0, 1] scale) and PSNR (dB) of ``generate`` over ``dataset``.

    Also scores two baselines a trained model must beat: ``identity`` (output = input; only when
    input and target have the same channels) and ``mean_target`` (every output is the per-pixel
    mean of the split's targets: the best constant image, an oracle that has seen the targets;
    the mean colour when the targets differ in size).

    Args:
      generate: (batch, H, W, C_in) -> (batch, H, W, C_out), float32 in [-1, 1].
      dataset: batches of (input_image, target_image) in [-1, 1].
    """
    scores: dict[str, list[np.ndarray]] = {}
    pairs = list(dataset)
    targets = [target for _, target in pairs]
    if len({tuple(target.shape[1:]) for target in targets}) == 1:
        mean_target = tf.reduce_mean(tf.concat(targets, axis=0), axis=0, keepdims=True)
    else:
        mean_target = tf.reduce_mean(tf.stack([tf.reduce_mean(t, axis=[0, 1, 2]) for t in targets]), axis=0)

    def add(prefix: str, target, output) -> None:
        scores.setdefault(f"{prefix}l1", []).append(metrics.per_image_l1(target, output).numpy())
        scores.setdefault(f"{prefix}psnr", []).append(metrics.per_image_psnr(target, output).numpy())

    for inputs, target in pairs:
        add("", target, generate(inputs))
        add("baseline_mean_target_", target, tf.broadcast_to(mean_target, tf.shape(target)))
        if inputs.shape[-1] == target.shape[-1]:
            add("baseline_identity_", target, inputs)
    results = {name: float(np.mean(np.concatenate(values))) for name, values in scores.items()}
    results["images"] = sum(int(target.shape[0]) for target in targets)
    return results
