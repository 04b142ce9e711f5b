"""The generator in an inference mode: the one definition of ``paper`` and ``eval`` inference.

Everything that runs a trained generator goes through ``inference_generator``: the sample grids
and validation during training, ``metrics.json``, ``evaluate``, ``export`` (SavedModel and
TFLite), ``translate`` and the benchmarks. So the model a user ships computes exactly what was
scored, in either mode. The layers that stand in for batch norm and dropout in these graphs
are defined here too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.config import INFERENCE_MODES, check_choice


class _InferenceNormalization(layers.Layer):
    """Batch norm for inference graphs: ``statistics`` says which mean and variance, whatever
    ``training`` says. Input (batch, height, width, channels) -> same shape, computed in float32
    (as BatchNormalization computes its statistics, even under mixed precision)."""

    _shared = ("gamma", "beta")

    def __init__(self, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    @classmethod
    def sharing(cls, batch_norm: layers.BatchNormalization) -> _InferenceNormalization:
        """A layer of ``batch_norm``'s name that reads ``batch_norm``'s own variables (nothing copied)."""
        layer = cls(batch_norm.epsilon, batch_norm.center, batch_norm.scale, name=batch_norm.name,
                    dtype=batch_norm.dtype_policy)
        for name in cls._shared:
            setattr(layer, name, getattr(batch_norm, name))
        layer.built = True
        return layer

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta") if self.center else None

    def _statistics(self, values):
        raise NotImplementedError

    def call(self, inputs, mask=None):
        # ``mask`` is accepted (and unused) because clone_model replays BatchNormalization's call
        # arguments on this layer.
        values = keras.ops.cast(inputs, "float32")
        mean, variance = self._statistics(values)
        outputs = (values - mean) * keras.ops.rsqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * self.gamma
        if self.center:
            outputs = outputs + self.beta
        return keras.ops.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon, "center": self.center, "scale": self.scale}


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class PerImageBatchNormalization(_InferenceNormalization):
    """Batch norm with the statistics of each image alone, as the paper evaluates (``paper`` mode).

    Each image is normalized with its own mean and variance over height and width, then scaled
    by gamma and shifted by beta. With a batch of one this is what
    ``BatchNormalization(training=True)`` computes, but an image's output never depends on the
    rest of its batch and no moving statistics are updated.
    """

    def _statistics(self, values):
        return keras.ops.moments(values, axes=(1, 2), keepdims=True)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class MovingStatisticsBatchNormalization(_InferenceNormalization):
    """Batch norm with its moving mean and variance (``eval`` mode), even when called with
    ``training=True``; updates nothing."""

    _shared = ("gamma", "beta", "moving_mean", "moving_variance")

    def build(self, input_shape):
        super().build(input_shape)
        shape = (input_shape[-1],)
        self.moving_mean = self.add_weight(shape=shape, initializer="zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(shape=shape, initializer="ones", name="moving_variance",
                                               trainable=False)

    def _statistics(self, values):
        return self.moving_mean, self.moving_variance


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class FixedDropout(layers.Layer):
    """Dropout that is always on, with one mask fixed by ``seed``: deterministic inference.

    Input (batch, height, width, channels) -> same shape. The mask, of shape
    (1, height, width, channels), is drawn by a stateless generator from ``seed`` and the input
    size, so every call and every image of a batch drops the same units; kept units are scaled
    by 1 / (1 - rate), as in training. Where the input size is fixed when the graph is traced
    (TFLite), the mask is drawn once and enters the graph as a constant: TFLite has no kernel for
    the random ops, and its converter folds them into constants only for small masks.
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0 <= rate < 1:
            raise ValueError(f"FixedDropout rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = int(seed)

    def _keep(self, height, width, channels):
        """Boolean (1, height, width, channels): the units this layer keeps at this size."""
        return keras.random.uniform((1, height, width, channels), seed=self.seed) >= self.rate

    def call(self, inputs):
        size = tuple(inputs.shape[1:])
        if None not in size:
            with tf.init_scope():  # drawn eagerly: a constant of the traced graph
                keep = self._keep(*size)
        else:
            shape = keras.ops.shape(inputs)
            keep = self._keep(shape[1], shape[2], shape[3])
        # A multiplication by the scaled mask (not a select): TFLite's XNNPACK runs MUL, in float and
        # int8, where SELECT_V2 would split the graph and fall back to LiteRT's reference kernels.
        scale = keras.ops.cast(keep, inputs.dtype) * keras.ops.cast(1.0 / (1.0 - self.rate), inputs.dtype)
        return inputs * scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


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
