"""The TensorFlow tutorial's pix2pix train step, timed beside ours in the same process.

The tutorial (tensorflow.org/tutorials/generative/pix2pix) is what most people start from, so it
is the speed to beat. This script rebuilds its networks and train step as the tutorial describes
them (U-Net with LeakyReLU 0.3 and batch norm on every encoder block but the first, PatchGAN
without a bias on its first conv, Keras Adam, D(fake) computed once for both losses), then times
it and ``pix2pix_tf``'s step (in both update orders) alternately on the same fixed batch, so all
see the same machine load.

  python benchmarks/tf_tutorial_step.py --batch_size=1 --steps=10
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as the pix2pix-tf command; run with =0 to compare

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from keras import layers  # noqa: E402

from pix2pix_tf import speed  # noqa: E402
from pix2pix_tf.config import get_preset  # noqa: E402
from pix2pix_tf.training.step import Pix2Pix  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 1, "Images per step.")
flags.DEFINE_integer("image_size", 256, "Image side in pixels.")
flags.DEFINE_integer("steps", 10, "Timed steps of each, alternating, after 2 warm-up steps each.")


def _down(filters: int, batch_norm: bool = True) -> keras.Sequential:
    block = keras.Sequential([layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False,
                                            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))])
    if batch_norm:
        block.add(layers.BatchNormalization())
    block.add(layers.LeakyReLU(negative_slope=0.3))
    return block


def _up(filters: int, dropout: bool = False) -> keras.Sequential:
    block = keras.Sequential([layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                                                     kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02)),
                              layers.BatchNormalization()])
    if dropout:
        block.add(layers.Dropout(0.5))
    block.add(layers.ReLU())
    return block


def tutorial_generator(size: int) -> keras.Model:
    inputs = layers.Input((size, size, 3))
    downs = [_down(64, batch_norm=False), _down(128), _down(256)] + [_down(512) for _ in range(5)]
    ups = [_up(512, dropout=True) for _ in range(3)] + [_up(512), _up(256), _up(128), _up(64)]
    x, skips = inputs, []
    for down in downs:
        x = down(x)
        skips.append(x)
    for up, skip in zip(ups, reversed(skips[:-1])):
        x = layers.Concatenate()([up(x), skip])
    outputs = layers.Conv2DTranspose(3, 4, strides=2, padding="same", activation="tanh",
                                     kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))(x)
    return keras.Model(inputs, outputs)


def tutorial_discriminator(size: int) -> keras.Model:
    source, target = layers.Input((size, size, 3)), layers.Input((size, size, 3))
    x = layers.Concatenate()([source, target])
    x = _down(256)(_down(128)(_down(64, batch_norm=False)(x)))
    x = layers.Conv2D(512, 4, use_bias=False, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))(
        layers.ZeroPadding2D()(x))
    x = layers.LeakyReLU(negative_slope=0.3)(layers.BatchNormalization()(x))
    outputs = layers.Conv2D(1, 4, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02))(
        layers.ZeroPadding2D()(x))
    return keras.Model([source, target], outputs)


def tutorial_step_fn(size: int):
    generator, discriminator = tutorial_generator(size), tutorial_discriminator(size)
    generator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    discriminator_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def step(inputs, targets):
        with tf.GradientTape() as generator_tape, tf.GradientTape() as discriminator_tape:
            outputs = generator(inputs, training=True)
            real = discriminator([inputs, targets], training=True)
            fake = discriminator([inputs, outputs], training=True)
            generator_loss = cross_entropy(tf.ones_like(fake), fake) + 100 * tf.reduce_mean(tf.abs(targets - outputs))
            discriminator_loss = cross_entropy(tf.ones_like(real), real) + cross_entropy(tf.zeros_like(fake), fake)
        generator_optimizer.apply(generator_tape.gradient(generator_loss, generator.trainable_variables),
                                  generator.trainable_variables)
        discriminator_optimizer.apply(discriminator_tape.gradient(discriminator_loss, discriminator.trainable_variables),
                                      discriminator.trainable_variables)
        return generator_loss

    return step


def main(argv: list[str]) -> None:
    del argv
    size, batch = FLAGS.image_size, FLAGS.batch_size
    inputs = tf.random.stateless_uniform((batch, size, size, 3), (0, 1), -1, 1)
    targets = tf.random.stateless_uniform((batch, size, size, 3), (2, 3), -1, 1)
    paper = get_preset("paper")
    paper = paper.replace(data=dataclasses.replace(paper.data, image_size=size))
    reference = Pix2Pix(paper, steps_per_epoch=1000)
    simultaneous = Pix2Pix(
        paper.replace(train=dataclasses.replace(paper.train, update_order="simultaneous")), steps_per_epoch=1000)
    steps = {"tf_tutorial": tutorial_step_fn(size),
             "pix2pix_tf": lambda x, y: reference.compiled_train_step(x, y)["g_loss"],
             "pix2pix_tf_simultaneous": lambda x, y: simultaneous.compiled_train_step(x, y)["g_loss"]}
    timings = {name: [] for name in steps}
    for round_index in range(FLAGS.steps + 2):
        for name, step in steps.items():
            started = time.perf_counter()
            float(step(inputs, targets))
            if round_index >= 2:
                timings[name].append(time.perf_counter() - started)
    matmul = speed.matmul_flops_per_second() / 1e9
    results = {name: {"median_step_s": round(statistics.median(values), 3), "min_step_s": round(min(values), 3),
                      "images_per_s": round(batch / statistics.median(values), 3)}
               for name, values in timings.items()}
    tutorial = results["tf_tutorial"]["median_step_s"]
    for name, figures in results.items():
        figures["speedup_over_tutorial"] = round(tutorial / figures["median_step_s"], 3)
        print(f"{name:>24}: median {figures['median_step_s']:.3f} s (min {figures['min_step_s']:.3f}), "
              f"{figures['images_per_s']:.2f} images/s at {size} px, batch {batch}: "
              f"{figures['speedup_over_tutorial']:.2f}x the tutorial's speed")
    print(f"matmul rate now {matmul:.0f} GFLOP/s")
    print(json.dumps({**results, "matmul_gflop_per_s": round(matmul, 1), "batch_size": batch, "image_size": size,
                      "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}))


if __name__ == "__main__":
    app.run(main)
