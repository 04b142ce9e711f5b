"""Running a generator in the paper's or the conventional inference mode."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf

INFERENCE_MODES = ("paper", "eval")


def _moving_statistics(model: keras.Model) -> list[tf.Variable]:
    return [
        variable
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
        for variable in (layer.moving_mean, layer.moving_variance)
    ]


def make_generate_fn(generator: keras.Model, mode: str = "paper") -> Callable[[tf.Tensor], tf.Tensor]:
    """A compiled function images -> generator outputs, (batch, H, W, C) float32 in [-1, 1].

    - ``eval``: moving batch-norm statistics, no dropout; deterministic.
    - ``paper``: as the paper evaluates: dropout on and batch-norm statistics of each image
      alone, so an image's output does not depend on the rest of its batch. The moving
      statistics are left exactly as they were.
    """
    if mode not in INFERENCE_MODES:
        raise ValueError(f"mode={mode!r} is not valid; choose one of: {', '.join(INFERENCE_MODES)}")
    if mode == "eval":
        return tf.function(lambda images: tf.cast(generator(images, training=False), tf.float32))

    moving = _moving_statistics(generator)

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
