"""The fused Adam is PyTorch's Adam (the reference's), with Keras' slots and checkpoints."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from pix2pix_tf.training.optimizers import FusedAdam


def _variables():
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.normal(size=shape).astype(np.float32)) for shape in ((3, 4), (5,))]


def _pytorch_adam(values, gradients_per_step, learning_rates, beta_1=0.5, beta_2=0.999, epsilon=1e-8):
    """torch.optim.Adam's update, written out in NumPy (float64): bias-corrected moments, epsilon outside."""
    values = [value.astype(np.float64) for value in values]
    m = [np.zeros_like(value) for value in values]
    v = [np.zeros_like(value) for value in values]
    for step, (gradients, learning_rate) in enumerate(zip(gradients_per_step, learning_rates), start=1):
        for index, gradient in enumerate(gradients):
            m[index] = beta_1 * m[index] + (1 - beta_1) * gradient
            v[index] = beta_2 * v[index] + (1 - beta_2) * gradient**2
            m_hat, v_hat = m[index] / (1 - beta_1**step), v[index] / (1 - beta_2**step)
            values[index] = values[index] - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return values


@pytest.mark.parametrize("scale", [1.0, 1e-7])
def test_fused_adam_is_pytorchs_adam_step_for_step_with_a_decaying_rate(scale):
    """At gradients of 1e-7, epsilon's place decides the update: Keras' form moves the weights
    visibly less than PyTorch's, and this test tells the two apart."""
    schedule = keras.optimizers.schedules.PolynomialDecay(2e-2, 10, 1e-3)
    variables, start = _variables(), [variable.numpy() for variable in _variables()]
    fused = FusedAdam(schedule)
    rng = np.random.default_rng(1)
    gradients_per_step = [[scale * rng.normal(size=v.shape) for v in variables] for _ in range(12)]
    for gradients in gradients_per_step:
        tf.function(fused.apply)([tf.constant(g, tf.float32) for g in gradients], variables)
    expected = _pytorch_adam(start, gradients_per_step, [float(schedule(step)) for step in range(12)])
    for want, variable, first in zip(expected, variables, start):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=2e-6)
        assert np.abs(variable.numpy() - first).max() > 1e-2  # the updates did move the weights


def test_fused_adam_checkpoint_restores_into_keras_adam(tmp_path):
    variables = _variables()
    fused = FusedAdam(1e-2)
    fused.apply([tf.ones_like(v) for v in variables], variables)
    path = tf.train.Checkpoint(optimizer=fused, variables=variables).save(str(tmp_path / "ckpt"))
    restored_variables = _variables()
    plain = keras.optimizers.Adam(1e-2)
    plain.build(restored_variables)
    tf.train.Checkpoint(optimizer=plain, variables=restored_variables).restore(path).assert_consumed()
    assert int(plain.iterations) == 1
    for a, b in zip(fused.variables, plain.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
