"""The PatchGAN discriminator of pix2pix (1x1 PixelGAN to 286x286 ImageGAN) as a Keras functional model."""

from __future__ import annotations

import keras
from keras import layers

from pix2pix_tf.config import NORMS, check_choice
from pix2pix_tf.models.layers import conv_bias, conv_initializer, maybe, normalization


def _disc_conv(x, width: int, kernel: int, stride: int, use_bias: bool, name: str):
    """PyTorch-style conv with explicit symmetric padding of 1 (for 4x4 kernels)."""
    if kernel > 1:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return layers.Conv2D(
        width, kernel, strides=stride, use_bias=use_bias, kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)


def _discriminator_layers(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each conv of the PatchGAN with ``n_layers`` stride-2 layers."""
    if n_layers == 0:
        return [(1, 1)] * 3
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def receptive_field(n_layers: int = 3) -> int:
    """Side in pixels of the input window one discriminator output sees: 1, 16, 70, 286 for 0, 1, 3, 5."""
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    field = 1
    for kernel, stride in reversed(_discriminator_layers(n_layers)):
        field = (field - 1) * stride + kernel
    return field


def patchgan_discriminator(
    n_layers: int = 3,
    filters: int = 64,
    norm: str = "batch",
    conditional: bool = True,
    input_channels: int = 3,
    output_channels: int = 3,
    name: str = "patchgan_discriminator",
) -> keras.Model:
    """PatchGAN: classifies each receptive_field(n_layers)-pixel patch as real or fake.

    n_layers=3 is the paper's 70x70 C64-C128-C256-C512 (the first without norm, with bias; the
    last two stride 1) -> 1 logit per patch: 30x30 logits at 256 px, 2,768,705 parameters.
    n_layers=0 is the 1x1 PixelGAN.

    Args:
      conditional: True (cGAN) takes [input_image, image] and concatenates them on channels;
        False takes the image alone (the paper's unconditional ablation).
      input_channels, output_channels: channels of the generator's input and output.

    Returns:
      Model ([input_image (b, H, W, input_channels), image (b, H, W, output_channels)]
      or image alone) -> logits (b, H', W', 1), float32.
    """
    check_choice("norm", norm, NORMS)
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}")
    image = keras.Input((None, None, output_channels), name="image")
    if conditional:
        source = keras.Input((None, None, input_channels), name="input_image")
        inputs = [source, image]
        x = layers.Concatenate(name="pair")([source, image])  # (b, H, W, in + out channels)
    else:
        inputs = image
        x = image
    specs = _discriminator_layers(n_layers)
    widths = [filters * min(2**index, 8) for index in range(len(specs) - 1)] + [1]
    for index, ((kernel, stride), width) in enumerate(zip(specs, widths)):
        last = index == len(specs) - 1
        use_bias = index == 0 or last or conv_bias(norm)
        if n_layers == 0 and last:
            use_bias = conv_bias(norm)  # the PixelGAN's last conv follows the reference
        x = _disc_conv(x, width, kernel, stride, use_bias, name=f"layer{index}")
        if last:
            break
        if index > 0:
            x = maybe(normalization(norm, f"layer{index}_norm"), x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"layer{index}_lrelu")(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs, name=name)


def build_discriminator(model_config) -> keras.Model:
    """The discriminator a ModelConfig describes."""
    return patchgan_discriminator(
        model_config.disc_layers, model_config.disc_filters, model_config.norm,
        model_config.conditional, model_config.input_channels, model_config.output_channels,
    )
