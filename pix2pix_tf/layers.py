"""Serializable custom layers and the normalization/initialization choices of the paper."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

NORMS = ("batch", "sync_batch", "instance", "none")


def conv_initializer() -> keras.initializers.Initializer:
    """Convolution weights ~ N(0, 0.02), as in the paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """Raises ValueError naming the option and its allowed values."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not valid; choose one of: {', '.join(choices)}")


def normalization(norm: str, name: str) -> layers.Layer | None:
    """The normalization layer for ``norm``, or None for ``"none"``.

    Batch norm uses PyTorch's momentum (0.1, i.e. 0.9 here) and epsilon, with gamma ~ N(1, 0.02).
    ``sync_batch`` is batch norm whose statistics span every replica of a distribution strategy
    (the global batch); on one device it is plain batch norm.
    Instance norm has no affine parameters, like PyTorch's ``InstanceNorm2d`` default.
    """
    check_choice("norm", norm, NORMS)
    if norm in ("batch", "sync_batch"):
        return layers.BatchNormalization(
            synchronized=norm == "sync_batch",
            momentum=0.9,
            epsilon=1e-5,
            gamma_initializer=keras.initializers.RandomNormal(mean=1.0, stddev=0.02),
            name=name,
        )
    if norm == "instance":
        return layers.GroupNormalization(groups=-1, epsilon=1e-5, center=False, scale=False, name=name)
    return None


def conv_bias(norm: str) -> bool:
    """Convolutions followed by batch norm carry no bias: the norm's beta replaces it."""
    return norm not in ("batch", "sync_batch")


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring, without repeating the edge pixel.

    Input (batch, height, width, channels) -> (batch, height + 2p, width + 2p, channels).
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = lambda size: None if size is None else size + 2 * self.padding  # noqa: E731
        return (batch, grow(height), grow(width), channels)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class PerImageBatchNormalization(layers.Layer):
    """Batch norm with the statistics of each image alone, as the paper evaluates.

    Input (batch, height, width, channels) -> same shape: each image is normalized with its own
    mean and variance over height and width, then scaled by gamma and shifted by beta. With a
    batch of one this is what ``BatchNormalization(training=True)`` computes, but an image's
    output never depends on the rest of its batch and no moving statistics are updated.
    """

    def __init__(self, epsilon: float = 1e-5, center: bool = True, scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)

    def build(self, input_shape):
        shape = (input_shape[-1],)
        self.gamma = self.add_weight(shape=shape, initializer="ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(shape=shape, initializer="zeros", name="beta") if self.center else None

    def call(self, inputs, mask=None):
        # ``mask`` is accepted (and unused) because clone_model replays BatchNormalization's call
        # arguments on this layer. Statistics in float32 even under mixed precision, as BatchNormalization computes them.
        values = keras.ops.cast(inputs, "float32")
        mean, variance = keras.ops.moments(values, axes=(1, 2), keepdims=True)
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
        kept = inputs / (1.0 - self.rate)
        return keras.ops.where(keep, kept, keras.ops.zeros_like(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

