"""The generator in an inference mode: the one definition of ``paper`` and ``eval`` inference.

Everything that runs a trained generator goes through ``inference_generator``: the sample grids
and validation during training, ``metrics.json``, ``evaluate``, ``export`` (SavedModel and
TFLite), ``translate`` and the benchmarks. So the model a user ships computes exactly what was
scored, in either mode.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.config import INFERENCE_MODES, check_choice
from pix2pix_tf.models.layers import FixedDropout, MovingStatisticsBatchNormalization, PerImageBatchNormalization


def seed_states(model: keras.Model) -> list:
    """The random-number states of the model's dropout layers (Keras keeps them out of ``weights``)."""
    return [layer.seed_generator.state for layer in model.layers if hasattr(layer, "seed_generator")]


def _inference_layer(layer: layers.Layer, mode: str, seeds: Iterator[int]) -> layers.Layer:
    """The layer that stands for ``layer`` in an inference graph of ``mode`` (weights shared)."""
    if isinstance(layer, layers.Dropout):
        if mode == "paper":
            return FixedDropout(layer.rate, next(seeds), name=layer.name, dtype=layer.dtype_policy)
        return layers.Identity(name=layer.name, dtype=layer.dtype_policy)
    if isinstance(layer, layers.BatchNormalization):
        normalization = PerImageBatchNormalization if mode == "paper" else MovingStatisticsBatchNormalization
        return normalization.sharing(layer)
    return layer  # the same layer object: its weights are the generator's


def inference_generator(generator: keras.Model, mode: str, seed: int = 0) -> keras.Model:
    """``generator`` as a deterministic inference graph of ``mode``, sharing its weights.

    - ``eval``: batch norm with its moving statistics, no dropout.
    - ``paper``: as the paper evaluates: batch norm with the statistics of each image alone and
      dropout on, with one fixed mask per dropout layer (drawn statelessly from ``seed`` + the
      layer's index and the input size), the same for every image of a batch.

    Either way an image's output depends neither on the rest of its batch nor on the call: the
    same image gives the same output in a sample grid, in validation, in ``evaluate``, in an
    exported SavedModel or TFLite file. The model shares the generator's variables (training
    goes on changing them; nothing is copied), and calling it changes no state: no moving
    statistics, no random-number state, whatever ``training`` says.

    Args:
      generator: a functional generator (``unet_generator``, ``resnet_generator``), any norm.
      mode: "paper" | "eval".
      seed: seed of the fixed dropout masks in ``paper`` mode.

    Returns:
      A functional model (batch, H, W, input_channels) float32 in [-1, 1] ->
      (batch, H, W, output_channels) float32 in [-1, 1], H and W as the generator accepts.
    """
    check_choice("mode", mode, INFERENCE_MODES)
    seeds = itertools.count(seed)
    return keras.models.clone_model(
        generator, clone_function=lambda layer: _inference_layer(layer, mode, seeds)
    )


def make_generate_fn(generator: keras.Model, mode: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """The compiled function images -> ``inference_generator(generator, mode)``'s outputs.

    Takes float32 (batch, H, W, input_channels) in [-1, 1] of any batch and size the generator
    accepts; returns float32 (batch, H, W, output_channels) in [-1, 1].
    """
    model = inference_generator(generator, mode)
    return tf.function(lambda images: model(images, training=False), reduce_retracing=True)
