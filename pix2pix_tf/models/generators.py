"""The generators of pix2pix (the paper's U-Net, the ResNet reference, the distillation student
``unet_mobile``) as Keras functional models.

All models take and return float32 images in [-1, 1], channels last. Spatial sizes are left
unknown (None) so a generator built for 256 px also runs on any multiple of its stride.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from pix2pix_tf.config import MOBILE_CONVS, NORMS, UPSAMPLES, check_choice
from pix2pix_tf.models.layers import (
    KERAS_LAYERS,
    BilinearUpsampling2D,
    LayerTypes,
    ReflectionPadding2D,
    conv_bias,
    conv_initializer,
    maybe,
    normalization,
)


def _encoder(x, widths: list[int], norm: str, layer_types: LayerTypes):
    """C64-C128-...: LeakyReLU(0.2) -> 4x4 stride-2 conv -> norm; no norm on first and innermost.

    Returns the output of every level (the skips), finest first.
    """
    skips = []
    for level, width in enumerate(widths):
        if level > 0:
            x = layers.LeakyReLU(negative_slope=0.2, name=f"down{level}_lrelu")(x)
        x = layer_types.conv(
            width, 4, strides=2, padding="same", use_bias=conv_bias(norm),
            kernel_initializer=conv_initializer(), name=f"down{level}_conv",
        )(x)
        if 0 < level < len(widths) - 1:
            x = maybe(normalization(norm, f"down{level}_norm", layer_types), x)
        skips.append(x)  # (batch, size / 2**(level+1), same, width)
    return skips


def _upsample(x, width: int, upsample: str, use_bias: bool, name: str, layer_types: LayerTypes):
    """Doubles height and width: 4x4 transposed conv, or bilinear resize then 3x3 conv."""
    if upsample == "transpose":
        return layer_types.conv_transpose(
            width, 4, strides=2, padding="same", use_bias=use_bias,
            kernel_initializer=conv_initializer(), name=f"{name}_convt",
        )(x)
    x = BilinearUpsampling2D(name=f"{name}_resize")(x)
    return layer_types.conv(
        width, 3, padding="same", use_bias=use_bias, kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)


def unet_generator(
    image_size: int = 256,
    input_channels: int = 3,
    output_channels: int = 3,
    filters: int = 64,
    norm: str = "batch",
    dropout: float = 0.5,
    upsample: str = "transpose",
    name: str = "unet_generator",
    layer_types: LayerTypes = KERAS_LAYERS,
) -> keras.Model:
    """The paper's U-Net: log2(image_size) stride-2 levels with skip connections.

    Encoder C64-C128-C256-C512-... (LeakyReLU 0.2, no norm on the first and innermost levels),
    decoder ReLU -> up -> norm, dropout on the (up to) three full-width blocks next to the
    innermost, tanh out. At 256 px with the defaults: 54,413,955 trainable parameters, the
    PyTorch reference's count.

    Args:
      image_size: training size; a power of two from 32 to 1024. Sets the depth (8 at 256 px).
      input_channels, output_channels: 1 (gray) or 3 (RGB).
      filters: width of the first level (ngf); level i has filters * min(2**i, 8).
      norm: "batch" | "sync_batch" | "instance" | "none".
      dropout: rate of the decoder dropout (0 disables it).
      upsample: "transpose" (paper) | "resize" (bilinear + conv, no checkerboard artefacts).
      layer_types: the classes of the convolutions and batch norms (Keras' own by default).

    Returns:
      Model (batch, H, W, input_channels) in [-1, 1] -> (batch, H, W, output_channels) in [-1, 1],
      H and W multiples of image_size's stride 2**depth (any such size works).
    """
    check_choice("norm", norm, NORMS)
    check_choice("upsample", upsample, UPSAMPLES)
    depth, widths, dropout_blocks = _levels(image_size, filters)

    inputs = keras.Input((None, None, input_channels), name="input_image")
    skips = _encoder(inputs, widths, norm, layer_types)
    x = skips[-1]  # (batch, 1, 1, widths[-1]) at image_size
    for level in reversed(range(depth)):
        if level < depth - 1:
            x = layers.Concatenate(name=f"up{level}_concat")([skips[level], x])
        x = layers.ReLU(name=f"up{level}_relu")(x)
        if level == 0:
            x = _upsample(x, output_channels, upsample, use_bias=True, name="up0", layer_types=layer_types)
            break
        x = _upsample(x, widths[level - 1], upsample, conv_bias(norm), f"up{level}", layer_types)
        x = maybe(normalization(norm, f"up{level}_norm", layer_types), x)
        if level in dropout_blocks and dropout > 0:
            x = layers.Dropout(dropout, name=f"up{level}_dropout")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="output_image")(x)
    return keras.Model(inputs, outputs, name=name)


def _separable(x, width: int, stride: int, use_bias: bool, name: str, conv: type[layers.Conv2D]):
    """3x3 depthwise conv (``stride``) then 1x1 pointwise conv to ``width``: MobileNet's factorisation."""
    x = layers.DepthwiseConv2D(
        3, strides=stride, padding="same", use_bias=False, depthwise_initializer=conv_initializer(),
        name=f"{name}_dw",
    )(x)
    return conv(width, 1, use_bias=use_bias, kernel_initializer=conv_initializer(), name=f"{name}_pw")(x)


def unet_mobile_generator(
    image_size: int = 256,
    input_channels: int = 3,
    output_channels: int = 3,
    filters: int = 16,
    norm: str = "batch",
    dropout: float = 0.5,
    conv: str = "plain",
    name: str = "unet_mobile_generator",
    layer_types: LayerTypes = KERAS_LAYERS,
) -> keras.Model:
    """The distillation student: the paper's U-Net, narrower, with its activations where int8 TFLite fuses them.

    The same topology as ``unet_generator`` — log2(image_size) stride-2 levels, skips, norm after
    each level but the first and innermost, dropout on the same decoder blocks, tanh out — so the
    ``paper`` and ``eval`` inference modes mean the same, and it accepts the same sizes. Each level
    is one of (``conv``):

    - ``plain``: the U-Net's own 4x4 stride-2 conv and 4x4 transposed conv;
    - ``separable``: encoder 3x3 depthwise conv, stride 2 -> 1x1 conv; decoder 1x1 conv at the
      coarse size -> bilinear 2x resize -> 3x3 depthwise conv (MobileNet's factorisation).

    The first level, on the 1- or 3-channel image, is always a plain 4x4 stride-2 conv, and the
    last a conv to the output channels. Unlike the U-Net, every activation comes right after a
    conv (or its norm): encoder level -> norm -> LeakyReLU(0.2), whose output feeds both the next
    level and the skip; decoder level -> norm -> ReLU -> [dropout]. A converter fuses such an
    activation into the conv, where an int8 ReLU standing alone after a concatenation (as in the
    U-Net) has no XNNPACK kernel and splits the graph between XNNPACK and LiteRT's slower reference
    kernels. Every op is a TFLite builtin with an int8 kernel.

    At 256 px, 16 filters: ``plain`` 0.41 GMAC per image, ``separable`` 0.06, the U-Net 6.0
    (``pix2pix-tf benchmark --what=inference --generators=unet,unet_mobile`` prints them).

    Args:
      image_size: training size; a power of two from 32 to 1024. Sets the depth (8 at 256 px).
      input_channels, output_channels: 1 (gray) or 3 (RGB).
      filters: width of the first level; level i has filters * min(2**i, 8).
      norm: "batch" | "sync_batch" | "instance" | "none".
      dropout: rate of the decoder dropout (0 disables it).
      conv: "plain" | "separable" (``MOBILE_CONVS``).
      layer_types: the classes of the convolutions and batch norms (Keras' own by default).

    Returns:
      Model (batch, H, W, input_channels) in [-1, 1] -> (batch, H, W, output_channels) in [-1, 1],
      H and W multiples of 2**depth, as the U-Net.
    """
    check_choice("norm", norm, NORMS)
    check_choice("mobile_conv", conv, MOBILE_CONVS)
    depth, widths, dropout_blocks = _levels(image_size, filters)

    inputs = keras.Input((None, None, input_channels), name="input_image")
    x = layer_types.conv(
        widths[0], 4, strides=2, padding="same", use_bias=True, kernel_initializer=conv_initializer(), name="down0_conv",
    )(inputs)
    x = layers.LeakyReLU(negative_slope=0.2, name="down0_lrelu")(x)
    skips = [x]  # activated outputs of each level, finest first: (batch, size / 2**(level+1), same, widths[level])
    for level in range(1, depth):
        innermost = level == depth - 1
        use_bias = conv_bias(norm) or innermost
        if conv == "separable":
            x = _separable(x, widths[level], 2, use_bias, f"down{level}", layer_types.conv)
        else:
            x = layer_types.conv(widths[level], 4, strides=2, padding="same", use_bias=use_bias,
                                 kernel_initializer=conv_initializer(), name=f"down{level}_conv")(x)
        if innermost:
            x = layers.ReLU(name=f"down{level}_relu")(x)
            break
        x = maybe(normalization(norm, f"down{level}_norm", layer_types), x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"down{level}_lrelu")(x)
        skips.append(x)
    for level in reversed(range(depth)):
        if level < depth - 1:
            x = layers.Concatenate(name=f"up{level}_concat")([skips[level], x])
        last = level == 0
        width = output_channels if last and conv == "plain" else widths[max(level - 1, 0)]
        use_bias = last or conv_bias(norm)
        if conv == "separable":
            x = layer_types.conv(width, 1, use_bias=False, kernel_initializer=conv_initializer(),
                                 name=f"up{level}_pw")(x)
            x = BilinearUpsampling2D(name=f"up{level}_resize")(x)
            x = layers.DepthwiseConv2D(3, padding="same", use_bias=use_bias, depthwise_initializer=conv_initializer(),
                                       name=f"up{level}_dw")(x)
            if last:
                x = layer_types.conv(output_channels, 1, kernel_initializer=conv_initializer(), name="up0_out")(x)
        else:
            x = layer_types.conv_transpose(width, 4, strides=2, padding="same", use_bias=use_bias,
                                           kernel_initializer=conv_initializer(), name=f"up{level}_convt")(x)
        if last:
            break
        x = maybe(normalization(norm, f"up{level}_norm", layer_types), x)
        x = layers.ReLU(name=f"up{level}_relu")(x)
        if level in dropout_blocks and dropout > 0:
            x = layers.Dropout(dropout, name=f"up{level}_dropout")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="output_image")(x)
    return keras.Model(inputs, outputs, name=name)


def _levels(image_size: int, filters: int) -> tuple[int, list[int], range]:
    """A U-Net's depth (log2(image_size) levels), the width of each level (filters * min(2**level, 8))
    and the decoder levels that carry dropout (up to three next to the innermost); image_size must
    be a power of two from 32 to 1024."""
    if image_size < 32 or image_size > 1024 or image_size & (image_size - 1):
        raise ValueError(f"image_size must be a power of two from 32 to 1024, got {image_size}")
    depth = int(math.log2(image_size))
    return depth, [filters * min(2**level, 8) for level in range(depth)], range(max(4, depth - 4), depth - 1)


def _residual_block(x, width: int, norm: str, dropout: float, name: str, layer_types: LayerTypes):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm)(x)."""
    y = x
    for index in (1, 2):
        y = ReflectionPadding2D(1, name=f"{name}_pad{index}")(y)
        y = layer_types.conv(
            width, 3, use_bias=conv_bias(norm), kernel_initializer=conv_initializer(),
            name=f"{name}_conv{index}",
        )(y)
        y = maybe(normalization(norm, f"{name}_norm{index}", layer_types), y)
        if index == 1:
            y = layers.ReLU(name=f"{name}_relu")(y)
            if dropout > 0:
                y = layers.Dropout(dropout, name=f"{name}_dropout")(y)
    return layers.Add(name=f"{name}_add")([x, y])


def resnet_generator(
    blocks: int = 9,
    input_channels: int = 3,
    output_channels: int = 3,
    filters: int = 64,
    norm: str = "batch",
    dropout: float = 0.5,
    name: str = "resnet_generator",
    layer_types: LayerTypes = KERAS_LAYERS,
) -> keras.Model:
    """ResNet generator (Johnson et al., as in the PyTorch reference).

    c7s1-64, two stride-2 3x3 downsamplings, ``blocks`` residual blocks (6 or 9 usual) at 4x the
    base width, two stride-2 transposed convs, c7s1-output, tanh. Reflection padding throughout.

    Returns:
      Model (batch, H, W, input_channels) in [-1, 1] -> (batch, H, W, output_channels) in [-1, 1],
      H and W multiples of 4.

    ``dropout`` (0.5, as the reference trains pix2pix) sits between the two convs of each block;
    ``layer_types`` gives the classes of the convolutions and batch norms (Keras' own by default).
    """
    check_choice("norm", norm, NORMS)
    if blocks < 1:
        raise ValueError(f"blocks must be >= 1, got {blocks}")
    inputs = keras.Input((None, None, input_channels), name="input_image")
    x = ReflectionPadding2D(3, name="stem_pad")(inputs)
    x = layer_types.conv(filters, 7, use_bias=conv_bias(norm), kernel_initializer=conv_initializer(),
                         name="stem_conv")(x)
    x = maybe(normalization(norm, "stem_norm", layer_types), x)
    x = layers.ReLU(name="stem_relu")(x)
    for index, width in enumerate((filters * 2, filters * 4), start=1):
        x = layer_types.conv(
            width, 3, strides=2, padding="same", use_bias=conv_bias(norm), kernel_initializer=conv_initializer(),
            name=f"down{index}_conv",
        )(x)
        x = maybe(normalization(norm, f"down{index}_norm", layer_types), x)
        x = layers.ReLU(name=f"down{index}_relu")(x)
    for index in range(blocks):
        x = _residual_block(x, filters * 4, norm, dropout, f"block{index}", layer_types)
    for index, width in enumerate((filters * 2, filters), start=1):
        x = layer_types.conv_transpose(
            width, 3, strides=2, padding="same", use_bias=conv_bias(norm), kernel_initializer=conv_initializer(),
            name=f"up{index}_convt",
        )(x)
        x = maybe(normalization(norm, f"up{index}_norm", layer_types), x)
        x = layers.ReLU(name=f"up{index}_relu")(x)
    x = ReflectionPadding2D(3, name="head_pad")(x)
    x = layer_types.conv(output_channels, 7, kernel_initializer=conv_initializer(), name="head_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="output_image")(x)
    return keras.Model(inputs, outputs, name=name)


def build_generator(model_config, image_size: int, layer_types: LayerTypes = KERAS_LAYERS) -> keras.Model:
    """The generator a ModelConfig describes, its convolutions and batch norms of ``layer_types``."""
    if model_config.generator == "unet":
        return unet_generator(
            image_size, model_config.input_channels, model_config.output_channels,
            model_config.filters, model_config.norm, model_config.dropout, model_config.upsample,
            layer_types=layer_types,
        )
    if model_config.generator == "unet_mobile":
        return unet_mobile_generator(
            image_size, model_config.input_channels, model_config.output_channels,
            model_config.filters, model_config.norm, model_config.dropout, model_config.mobile_conv,
            layer_types=layer_types,
        )
    return resnet_generator(
        model_config.resnet_blocks, model_config.input_channels, model_config.output_channels,
        model_config.filters, model_config.norm, model_config.dropout, layer_types=layer_types,
    )
