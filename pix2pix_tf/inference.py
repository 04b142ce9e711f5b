"""Running a generator in the paper's or the conventional inference mode."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

INFERENCE_MODES = ("paper", "eval")


def seed_states(model: keras.Model) -> list:
    """The random-number states of the model's dropout layers (Keras keeps them out of ``weights``)."""
    return [layer.seed_generator.state for layer in model.layers if hasattr(layer, "seed_generator")]


def _training_state(model: keras.Model) -> list:
    """What a training-mode forward pass changes: moving batch-norm statistics and dropout seed states."""
    moving = [
        variable
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for variable in (layer.moving_mean, layer.moving_variance)
    ]
    return moving + seed_states(model)


def make_generate_fn(generator: keras.Model, mode: str = "paper") -> Callable[[tf.Tensor], tf.Tensor]:
    """A compiled function images -> generator outputs, (batch, H, W, C) float32 in [-1, 1].

    - ``eval``: moving batch-norm statistics, no dropout; deterministic.
    - ``paper``: as the paper evaluates: dropout on and batch-norm statistics of each image
      alone, so an image's output does not depend on the rest of its batch. The moving
      statistics and dropout's random state are left exactly as they were, so sampling during
      training does not change what training does next.
    """
    if mode not in INFERENCE_MODES:
        raise ValueError(f"mode={mode!r} is not valid; choose one of: {', '.join(INFERENCE_MODES)}")
    if mode == "eval":
        return tf.function(lambda images: tf.cast(generator(images, training=False), tf.float32))

    moving = _training_state(generator)

    @tf.function
    def generate(images):
        saved = [tf.identity(variable) for variable in moving]
        outputs = tf.map_fn(
            lambda image: tf.cast(generator(image[tf.newaxis], training=True)[0], tf.float32),
            images,
            fn_output_signature=tf.float32,
        )
        with tf.control_dependencies([outputs]):
            for variable, value in zip(moving, saved):
                variable.assign(value)
        return tf.identity(outputs)

    return generate
