"""The PatchGAN discriminator of pix2pix (1x1 PixelGAN to 286x286 ImageGAN) as a Keras functional model,
and pix2pixHD's multi-scale discriminator: PatchGANs on the image and its average-pooled copies.

A discriminator's output is what the train step reads through ``scale_outputs``: per scale, the
logits and (when built with ``features=True``, for feature matching) the activations of its hidden
layers."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf.config import NORMS, check_choice
from pix2pix_tf.models.layers import (
    KERAS_LAYERS,
    LayerTypes,
    conv_bias,
    conv_initializer,
    maybe,
    normalization,
)


def _disc_conv(x, width: int, kernel: int, stride: int, use_bias: bool, name: str, conv: type[layers.Conv2D]):
    """PyTorch-style conv with explicit symmetric padding of 1 (for 4x4 kernels)."""
    if kernel > 1:
        x = layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return conv(
        width, kernel, strides=stride, use_bias=use_bias, kernel_initializer=conv_initializer(),
        name=f"{name}_conv",
    )(x)


def _discriminator_layers(n_layers: int) -> list[tuple[int, int]]:
    """(kernel, stride) of each conv of the PatchGAN with ``n_layers`` stride-2 layers."""
    if n_layers == 0:
        return [(1, 1)] * 3
    return [(4, 2)] * n_layers + [(4, 1), (4, 1)]


def output_size(n_layers: int, size: int) -> int:
    """Side of the logits map a PatchGAN with ``n_layers`` gives for a ``size``-pixel input (30 for 3, 256)."""
    for kernel, stride in _discriminator_layers(n_layers):
        padding = 1 if kernel > 1 else 0
        size = (size + 2 * padding - kernel) // stride + 1
    return size


def scale_sizes(size: int, scales: int) -> list[int]:
    """Sides of the pair each discriminator scale sees, finest first: ``size``, then halved with
    ``HalveByAverage`` (rounding up): 256, 128, 64 for 3 scales."""
    sizes = [size]
    for _ in range(scales - 1):
        sizes.append((sizes[-1] - 1) // 2 + 1)
    return sizes


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
    features: bool = False,
    layer_types: LayerTypes = KERAS_LAYERS,
) -> keras.Model:
    """PatchGAN: classifies each receptive_field(n_layers)-pixel patch as real or fake.

    n_layers=3 is the paper's 70x70 C64-C128-C256-C512 (the first without norm, with bias; the
    last two stride 1) -> 1 logit per patch: 30x30 logits at 256 px, 2,768,705 parameters.
    n_layers=0 is the 1x1 PixelGAN.

    Args:
      conditional: True (cGAN) takes [input_image, image] and concatenates them on channels;
        False takes the image alone (the paper's unconditional ablation).
      input_channels, output_channels: channels of the generator's input and output.
      features: also output each hidden layer's activation (after its LeakyReLU), for
        feature matching. The variables are the same either way.
      layer_types: the classes of the convolutions and batch norms (Keras' own by default).

    Returns:
      Model ([input_image (b, H, W, input_channels), image (b, H, W, output_channels)]
      or image alone) -> logits (b, H', W', 1), float32; with ``features``, the list
      [activation of layer 0, ..., of the last hidden layer, logits].
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
    hidden = []
    widths = [filters * min(2**index, 8) for index in range(len(specs) - 1)] + [1]
    for index, ((kernel, stride), width) in enumerate(zip(specs, widths)):
        last = index == len(specs) - 1
        use_bias = index == 0 or last or conv_bias(norm)
        if n_layers == 0 and last:
            use_bias = conv_bias(norm)  # the PixelGAN's last conv follows the reference
        x = _disc_conv(x, width, kernel, stride, use_bias, f"layer{index}", layer_types.conv)
        if last:
            break
        if index > 0:
            x = maybe(normalization(norm, f"layer{index}_norm", layer_types), x)
        x = layers.LeakyReLU(negative_slope=0.2, name=f"layer{index}_lrelu")(x)
        hidden.append(x)
    outputs = layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model(inputs, [*hidden, outputs] if features else outputs, name=name)


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class HalveByAverage(layers.Layer):
    """3x3 average pooling with stride 2 and one pixel of padding that is not counted: PyTorch's
    ``AvgPool2d(3, stride=2, padding=1, count_include_pad=False)``, pix2pixHD's downsampling
    between discriminator scales. (b, H, W, C) -> (b, ceil(H / 2), ceil(W / 2), C), any float dtype.
    Keras' "same" pooling differs: its windows start one pixel later."""

    def call(self, inputs):
        def pooled_sum(x):
            return tf.nn.avg_pool2d(tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]), 3, 2, "VALID")

        ones = tf.ones_like(inputs[..., :1])
        return pooled_sum(inputs) / pooled_sum(ones)  # the mean over the window's real pixels

    def compute_output_shape(self, input_shape):
        def half(side):
            return None if side is None else scale_sizes(side, 2)[1]

        return (input_shape[0], half(input_shape[1]), half(input_shape[2]), input_shape[3])


def multiscale_discriminator(
    scales: int = 2,
    n_layers: int = 3,
    filters: int = 64,
    norm: str = "batch",
    conditional: bool = True,
    input_channels: int = 3,
    output_channels: int = 3,
    features: bool = False,
    name: str = "multiscale_discriminator",
    layer_types: LayerTypes = KERAS_LAYERS,
) -> keras.Model:
    """pix2pixHD's multi-scale discriminator: ``scales`` PatchGANs of the same shape, each with its own
    weights; the first sees the pair at full size, the next at 1/2, then 1/4, ... (``HalveByAverage``,
    pix2pixHD's pooling). The coarser ones see larger structures with the same patch size.

    Returns:
      Model (the same inputs as ``patchgan_discriminator``) -> a list with one entry per scale,
      finest first: that scale's PatchGAN output (logits, or with ``features`` its list).
    """
    if scales < 1:
        raise ValueError(f"disc_scales must be >= 1, got {scales}")
    image = keras.Input((None, None, output_channels), name="image")
    source = keras.Input((None, None, input_channels), name="input_image") if conditional else None
    inputs = [source, image] if conditional else image
    outputs = []
    for scale in range(scales):
        if scale:
            pool = HalveByAverage(name=f"downsample{scale}")
            image = pool(image)
            source = pool(source) if conditional else None
        patchgan = patchgan_discriminator(n_layers, filters, norm, conditional, input_channels, output_channels,
                                          name=f"scale{scale}", features=features, layer_types=layer_types)
        outputs.append(patchgan([source, image] if conditional else image))
    return keras.Model(inputs, outputs, name=name)


def scale_outputs(outputs, scales: int, features: bool) -> list[tuple[tf.Tensor, list[tf.Tensor]]]:
    """A discriminator's output (as ``build_discriminator`` made it) as one (logits, hidden activations)
    pair per scale, finest first; the activations list is empty without ``features``."""
    per_scale = [outputs] if scales == 1 else list(outputs)
    if not features:
        return [(logits, []) for logits in per_scale]
    return [(list(values)[-1], list(values)[:-1]) for values in per_scale]


def check_scales(model_config, image_size: int) -> None:
    """ValueError naming the flags when the coarsest scale is too small for the PatchGAN to give logits."""
    coarsest = scale_sizes(image_size, model_config.disc_scales)[-1]
    if output_size(model_config.disc_layers, coarsest) < 1:
        raise ValueError(
            f"--disc_scales={model_config.disc_scales} at --image_size={image_size} gives the coarsest "
            f"discriminator {coarsest} px, too small for a --disc_layers={model_config.disc_layers} PatchGAN "
            f"(it needs an input of at least {_smallest_input(model_config.disc_layers)} px): use fewer scales, "
            "fewer disc_layers or larger images"
        )


def _smallest_input(n_layers: int) -> int:
    size = 1
    while output_size(n_layers, size) < 1:
        size += 1
    return size


def build_discriminator(model_config, features: bool = False, layer_types: LayerTypes = KERAS_LAYERS) -> keras.Model:
    """The discriminator a ModelConfig describes: a PatchGAN, or with ``disc_scales`` > 1 a
    multi-scale one (``features``: also output the hidden layers' activations), its convolutions
    and batch norms of ``layer_types``."""
    arguments = (model_config.disc_layers, model_config.disc_filters, model_config.norm,
                 model_config.conditional, model_config.input_channels, model_config.output_channels)
    if model_config.disc_scales == 1:
        return patchgan_discriminator(*arguments, features=features, layer_types=layer_types)
    return multiscale_discriminator(model_config.disc_scales, *arguments, features=features,
                                    layer_types=layer_types)
