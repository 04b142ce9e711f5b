"""Our compiled train step against the PyTorch reference's ``optimize_parameters``, written out here
independently and run eagerly: the same weights after 3 steps."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.training.step import Pix2Pix

STEPS = 3


def _bce(logits: tf.Tensor, target: float) -> tf.Tensor:
    """nn.BCEWithLogitsLoss against a constant label, as the reference's GANLoss('vanilla')."""
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(tf.fill(tf.shape(logits), target), logits))


class _TorchAdam:
    """torch.optim.Adam(lr, betas=(0.5, 0.999), eps=1e-8) on a list of variables."""

    def __init__(self, variables, learning_rate=2e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8):
        self.variables, self.step = variables, 0
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        self.m = [np.zeros(variable.shape, np.float32) for variable in variables]
        self.v = [np.zeros(variable.shape, np.float32) for variable in variables]

    def apply(self, gradients) -> None:
        self.step += 1
        for index, (variable, gradient) in enumerate(zip(self.variables, gradients)):
            gradient = gradient.numpy()
            self.m[index] = self.beta_1 * self.m[index] + (1 - self.beta_1) * gradient
            self.v[index] = self.beta_2 * self.v[index] + (1 - self.beta_2) * gradient**2
            m_hat = self.m[index] / (1 - self.beta_1**self.step)
            v_hat = self.v[index] / (1 - self.beta_2**self.step)
            variable.assign(variable.numpy() - self.learning_rate * m_hat / (np.sqrt(v_hat) + self.epsilon))


def _reference_step(generator, discriminator, g_adam, d_adam, real_a, real_b, l1_weight=100.0) -> None:
    """pix2pix_model.optimize_parameters: forward G once; update D on (fake.detach(), real) with
    0.5 * (BCE(fake, 0) + BCE(real, 1)); then update G with BCE(D(fake), 1) + lambda * L1
    against the D just updated."""
    with tf.GradientTape() as generator_tape:
        fake_b = generator(real_a, training=True)
        with tf.GradientTape() as discriminator_tape:
            loss_d_fake = _bce(discriminator([real_a, tf.stop_gradient(fake_b)], training=True), 0.0)
            loss_d_real = _bce(discriminator([real_a, real_b], training=True), 1.0)
            loss_d = 0.5 * (loss_d_fake + loss_d_real)
        d_adam.apply(discriminator_tape.gradient(loss_d, discriminator.trainable_variables))
        loss_g = _bce(discriminator([real_a, fake_b], training=True), 1.0) + l1_weight * tf.reduce_mean(
            tf.abs(fake_b - real_b))
    g_adam.apply(generator_tape.gradient(loss_g, generator.trainable_variables))


def _twin_models(config):
    """Ours, and a second Pix2Pix whose networks serve the reference step: same weights, same dropout seeds."""
    keras.utils.set_random_seed(0)
    ours = Pix2Pix(config, steps_per_epoch=1000)
    keras.utils.set_random_seed(0)
    twin = Pix2Pix(config, steps_per_epoch=1000)
    for network in ("generator", "discriminator"):
        source, target = getattr(ours, network), getattr(twin, network)
        target.set_weights(source.get_weights())
        for layer_source, layer_target in zip(source.layers, target.layers):
            if hasattr(layer_source, "seed_generator"):
                layer_target.seed_generator.state.assign(layer_source.seed_generator.state)
    return ours, twin


def _batches():
    rng = np.random.default_rng(0)
    return [tuple(tf.constant(rng.uniform(-1, 1, (2, 32, 32, 3)), tf.float32) for _ in range(2))
            for _ in range(STEPS)]


def _largest_difference(model_a, model_b) -> float:
    return max(float(np.abs(a - b).max())
               for network in ("generator", "discriminator")
               for a, b in zip(getattr(model_a, network).get_weights(), getattr(model_b, network).get_weights()))


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_our_step_equals_the_reference_optimize_parameters_over_three_steps(dropout):
    config = tiny_config(steps=STEPS)
    config = config.replace(model=dataclasses.replace(config.model, dropout=dropout))
    ours, twin = _twin_models(config)
    start = [weight.copy() for weight in ours.generator.get_weights()]
    g_adam = _TorchAdam(twin.generator.trainable_variables)
    d_adam = _TorchAdam(twin.discriminator.trainable_variables)
    for real_a, real_b in _batches():
        ours.compiled_train_step(real_a, real_b)
        _reference_step(twin.generator, twin.discriminator, g_adam, d_adam, real_a, real_b)
    # Every weight, batch-norm moving statistics included (D sees fake, then real, then fake again).
    assert _largest_difference(ours, twin) < 2e-6
    moved = max(float(np.abs(a - b).max()) for a, b in zip(ours.generator.get_weights(), start))
    assert moved > 1e-4  # three real updates of about lr = 2e-4 each


@pytest.mark.slow
def test_the_comparison_tells_the_update_orders_apart():
    """The simultaneous order (G against D before its update) lands measurably away from the
    reference: the test above would catch a step that drifted to it."""
    config = tiny_config(steps=STEPS, update_order="simultaneous")
    ours, twin = _twin_models(config)
    g_adam = _TorchAdam(twin.generator.trainable_variables)
    d_adam = _TorchAdam(twin.discriminator.trainable_variables)
    for real_a, real_b in _batches():
        ours.compiled_train_step(real_a, real_b)
        _reference_step(twin.generator, twin.discriminator, g_adam, d_adam, real_a, real_b)
    assert _largest_difference(ours, twin) > 1e-5
