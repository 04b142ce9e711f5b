"""Tests for the pix2pix losses (pix2pix_tf.models.losses), against values computed by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.models.losses import (
    discriminator_loss,
    generator_adversarial_loss,
    generator_loss,
    reconstruction_loss,
)


def logits(value, shape=(2, 30, 30, 1), dtype=tf.float32):
    """A logits tensor filled with ``value``."""
    return tf.fill(shape, tf.cast(value, dtype))


def softplus(x):
    """log(1 + e^x), i.e. BCE(x, 0); BCE(x, 1) is softplus(-x)."""
    return math.log1p(math.exp(x))


def as_float(tensor):
    """Python float of a scalar tensor."""
    return float(tensor.numpy())


# --- discriminator ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, real, fake, expected",
    [
        ("vanilla", 0.0, 0.0, math.log(2.0)),
        ("vanilla", 2.0, -1.0, 0.5 * (softplus(-2.0) + softplus(-1.0))),
        ("vanilla", -3.0, 4.0, 0.5 * (softplus(3.0) + softplus(4.0))),
        ("lsgan", 1.0, 0.0, 0.0),
        ("lsgan", 0.0, 1.0, 0.5 * (1.0 + 1.0)),
        ("lsgan", 3.0, -2.0, 0.5 * (4.0 + 4.0)),
        ("hinge", 2.0, -2.0, 0.0),
        ("hinge", 0.0, 0.0, 0.5 * (1.0 + 1.0)),
        ("hinge", 0.5, 2.0, 0.5 * (0.5 + 3.0)),
    ],
)
def test_discriminator_loss_matches_hand_computed_values(kind, real, fake, expected):
    """D's loss is half the sum of its real and fake terms, for every GAN loss kind."""
    value = discriminator_loss(logits(real), logits(fake), kind)
    assert as_float(value) == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_vanilla_discriminator_loss_is_halved():
    """D's vanilla loss is ½·[BCE(real, 1) + BCE(fake, 0)], not the unhalved sum (paper's slow-down)."""
    real, fake = logits(1.5), logits(0.5)
    unhalved = softplus(-1.5) + softplus(0.5)
    value = as_float(discriminator_loss(real, fake))
    assert value == pytest.approx(unhalved / 2, rel=1e-6)
    assert value != pytest.approx(unhalved, rel=1e-2)


def test_discriminator_loss_averages_over_mixed_patches():
    """Each term is the mean over all patches, so mixed logits average their per-patch losses."""
    real = tf.constant([[[[0.0], [2.0]], [[-1.0], [4.0]]]])  # (1, 2, 2, 1)
    fake = tf.constant([[[[1.0], [-3.0]], [[0.0], [0.5]]]])
    expected_real = np.mean([softplus(-x) for x in (0.0, 2.0, -1.0, 4.0)])
    expected_fake = np.mean([softplus(x) for x in (1.0, -3.0, 0.0, 0.5)])
    value = as_float(discriminator_loss(real, fake))
    assert value == pytest.approx(0.5 * (expected_real + expected_fake), rel=1e-5)


# --- generator -------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-4.0, -1.0, 0.0, 0.5, 3.0])
def test_vanilla_generator_loss_is_non_saturating_bce(x):
    """G's vanilla term is BCE(fake, 1) = log(1 + e^-x), not halved."""
    value = generator_adversarial_loss(logits(x), "vanilla")
    assert as_float(value) == pytest.approx(softplus(-x), rel=1e-5)


@pytest.mark.parametrize(
    "kind, fake, expected",
    [("lsgan", 1.0, 0.0), ("lsgan", 0.0, 1.0), ("lsgan", -2.0, 9.0), ("hinge", 2.5, -2.5), ("hinge", -1.0, 1.0)],
)
def test_lsgan_and_hinge_generator_losses(kind, fake, expected):
    """G's lsgan term is mean((fake-1)²) and its hinge term is -mean(fake)."""
    assert as_float(generator_adversarial_loss(logits(fake), kind)) == pytest.approx(expected)


def test_hinge_generator_loss_is_negative_mean_of_mixed_logits():
    """G's hinge term averages raw logits (no clipping) over all patches."""
    fake = tf.constant([[[[-3.0], [1.0]], [[5.0], [0.0]]]])
    assert as_float(generator_adversarial_loss(fake, "hinge")) == pytest.approx(-0.75)


@pytest.mark.parametrize("kind, expected", [("l1", (1.0 + 0.5 + 2.0 + 0.0) / 4), ("l2", (1.0 + 0.25 + 4.0 + 0.0) / 4)])
def test_reconstruction_loss_is_mean_absolute_or_squared_difference(kind, expected):
    """l1 is the mean |target - output| and l2 the mean squared difference over all pixels."""
    target = tf.constant([[[[1.0, 0.5]], [[-1.0, 0.0]]]])  # (1, 2, 1, 2)
    output = tf.constant([[[[0.0, 1.0]], [[1.0, 0.0]]]])
    assert as_float(reconstruction_loss(target, output, kind)) == pytest.approx(expected)


def test_generator_loss_defaults_weigh_l1_by_100():
    """By default total = 1·BCE(fake, 1) + 100·L1, with the unweighted parts reported."""
    fake = logits(1.0)
    target = tf.fill((2, 8, 8, 3), 0.5)
    output = tf.fill((2, 8, 8, 3), 0.25)
    parts = generator_loss(fake, target, output)
    gan = softplus(-1.0)
    assert as_float(parts["gan"]) == pytest.approx(gan, rel=1e-5)
    assert as_float(parts["recon"]) == pytest.approx(0.25, rel=1e-5)
    assert as_float(parts["total"]) == pytest.approx(gan + 100 * 0.25, rel=1e-5)


def test_generator_loss_custom_weights_and_kinds():
    """gan_weight and l1_weight scale their terms; gan_loss and recon_loss choose them."""
    parts = generator_loss(
        logits(2.0), tf.fill((1, 4, 4, 3), 1.0), tf.fill((1, 4, 4, 3), 0.5),
        gan_loss="hinge", recon_loss="l2", gan_weight=3.0, l1_weight=10.0,
    )
    assert as_float(parts["gan"]) == pytest.approx(-2.0)
    assert as_float(parts["recon"]) == pytest.approx(0.25)
    assert as_float(parts["total"]) == pytest.approx(3.0 * -2.0 + 10.0 * 0.25)


def test_zero_gan_weight_drops_the_adversarial_term():
    """gan_weight=0 (L1-only ablation) gives total = 100·L1, even when the fake logits are NaN."""
    fake = logits(float("nan"))
    parts = generator_loss(fake, tf.zeros((1, 4, 4, 3)), tf.fill((1, 4, 4, 3), -0.5), gan_weight=0.0)
    assert as_float(parts["total"]) == pytest.approx(100 * 0.5)
    assert as_float(parts["gan"]) == 0.0


def test_zero_l1_weight_drops_the_reconstruction_term():
    """l1_weight=0 (cGAN-only ablation) gives total = gan, even when the images are NaN."""
    images = tf.fill((1, 4, 4, 3), float("nan"))
    parts = generator_loss(logits(0.0), images, images, l1_weight=0.0)
    assert as_float(parts["total"]) == pytest.approx(math.log(2.0))
    assert as_float(parts["recon"]) == 0.0


# --- shapes and dtypes -----------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 30, 30, 1), (4, 1, 1, 1), (3,), ()])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float16, tf.bfloat16])
def test_losses_accept_any_logits_shape_and_return_float32_scalars(shape, dtype):
    """Every loss takes patch maps of any shape in any float dtype and returns a float32 scalar."""
    real, fake = logits(2.0, shape, dtype), logits(-1.0, shape, dtype)
    images = tf.fill((2, 8, 8, 3), tf.cast(0.5, dtype))
    values = [discriminator_loss(real, fake, kind) for kind in ("vanilla", "lsgan", "hinge")]
    values += [generator_adversarial_loss(fake, kind) for kind in ("vanilla", "lsgan", "hinge")]
    values += [reconstruction_loss(images, images * 0, kind) for kind in ("l1", "l2")]
    values += list(generator_loss(fake, images, images * 0).values())
    for value in values:
        assert value.dtype == tf.float32
        assert value.shape == ()
        assert np.isfinite(value.numpy())
    expected = 0.5 * (softplus(-2.0) + softplus(-1.0))
    assert as_float(values[0]) == pytest.approx(expected, rel=1e-5)


def test_losses_work_inside_tf_function():
    """The losses trace into a graph (as in a compiled train step) and give the eager values."""
    compiled = tf.function(lambda real, fake: discriminator_loss(real, fake, "lsgan"))
    assert as_float(compiled(logits(0.0), logits(1.0))) == pytest.approx(1.0)


# --- argument checking -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: discriminator_loss(logits(0.0), logits(0.0), "wgan"), r"'wgan'.*vanilla, lsgan, hinge"),
        (lambda: generator_adversarial_loss(logits(0.0), "wgan"), r"'wgan'.*vanilla, lsgan, hinge"),
        (lambda: reconstruction_loss(logits(0.0), logits(0.0), "l3"), r"'l3'.*l1, l2"),
        (lambda: generator_loss(logits(0.0), logits(0.0), logits(0.0), gan_loss="wgan"), r"vanilla, lsgan, hinge"),
        (lambda: generator_loss(logits(0.0), logits(0.0), logits(0.0), recon_loss="l3"), r"l1, l2"),
    ],
    ids=["discriminator", "generator_adversarial", "reconstruction", "generator_gan", "generator_recon"],
)
def test_unknown_loss_kinds_raise_with_choices(call, pattern):
    """An unknown loss kind raises ValueError listing the valid choices."""
    with pytest.raises(ValueError, match=pattern):
        call()
