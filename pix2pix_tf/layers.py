"""Serializable custom layers and the normalization/initialization choices of the paper."""

from __future__ import annotations

import keras
from keras import layers

NORMS = ("batch", "instance", "none")


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
    Instance norm has no affine parameters, like PyTorch's ``InstanceNorm2d`` default.
    """
    check_choice("norm", norm, NORMS)
    if norm == "batch":
        return layers.BatchNormalization(
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
    return norm != "batch"


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
