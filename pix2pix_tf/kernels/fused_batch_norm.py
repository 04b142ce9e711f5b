"""Batch norm trained with TensorFlow's fused kernel: Keras' BatchNormalization, the same
variables and math, one op (and a one-op gradient) per layer in training."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers


@keras.saving.register_keras_serializable(package="pix2pix_tf")
class FusedBatchNormalization(layers.BatchNormalization):
    """Keras' BatchNormalization, trained with TensorFlow's fused batch-norm kernel.

    Same variables, same math, same moving-statistics update (biased batch variance, as Keras);
    only the kernel differs. In training, on (batch, height, width, channels) inputs, Keras
    computes the statistics with a dozen element-wise ops in float32, casting bfloat16 or float16
    activations up and back, and differentiates through all of them; FusedBatchNormV3 reads the
    activations in their own dtype, keeps the statistics in float32 and has a one-op gradient
    (oneDNN's on CPU). Everything else (inference, masks, synchronized statistics across
    replicas, other ranks) is Keras' own code.
    """

    _FUSED_DTYPES = ("float32", "bfloat16", "float16")

    def call(self, inputs, training=None, mask=None):
        fused = (training and self.trainable and mask is None and not self.synchronized and not self.renorm
                 and len(inputs.shape) == 4 and self.axis in (-1, 3) and inputs.dtype.name in self._FUSED_DTYPES)
        if not fused:
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        outputs, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=scale, offset=offset, mean=tf.zeros([0]), variance=tf.zeros([0]),
            epsilon=self.epsilon, data_format="NHWC", is_training=True)
        # The kernel returns the unbiased variance (n / (n - 1), or 1 where n = 1); Keras keeps the biased one.
        count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
        variance = variance * tf.maximum(count - 1.0, 1.0) / count
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.cast(outputs, self.compute_dtype)
