"""Tests for the pix2pix generators and discriminators (pix2pix_tf.models)."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.models.discriminators import patchgan_discriminator, receptive_field
from pix2pix_tf.models.generators import resnet_generator, unet_generator
from pix2pix_tf.models.layers import BilinearUpsampling2D, ReflectionPadding2D

CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)


@functools.lru_cache(maxsize=None)
def full_unet():
    """The paper's default 256-px U-Net (built once: ~3 s, 54 M parameters)."""
    return unet_generator()


@functools.lru_cache(maxsize=None)
def small_unet(image_size, **options):
    """A narrow U-Net (filters=8) for structural and shape checks."""
    return unet_generator(image_size, filters=8, **options)


def trainable_parameter_count(model):
    """Number of trainable scalars in ``model``."""
    return sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)


def layers_of_type(model, kind):
    """The layers of ``model`` that are instances of ``kind``."""
    return [layer for layer in model.layers if isinstance(layer, kind)]


def layer_names(model):
    """Set of every layer name of ``model``."""
    return {layer.name for layer in model.layers}


def random_images(shape, seed=0):
    """Float32 images uniform in [-1, 1]."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape).astype("float32")


def convolutions_feeding_batch_norm(model):
    """Every conv whose output goes straight into a BatchNormalization layer."""
    producers = []
    for norm in layers_of_type(model, keras.layers.BatchNormalization):
        producer = norm.input._keras_history.operation
        producers.append(producer)
    return producers


# --- parameter counts and output sizes of the paper's architectures -------------------------


def test_full_unet_has_pytorch_reference_parameter_count():
    """The 256-px U-Net matches the PyTorch reference's 54,413,955 trainable parameters."""
    assert trainable_parameter_count(full_unet()) == 54_413_955


def test_full_patchgan_has_reference_parameter_count_and_30x30_logits():
    """The 70x70 PatchGAN has 2,768,705 parameters and gives 30x30 logits at 256 px."""
    discriminator = patchgan_discriminator()
    assert trainable_parameter_count(discriminator) == 2_768_705
    pair = [random_images((1, 256, 256, 3), seed=1), random_images((1, 256, 256, 3), seed=2)]
    logits = discriminator(pair, training=False)
    assert tuple(logits.shape) == (1, 30, 30, 1)
    assert logits.dtype == tf.float32


@pytest.mark.parametrize("n_layers, expected", [(0, 1), (1, 16), (3, 70), (5, 286)])
def test_receptive_field_matches_paper_patch_sizes(n_layers, expected):
    """receptive_field gives the PixelGAN/16/70/286 patch sizes the paper reports."""
    assert receptive_field(n_layers) == expected


# --- activations, normalization and biases --------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [full_unet, patchgan_discriminator],
    ids=["unet", "patchgan"],
)
def test_every_leaky_relu_has_slope_0_2(build):
    """Encoder and discriminator LeakyReLUs use the paper's slope of 0.2."""
    leaky = layers_of_type(build(), keras.layers.LeakyReLU)
    assert leaky
    for layer in leaky:
        assert layer.negative_slope == pytest.approx(0.2), layer.name
        assert float(layer(tf.constant([-1.0]))[0]) == pytest.approx(-0.2)


@pytest.mark.parametrize("image_size, depth", [(32, 5), (64, 6), (256, 8)])
def test_unet_normalizes_every_level_except_first_and_innermost_encoder(image_size, depth):
    """Encoder norm skips down0 and the innermost level; every decoder level but the output has one."""
    names = layer_names(small_unet(image_size))
    encoder_norms = {name for name in names if name.startswith("down") and name.endswith("_norm")}
    assert encoder_norms == {f"down{level}_norm" for level in range(1, depth - 1)}
    decoder_norms = {name for name in names if name.startswith("up") and name.endswith("_norm")}
    assert decoder_norms == {f"up{level}_norm" for level in range(1, depth)}
    assert f"down{depth - 1}_conv" in names and f"down{depth}_conv" not in names


def test_unet_biases_follow_batch_norm():
    """With batch norm the first conv and every normalized conv drop the bias; the output conv keeps it."""
    model = full_unet()
    assert model.get_layer("down0_conv").use_bias is False
    assert model.get_layer("up0_convt").use_bias is True
    producers = convolutions_feeding_batch_norm(model)
    assert len(producers) == len(layers_of_type(model, keras.layers.BatchNormalization)) > 0
    for producer in producers:
        assert isinstance(producer, CONVOLUTIONS), producer.name
        assert producer.use_bias is False, producer.name


def test_patchgan_biases_follow_batch_norm():
    """The PatchGAN's first and last convs have biases; convs feeding batch norm have none."""
    model = patchgan_discriminator(filters=8)
    assert model.get_layer("layer0_conv").use_bias is True
    assert model.get_layer("layer4_conv").use_bias is True
    producers = convolutions_feeding_batch_norm(model)
    assert [producer.name for producer in producers] == ["layer1_conv", "layer2_conv", "layer3_conv"]
    assert all(producer.use_bias is False for producer in producers)


# --- dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image_size, expected",
    [
        (32, set()),
        (64, {"up4_dropout"}),
        (128, {"up4_dropout", "up5_dropout"}),
        (256, {"up4_dropout", "up5_dropout", "up6_dropout"}),
    ],
)
def test_dropout_sits_on_decoder_blocks_next_to_innermost(image_size, expected):
    """Dropout 0.5 is on up to three full-width decoder blocks, never on the innermost up or below level 4."""
    dropouts = layers_of_type(small_unet(image_size), keras.layers.Dropout)
    assert {layer.name for layer in dropouts} == expected
    assert all(layer.rate == 0.5 for layer in dropouts)


def test_full_unet_has_exactly_three_dropouts_at_rate_one_half():
    """The default 256-px U-Net has dropout 0.5 on up4, up5, up6 and not on up7."""
    dropouts = layers_of_type(full_unet(), keras.layers.Dropout)
    assert sorted(layer.name for layer in dropouts) == ["up4_dropout", "up5_dropout", "up6_dropout"]
    assert [layer.rate for layer in dropouts] == [0.5, 0.5, 0.5]
    assert "up7_dropout" not in layer_names(full_unet())


def test_zero_dropout_removes_every_dropout_layer():
    """dropout=0 builds a U-Net without any Dropout layer."""
    assert layers_of_type(small_unet(256, dropout=0.0), keras.layers.Dropout) == []


# --- shapes and value range ------------------------------------------------------------------


@pytest.mark.parametrize("image_size, batch", [(32, 2), (64, 2), (256, 1)])
def test_unet_output_shape_matches_input(image_size, batch):
    """The U-Net maps (b, H, W, 3) to a float32 (b, H, W, 3) image in [-1, 1]."""
    images = random_images((batch, image_size, image_size, 3))
    output = small_unet(image_size)(images, training=False)
    assert tuple(output.shape) == (batch, image_size, image_size, 3)
    assert output.dtype == tf.float32
    assert np.all(np.abs(output.numpy()) <= 1.0)


def test_unet_output_is_bounded_by_tanh_even_with_huge_preactivations():
    """Even when the last conv's outputs are huge, the generator's output stays in [-1, 1]."""
    model = unet_generator(32, filters=8)
    output_conv = model.get_layer("up0_convt")
    kernel, bias = output_conv.get_weights()
    output_conv.set_weights([kernel * 1e4, bias])
    output = model(random_images((2, 32, 32, 3)), training=False).numpy()
    assert np.all(np.abs(output) <= 1.0)
    assert np.abs(output).max() > 0.99  # saturated, so an unbounded output would have exceeded 1


def test_unet_runs_on_other_multiples_of_its_stride():
    """A U-Net built for 32 px also translates a 64x96 image (any multiple of 2**depth)."""
    output = small_unet(32)(random_images((1, 64, 96, 3)), training=False)
    assert tuple(output.shape) == (1, 64, 96, 3)


def test_unet_channel_counts_follow_options():
    """input_channels and output_channels set the image channels (e.g. gray to RGB)."""
    model = unet_generator(32, input_channels=1, output_channels=3, filters=8)
    output = model(random_images((1, 32, 32, 1)), training=False)
    assert tuple(output.shape) == (1, 32, 32, 3)


def test_resize_upsampling_has_no_transposed_convolutions():
    """upsample='resize' replaces every transposed conv by bilinear resize + conv, same output shape."""
    model = small_unet(64, upsample="resize")
    assert layers_of_type(model, keras.layers.Conv2DTranspose) == []
    assert len(layers_of_type(model, BilinearUpsampling2D)) == 6
    output = model(random_images((2, 64, 64, 3)), training=False)
    assert tuple(output.shape) == (2, 64, 64, 3)


@pytest.mark.parametrize("norm, norm_type", [("instance", keras.layers.GroupNormalization), ("none", None)])
def test_instance_and_no_norm_unets_build_with_biased_convolutions(norm, norm_type):
    """Without batch norm every conv carries its own bias, and no BatchNormalization is used."""
    model = small_unet(64, norm=norm)
    convolutions = layers_of_type(model, CONVOLUTIONS)
    assert convolutions and all(layer.use_bias for layer in convolutions)
    assert layers_of_type(model, keras.layers.BatchNormalization) == []
    if norm_type is not None:
        assert len(layers_of_type(model, norm_type)) == 4 + 5  # down1..down4, up1..up5
    output = model(random_images((2, 64, 64, 3)), training=False)
    assert tuple(output.shape) == (2, 64, 64, 3)


def test_resnet_generator_keeps_spatial_size_with_requested_blocks():
    """resnet_generator(blocks=6) has six residual blocks and maps 64x64 to 64x64 in [-1, 1]."""
    model = resnet_generator(blocks=6, filters=8)
    additions = layers_of_type(model, keras.layers.Add)
    assert sorted(layer.name for layer in additions) == [f"block{index}_add" for index in range(6)]
    output = model(random_images((2, 64, 64, 3)), training=False)
    assert tuple(output.shape) == (2, 64, 64, 3)
    assert np.all(np.abs(output.numpy()) <= 1.0)


# --- discriminator -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_layers, output_size", [(3, 14), (1, 62)])
def test_patchgan_logit_sees_exactly_its_receptive_field(n_layers, output_size):
    """One interior logit depends on exactly a receptive_field(n)-pixel square of both inputs."""
    model = patchgan_discriminator(n_layers=n_layers, filters=8)
    source = tf.Variable(random_images((1, 128, 128, 3), seed=3))
    image = tf.Variable(random_images((1, 128, 128, 3), seed=4))
    with tf.GradientTape() as tape:
        logits = model([source, image], training=False)
        centre = logits[0, output_size // 2, output_size // 2, 0]
    assert tuple(logits.shape) == (1, output_size, output_size, 1)
    field = receptive_field(n_layers)
    for gradient in tape.gradient(centre, [source, image]):
        magnitude = np.abs(gradient.numpy()[0]).sum(axis=-1)
        rows, columns = np.nonzero(magnitude)
        top, left = rows.min(), columns.min()
        assert (rows.max() - top + 1, columns.max() - left + 1) == (field, field)
        window = np.zeros_like(magnitude, dtype=bool)
        window[top : top + field, left : left + field] = True
        assert np.all(magnitude[~window] == 0.0)
        assert np.all(magnitude[window] > 0.0)


@pytest.mark.parametrize("conditional, inputs, channels", [(False, 1, 3), (True, 2, 6)])
def test_patchgan_conditioning_sets_inputs(conditional, inputs, channels):
    """conditional=True judges [input_image, image] (6 channels); False judges the image alone."""
    model = patchgan_discriminator(filters=8, conditional=conditional)
    assert len(model.inputs) == inputs
    assert all(tensor.shape[-1] == 3 for tensor in model.inputs)
    assert model.get_layer("layer0_conv").kernel.shape[2] == channels
    pair = [random_images((1, 64, 64, 3), seed=seed) for seed in range(inputs)]
    logits = model(pair if conditional else pair[0], training=False)
    assert tuple(logits.shape) == (1, 6, 6, 1)


def test_conditional_patchgan_depends_on_the_input_image():
    """The conditional discriminator's verdict changes when only the conditioning input changes."""
    model = patchgan_discriminator(filters=8)
    image = random_images((1, 64, 64, 3), seed=0)
    first = model([random_images((1, 64, 64, 3), seed=1), image], training=False).numpy()
    second = model([random_images((1, 64, 64, 3), seed=2), image], training=False).numpy()
    assert not np.allclose(first, second)


# --- initialization ----------------------------------------------------------------------------


def test_convolution_kernels_are_normal_with_std_0_02():
    """Large conv kernels are drawn from N(0, 0.02) and conv biases start at zero."""
    large = [
        layer for layer in layers_of_type(full_unet(), CONVOLUTIONS) if np.prod(layer.kernel.shape) >= 1_000_000
    ]
    assert large
    for layer in large:
        kernel = layer.kernel.numpy()
        assert abs(kernel.std() - 0.02) < 0.002, layer.name
        assert abs(kernel.mean()) < 0.002, layer.name
    assert np.all(full_unet().get_layer("up0_convt").bias.numpy() == 0.0)


def test_batch_norm_gamma_is_normal_around_one_and_beta_zero():
    """Batch-norm gamma ~ N(1, 0.02) and beta = 0, as in the paper's initialization."""
    norms = layers_of_type(full_unet(), keras.layers.BatchNormalization)
    gamma = np.concatenate([layer.gamma.numpy() for layer in norms])
    beta = np.concatenate([layer.beta.numpy() for layer in norms])
    assert gamma.size > 1000
    assert abs(gamma.mean() - 1.0) < 0.003
    assert abs(gamma.std() - 0.02) < 0.003
    assert np.all(beta == 0.0)


# --- argument checking -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: unet_generator(32, filters=8, norm="group"),
        lambda: resnet_generator(blocks=1, filters=8, norm="group"),
        lambda: patchgan_discriminator(filters=8, norm="group"),
    ],
    ids=["unet", "resnet", "patchgan"],
)
def test_unknown_norm_is_rejected_with_choices(build):
    """An unknown norm raises ValueError naming the option and listing batch, instance, none."""
    with pytest.raises(ValueError, match=r"norm='group'.*batch, instance, none"):
        build()


def test_unknown_upsample_is_rejected_with_choices():
    """An unknown upsample raises ValueError naming the option and listing transpose, resize."""
    with pytest.raises(ValueError, match=r"upsample='pixelshuffle'.*transpose, resize"):
        unet_generator(32, filters=8, upsample="pixelshuffle")


@pytest.mark.parametrize("image_size", [100, 16, 2048])
def test_image_size_must_be_supported_power_of_two(image_size):
    """A U-Net image_size that is not a power of two in [32, 1024] raises ValueError."""
    with pytest.raises(ValueError, match="image_size"):
        unet_generator(image_size, filters=8)


# --- serialization -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [lambda: unet_generator(32, filters=8), lambda: resnet_generator(blocks=2, filters=8)],
    ids=["unet", "resnet"],
)
def test_keras_file_round_trip_gives_identical_outputs(build, tmp_path):
    """A generator saved as .keras loads back (custom layers included) and computes the same images."""
    model = build()
    path = tmp_path / "g.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    images = random_images((2, 32, 32, 3))
    np.testing.assert_array_equal(
        loaded(images, training=False).numpy(), model(images, training=False).numpy()
    )
    assert len(layers_of_type(loaded, ReflectionPadding2D)) == len(layers_of_type(model, ReflectionPadding2D))


@pytest.mark.parametrize(
    "build",
    [lambda: unet_generator(64, filters=8), lambda: resnet_generator(blocks=3, filters=8),
     lambda: patchgan_discriminator(filters=8)],
    ids=["unet", "resnet", "patchgan"],
)
def test_no_two_layers_start_with_the_same_weights(build):
    """Each layer draws its own initial weights (an initializer object reused across layers
    returns the same values in Keras 3): no two kernels, nor two batch-norm gammas, are equal."""
    model = build()
    weights = [(variable.path, variable.numpy()) for variable in model.weights
               if variable.path.endswith(("kernel", "gamma"))]
    for index, (name, value) in enumerate(weights):
        for other_name, other in weights[index + 1:]:
            if value.shape == other.shape:
                assert not np.array_equal(value, other), f"{name} and {other_name} start equal"


def test_resnet_blocks_carry_the_reference_dropout():
    """The reference trains pix2pix's ResNet generator with dropout 0.5 between each block's convolutions."""
    from pix2pix_tf.config import ModelConfig
    from pix2pix_tf.models.generators import build_generator

    generator = build_generator(ModelConfig(generator="resnet", resnet_blocks=3, filters=8), 64)
    dropouts = [layer for layer in generator.layers if isinstance(layer, keras.layers.Dropout)]
    assert [layer.name for layer in dropouts] == [f"block{index}_dropout" for index in range(3)]
    assert {layer.rate for layer in dropouts} == {0.5}
    without = build_generator(ModelConfig(generator="resnet", resnet_blocks=3, filters=8, dropout=0.0), 64)
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in without.layers)
