"""The fused Adam is Keras' Adam, faster: same updates, same checkpoints."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from pix2pix_tf.optimizers import FusedAdam


def _variables():
    rng = np.random.default_rng(0)
    return [tf.Variable(rng.normal(size=shape).astype(np.float32)) for shape in ((3, 4), (5,))]


def test_fused_adam_follows_keras_adam_step_for_step_with_a_decaying_rate():
    schedule = keras.optimizers.schedules.PolynomialDecay(2e-2, 10, 1e-3)
    reference_variables, fused_variables = _variables(), _variables()
    reference = keras.optimizers.Adam(schedule, beta_1=0.5, beta_2=0.999)
    fused = FusedAdam(schedule, beta_1=0.5, beta_2=0.999)
    rng = np.random.default_rng(1)
    for _ in range(12):
        gradients = [tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in reference_variables]
        reference.apply(gradients, reference_variables)
        tf.function(fused.apply)(gradients, fused_variables)
    for expected, actual, start in zip(reference_variables, fused_variables, _variables()):
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
        assert np.abs(actual.numpy() - start.numpy()).max() > 1e-2  # the updates did move the weights


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
