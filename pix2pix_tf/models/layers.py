"""The layers the networks are built from: Keras' own, chosen through ``LayerTypes``; normalization
and initialization as the paper; the padding and resizing layers Keras lacks; precision."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.config import NORMS, check_choice


@dataclasses.dataclass(frozen=True)
class LayerTypes:
    """The classes a builder makes its convolutions and batch norms from, as flax's ResNet takes
    ``conv: ModuleDef = nn.Conv``: Keras' own by default. The train step passes others with the same
    constructor, variables and math (``pix2pix_tf.kernels``) where they run faster; the models never
    know the machine. Each is called as its Keras counterpart."""

    conv: type[layers.Conv2D] = layers.Conv2D
    conv_transpose: type[layers.Conv2DTranspose] = layers.Conv2DTranspose
    batch_norm: type[layers.BatchNormalization] = layers.BatchNormalization


KERAS_LAYERS = LayerTypes()


def conv_initializer() -> keras.initializers.Initializer:
    """Convolution weights ~ N(0, 0.02), as in the paper."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def maybe(layer: layers.Layer | None, x):
    """``layer(x)``, or ``x`` where the layer is None (no normalization)."""
    return x if layer is None else layer(x)


def normalization(norm: str, name: str, layer_types: LayerTypes = KERAS_LAYERS) -> layers.Layer | None:
    """The normalization layer for ``norm``, or None for ``"none"``.

    Batch norm (``layer_types.batch_norm``) uses PyTorch's momentum (0.1, i.e. 0.9 here) and
    epsilon, with gamma ~ N(1, 0.02). ``sync_batch`` is batch norm whose statistics span every
    replica of a distribution strategy (the global batch); on one device it is plain batch norm.
    Instance norm has no affine parameters, like PyTorch's ``InstanceNorm2d`` default.
    """
    check_choice("norm", norm, NORMS)
    if norm in ("batch", "sync_batch"):
        return layer_types.batch_norm(
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
class BilinearUpsampling2D(layers.Layer):
    """Doubles height and width by bilinear interpolation (half-pixel centres), for inputs whose
    size is known only when they arrive (Keras' UpSampling2D needs it when the graph is traced,
    which a SavedModel taking any size cannot give). One TFLite RESIZE_BILINEAR op.

    Input (batch, height, width, channels) -> (batch, 2 height, 2 width, channels), same dtype.
    """

    def call(self, inputs):
        shape = tf.shape(inputs)
        outputs = tf.image.resize(inputs, tf.stack([2 * shape[1], 2 * shape[2]]), method="bilinear")
        return tf.cast(outputs, inputs.dtype)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        double = lambda size: None if size is None else 2 * size  # noqa: E731
        return (batch, double(height), double(width), channels)


# TrainConfig.mixed_precision -> Keras dtype policy.
DTYPE_POLICIES = {  # keys: MIXED_PRECISIONS
    "none": "float32", "float16": "mixed_float16", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def dtype_policy(mixed_precision: str = "none") -> Iterator[None]:
    """Layers built inside compute in the chosen precision (variables stay float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(DTYPE_POLICIES[mixed_precision])
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
