"""The fused batch norm (pix2pix_tf/kernels/fused_batch_norm.py) trains as Keras' own: same outputs,
gradients and moving statistics; a network built with it runs one FusedBatchNormV3 per norm."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.kernels.fused_batch_norm import FusedBatchNormalization
from pix2pix_tf.kernels.policy import CPU_LAYERS
from pix2pix_tf.models.generators import unet_generator


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("shape", [(2, 16, 16, 8), (1, 1, 1, 8), (3, 4, 4, 8)])
def test_fused_batch_norm_trains_as_keras_batch_norm(policy, shape):
    """The fused kernel changes the speed, not the math: same outputs, gradients and moving
    statistics (Keras' biased variance, and a lone pixel normalised to beta) as Keras' layer."""
    options = dict(momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=1),
                   beta_initializer=keras.initializers.RandomNormal(0.0, 0.1, seed=3), dtype=policy)
    keras_bn, fused = keras.layers.BatchNormalization(**options), FusedBatchNormalization(**options)
    keras_bn.build(shape)
    fused.build(shape)
    fused.set_weights(keras_bn.get_weights())
    x = tf.random.normal(shape, seed=2) * 2.0 + 0.5
    results = []
    for layer in (keras_bn, fused):
        inputs = tf.cast(x, layer.compute_dtype)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, training=True)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * x**2)
        gradients = tape.gradient(loss, [inputs, *layer.trainable_variables])
        results.append([outputs, *gradients, layer.moving_mean, layer.moving_variance])
        assert outputs.dtype == layer.compute_dtype
    tolerance = 1e-5 if policy == "float32" else 1e-2
    if np.prod(shape[:3]) == 1:  # a lone pixel: exactly beta; Keras' (x - mean) rounding error is amplified by 316
        np.testing.assert_allclose(np.asarray(tf.cast(results[1][0], tf.float32))[0, 0, 0],
                                   np.asarray(tf.cast(fused.beta, fused.compute_dtype), np.float32), atol=1e-6)
        tolerance = 1e-3
    for expected, actual in zip(*results):
        expected, actual = (np.asarray(tf.cast(value, tf.float32)) for value in (expected, actual))
        np.testing.assert_allclose(actual, expected, rtol=tolerance, atol=tolerance * max(1.0, np.abs(expected).max()))
    assert not np.allclose(fused.moving_variance.numpy(), 1.0)  # the statistics were updated


def test_a_network_built_with_it_trains_with_the_fused_kernel_and_keras_layers_do_not():
    """The policy's layers put FusedBatchNormV3 in the training graph, one per norm; Keras' own (the
    builders' default) do not."""
    def fused_ops(model):
        graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(
            tf.TensorSpec((1, 32, 32, 3))).graph
        return [op.type for op in graph.get_operations()].count("FusedBatchNormV3")

    ours = unet_generator(32, filters=8, layer_types=CPU_LAYERS)
    norms = [layer for layer in ours.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert norms and all(isinstance(layer, FusedBatchNormalization) for layer in norms)
    assert fused_ops(ours) == len(norms)
    plain = unet_generator(32, filters=8)
    assert not any(isinstance(layer, FusedBatchNormalization) for layer in plain.layers)
    assert fused_ops(plain) == 0
