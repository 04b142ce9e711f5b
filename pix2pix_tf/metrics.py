"""Image-quality metrics on images in [-1, 1] (computed on the [0, 1] scale)."""

from __future__ import annotations

import tensorflow as tf

PSNR_CAP_DB = 100.0


def per_image_l1(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per image on the [0, 1] scale: (batch,) in [0, 1]."""
    return tf.reduce_mean(tf.abs(target - output), axis=[1, 2, 3]) / 2.0


def per_image_psnr(target: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """PSNR per image in dB with peak 1 on the [0, 1] scale: (batch,); identical images give 100 dB (the cap)."""
    mse = tf.reduce_mean(tf.square((target - output) / 2.0), axis=[1, 2, 3])
    psnr = 10.0 * tf.math.log(1.0 / tf.maximum(mse, 1e-10)) / tf.math.log(10.0)
    return tf.minimum(psnr, PSNR_CAP_DB)
