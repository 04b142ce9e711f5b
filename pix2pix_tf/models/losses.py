"""Losses of pix2pix (and pix2pixHD's additions) as pure functions of tensors.

Discriminator outputs are logits of any shape (one per patch); each loss averages over all of them.
A multi-scale discriminator gives a list of logits, one per scale: the GAN losses are summed over
scales, as pix2pixHD sums them.
"""

from __future__ import annotations

import tensorflow as tf

from pix2pix_tf.config import GAN_LOSSES, RECON_LOSSES, check_choice


def _bce_with_logits(logits: tf.Tensor, label: float) -> tf.Tensor:
    labels = tf.fill(tf.shape(logits), tf.cast(label, logits.dtype))
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def _per_scale(logits) -> list:
    return list(logits) if isinstance(logits, (list, tuple)) else [logits]


def discriminator_loss(real_logits, fake_logits, kind: str = "vanilla") -> tf.Tensor:
    """D's loss, halved as in the paper "to slow down the rate at which D learns relative to G".

    vanilla: ½·[BCE(real, 1) + BCE(fake, 0)]; lsgan: ½·[(real-1)² + fake²];
    hinge: ½·[relu(1-real) + relu(1+fake)]. Logits may be lists (one tensor per discriminator
    scale): the losses of the scales are summed. Returns a float32 scalar.
    """
    check_choice("gan_loss", kind, GAN_LOSSES)
    if isinstance(real_logits, (list, tuple)) or isinstance(fake_logits, (list, tuple)):
        return tf.add_n([discriminator_loss(real, fake, kind)
                         for real, fake in zip(_per_scale(real_logits), _per_scale(fake_logits), strict=True)])
    real_logits = tf.cast(real_logits, tf.float32)
    fake_logits = tf.cast(fake_logits, tf.float32)
    if kind == "vanilla":
        total = _bce_with_logits(real_logits, 1.0) + _bce_with_logits(fake_logits, 0.0)
    elif kind == "lsgan":
        total = tf.reduce_mean(tf.square(real_logits - 1.0)) + tf.reduce_mean(tf.square(fake_logits))
    else:  # hinge
        total = tf.reduce_mean(tf.nn.relu(1.0 - real_logits)) + tf.reduce_mean(tf.nn.relu(1.0 + fake_logits))
    return 0.5 * total


def generator_adversarial_loss(fake_logits, kind: str = "vanilla") -> tf.Tensor:
    """G's adversarial term: vanilla BCE(fake, 1) (the non-saturating loss); lsgan (fake-1)²; hinge -fake.
    A list of logits (one per discriminator scale) sums the scales' terms."""
    check_choice("gan_loss", kind, GAN_LOSSES)
    if isinstance(fake_logits, (list, tuple)):
        return tf.add_n([generator_adversarial_loss(logits, kind) for logits in fake_logits])
    fake_logits = tf.cast(fake_logits, tf.float32)
    if kind == "vanilla":
        return _bce_with_logits(fake_logits, 1.0)
    if kind == "lsgan":
        return tf.reduce_mean(tf.square(fake_logits - 1.0))
    return -tf.reduce_mean(fake_logits)  # hinge


def reconstruction_loss(target: tf.Tensor, output: tf.Tensor, kind: str = "l1") -> tf.Tensor:
    """Mean absolute (l1) or squared (l2) difference over every pixel and channel; float32 scalar."""
    check_choice("recon_loss", kind, RECON_LOSSES)
    difference = tf.cast(target, tf.float32) - tf.cast(output, tf.float32)
    if kind == "l1":
        return tf.reduce_mean(tf.abs(difference))
    return tf.reduce_mean(tf.square(difference))  # l2


def feature_matching_loss(fake_features: list[list[tf.Tensor]], real_features: list[list[tf.Tensor]]) -> tf.Tensor:
    """pix2pixHD's discriminator feature matching: Σ_scales Σ_layers (4 / layers)·(1 / scales)·mean|fake - real|.

    Args:
      fake_features, real_features: per discriminator scale, the hidden layers' activations on the
        generated and on the real pair (same shapes). The real ones are targets: no gradient
        flows into them.
    Returns:
      float32 scalar (unweighted by the run's feature_matching_weight). With the 70x70 PatchGAN's
      4 hidden layers, each layer's weight is 1 / scales, as pix2pixHD's 4 / (n_layers_D + 1).
    """
    if len(fake_features) != len(real_features) or not fake_features:
        raise ValueError(f"feature matching needs the same scales on both sides, got {len(fake_features)} "
                         f"and {len(real_features)}")
    terms = []
    for fake_scale, real_scale in zip(fake_features, real_features, strict=True):
        weight = 4.0 / len(fake_scale) / len(fake_features)
        for fake, real in zip(fake_scale, real_scale, strict=True):
            difference = tf.cast(fake, tf.float32) - tf.stop_gradient(tf.cast(real, tf.float32))
            terms.append(weight * tf.reduce_mean(tf.abs(difference)))
    return tf.add_n(terms)


def generator_loss(
    fake_logits: tf.Tensor,
    target: tf.Tensor,
    output: tf.Tensor,
    gan_loss: str = "vanilla",
    recon_loss: str = "l1",
    gan_weight: float = 1.0,
    l1_weight: float = 100.0,
) -> dict[str, tf.Tensor]:
    """G's loss = gan_weight·adversarial + l1_weight·reconstruction.

    A zero weight skips its term entirely (the paper's L1-only and cGAN-only ablations).
    Returns {"total", "gan", "recon"}, float32 scalars (unweighted parts).
    """
    gan = generator_adversarial_loss(fake_logits, gan_loss) if gan_weight else tf.constant(0.0)
    recon = reconstruction_loss(target, output, recon_loss) if l1_weight else tf.constant(0.0)
    return {"total": gan_weight * gan + l1_weight * recon, "gan": gan, "recon": recon}
