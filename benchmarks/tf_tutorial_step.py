"""The TensorFlow tutorial's pix2pix train step, timed beside ours in the same process.

The tutorial (tensorflow.org/tutorials/generative/pix2pix) is what most people start from, so it
is the speed to beat. This script rebuilds its networks and train step as the tutorial describes
them (U-Net with LeakyReLU 0.3 and batch norm on every encoder block but the first, PatchGAN
without a bias on its first conv, Keras Adam, D(fake) computed once for both losses), then times
it and ``pix2pix_tf``'s step in each requested variant alternately on the same fixed batch, so
all see the same machine load. Speed is reported as a ratio to the tutorial's step and as a
share of the machine's matmul rate in the variant's precision.

  python benchmarks/tf_tutorial_step.py --batch_size=1 --steps=10
  python benchmarks/tf_tutorial_step.py --variants=float32,bfloat16 --memory   # + peak RSS, one process each
  python benchmarks/tf_tutorial_step.py --tutorial_code=path/to/tensorflow_examples/models/pix2pix/pix2pix.py

Variants: PRECISION[:simultaneous][:xla][:kernels=K][:calls=N][:scales=N][:fm][:hd],
PRECISION one of float32, bfloat16, float16, auto (``--mixed_precision``; auto as training resolves
it), ``:simultaneous`` the tutorial's update order (default: the reference order, pix2pix-tf's
default), ``:xla`` the step compiled with XLA, ``:kernels=K`` the networks built with
``--kernels=K`` (keras: Keras' own layers; cpu: the fused batch norm and the matmul levels of
pix2pix_tf.kernels; what the kernels give, measured pairwise; default auto), ``:calls=N`` N
steps per call (``--steps_per_call``; the time per step is reported), ``:scales=N`` N discriminator
scales (``--disc_scales``), ``:fm`` feature matching (``--feature_matching_weight=10``), ``:hd``
``--preset=hd`` (pix2pixHD's recipe: 2 scales, feature matching, LSGAN, instance norm).
``--tutorial_code`` also times the unmodified tutorial module (tensorflow/examples
``tensorflow_examples/models/pix2pix/pix2pix.py``, its ``Pix2pix.train_step`` under tf.function), to
check that the rebuild runs at its speed.

The last line printed is one JSON object: per variant median_step_s, min_step_s, images_per_s,
speedup_over_tutorial, gflop_per_s, share_of_matmul (and peak_rss_mib with --memory); the CPU's
model and flags that matter; the matmul rates in float32 and bfloat16.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # as import pix2pix_tf does (TensorFlow is imported first here); =0 to compare

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from keras import layers  # noqa: E402

from pix2pix_tf import hardware, speed  # noqa: E402
from pix2pix_tf.config import KERNEL_POLICIES, get_preset  # noqa: E402
from pix2pix_tf.training.step import Pix2Pix  # noqa: E402
from pix2pix_tf.training.train import with_resolved_precision  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 1, "Images per step.")
flags.DEFINE_integer("image_size", 256, "Image side in pixels.")
flags.DEFINE_integer("steps", 10, "Timed steps of each, alternating, after 2 warm-up steps each.")
flags.DEFINE_list("variants", ["float32", "float32:simultaneous", "bfloat16"],
                  "pix2pix-tf steps to time: PRECISION[:simultaneous][:xla][:kernels=K][:calls=N][:scales=N][:fm][:hd] "
                  "(see the module docstring).")
flags.DEFINE_string("tutorial_code", "", "Also time the unmodified tutorial module at this path.")
flags.DEFINE_bool("memory", False, "Also measure each variant's peak RSS, each in a process of its own "
                                   "(the timing still alternates in one process).")
flags.DEFINE_string("only", "", "Internal (--memory): run this one variant and print its peak RSS.")

PRECISIONS = {"float32": "none", "bfloat16": "bfloat16", "float16": "float16", "auto": "auto"}
TUTORIAL, TUTORIAL_CODE = "tf_tutorial", "tf_tutorial_code"


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


def tutorial_code_step_fn(path: str):
    """The unmodified tutorial module's ``Pix2pix.train_step`` under tf.function (its own networks,
    256 px, any batch). The module defines absl flags of its own at import (one of them,
    ``batch_size``, is also ours): ours are read before and removed, so it imports unchanged."""
    for name in ("batch_size", "buffer_size", "epochs", "path", "enable_function"):
        if name in FLAGS:
            delattr(FLAGS, name)
    spec = importlib.util.spec_from_file_location("tf_tutorial_pix2pix", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Pix2pix(epochs=1, enable_function=True)
    step = tf.function(model.train_step)
    return lambda inputs, targets: step(inputs, targets)[0]


VARIANT_GRAMMAR = "PRECISION[:simultaneous][:xla][:kernels=K][:calls=N][:scales=N][:fm][:hd]"


def variant_config(variant: str, size: int, batch: int):
    """The pix2pix-tf Config a variant name stands for (auto resolved for this machine)."""
    precision, *options = variant.split(":")
    values = {option.split("=")[0]: option.split("=")[1] for option in options if "=" in option}
    switches = {option for option in options if "=" not in option}
    if (precision not in PRECISIONS or not switches <= {"simultaneous", "xla", "fm", "hd"}
            or not set(values) <= {"calls", "scales", "kernels"}
            or not all(values[name].isdigit() for name in ("calls", "scales") if name in values)
            or values.get("kernels", "auto") not in KERNEL_POLICIES
            or len(values) != len([option for option in options if "=" in option])):
        raise ValueError(f"--variants: {variant!r} is not {VARIANT_GRAMMAR} (PRECISION one of {', '.join(PRECISIONS)})")
    config = get_preset("hd" if "hd" in switches else "paper")
    train = dict(batch_size=batch, mixed_precision=PRECISIONS[precision], kernels=values.get("kernels", "auto"),
                 update_order="simultaneous" if "simultaneous" in switches else "reference",
                 jit_compile="xla" in switches, steps_per_call=int(values.get("calls", 1)))
    if "fm" in switches:
        train["feature_matching_weight"] = 10.0
    model = dict(disc_scales=int(values.get("scales", config.model.disc_scales)))
    return with_resolved_precision(config.replace(data=dict(image_size=size), train=train, model=model))


def make_steps(names: list[str], size: int, batch: int) -> dict:
    """name -> (function of (inputs, targets) running one call and returning G's loss, train steps per call)."""
    steps = {}
    for name in names:
        if name == TUTORIAL:
            steps[name] = tutorial_step_fn(size), 1
        elif name == TUTORIAL_CODE:
            steps[name] = tutorial_code_step_fn(FLAGS.tutorial_code), 1
        else:
            config = variant_config(name, size, batch)
            model = Pix2Pix(config, steps_per_epoch=1000)
            calls = config.train.steps_per_call
            if calls == 1:
                step = (lambda x, y, model=model: model.compiled_train_step(x, y)["g_loss"])
            else:  # as training runs it: the batches come from a dataset iterator, `calls` steps per call
                iterator = iter(tf.data.Dataset.from_tensors(fixed_batch(size, batch)).repeat())
                step = (lambda x, y, model=model, iterator=iterator, calls=calls:
                        model.compiled_train_steps(iterator, tf.constant(calls))["g_loss"])
            float(step(*fixed_batch(size, batch)))  # traced
            steps[name] = step, calls
    return steps


def fixed_batch(size: int, batch: int):
    return (tf.random.stateless_uniform((batch, size, size, 3), (0, 1), -1, 1),
            tf.random.stateless_uniform((batch, size, size, 3), (2, 3), -1, 1))


def peak_rss_of(name: str) -> float:
    """Peak RSS (MiB) of a process that builds and runs only ``name``'s step (2 + --steps steps)."""
    command = [sys.executable, __file__, f"--only={name}", f"--batch_size={FLAGS.batch_size}",
               f"--image_size={FLAGS.image_size}", f"--steps={FLAGS.steps}", f"--tutorial_code={FLAGS.tutorial_code}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["peak_rss_mib"]


def main(argv: list[str]) -> None:
    del argv
    size, batch = FLAGS.image_size, FLAGS.batch_size
    inputs, targets = fixed_batch(size, batch)
    if FLAGS.only:
        step, _ = make_steps([FLAGS.only], size, batch)[FLAGS.only]
        for _ in range(FLAGS.steps + 2):
            float(step(inputs, targets))
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec, so a child would report its parent's peak.
        print(json.dumps({"peak_rss_mib": round(speed._peak_rss_kib() / 1024, 1)}))
        return
    names = [TUTORIAL] + ([TUTORIAL_CODE] if FLAGS.tutorial_code else []) + list(FLAGS.variants)
    configs = {name: variant_config(name, size, batch) for name in FLAGS.variants}
    steps = make_steps(names, size, batch)
    timings = {name: [] for name in names}
    for round_index in range(FLAGS.steps + 2):
        for name, (step, per_call) in steps.items():
            started = time.perf_counter()
            float(step(inputs, targets))
            if round_index >= 2:
                timings[name].append((time.perf_counter() - started) / per_call)
    matmul = {dtype: speed.matmul_flops_per_second(dtype=dtype) for dtype in ("float32", "bfloat16")}
    tutorial_config = variant_config("float32:simultaneous", size, batch)  # the tutorial's FLOPs: same convolutions
    results = {}
    for name, values in timings.items():
        median = statistics.median(values)
        config = configs.get(name, tutorial_config)
        precision = {"none": "float32"}.get(config.train.mixed_precision, config.train.mixed_precision)
        rate = matmul.get(precision) or speed.matmul_flops_per_second(dtype=precision)
        flops = speed.step_flops(config) * batch
        results[name] = {"median_step_s": round(median, 4), "min_step_s": round(min(values), 4),
                         "images_per_s": round(batch / median, 3), "precision": precision,
                         "update_order": config.train.update_order, "gflop_per_s": round(flops / median / 1e9, 1),
                         "share_of_matmul": round(flops / median / rate, 3)}
    tutorial = results[TUTORIAL]["median_step_s"]
    for name, figures in results.items():
        figures["speedup_over_tutorial"] = round(tutorial / figures["median_step_s"], 3)
        if FLAGS.memory:
            figures["peak_rss_mib"] = peak_rss_of(name)
        print(f"{name:>26}: median {figures['median_step_s']:.3f} s (min {figures['min_step_s']:.3f}), "
              f"{figures['images_per_s']:.2f} images/s at {size} px, batch {batch}: "
              f"{figures['speedup_over_tutorial']:.2f}x the tutorial's speed, "
              f"{100 * figures['share_of_matmul']:.0f} % of the {figures['precision']} matmul rate"
              + (f", peak RSS {figures['peak_rss_mib']:.0f} MiB" if FLAGS.memory else ""))
    cpu = hardware.cpu_info()
    print(f"matmul rate now: float32 {matmul['float32'] / 1e9:.0f} GFLOP/s, bfloat16 {matmul['bfloat16'] / 1e9:.0f} "
          f"GFLOP/s; CPU {cpu['model']} ({' '.join(cpu['flags'])})")
    print(json.dumps({**results, "batch_size": batch, "image_size": size, "cpu": cpu,
                      "matmul_gflop_per_s": {dtype: round(rate / 1e9, 1) for dtype, rate in matmul.items()},
                      "tensorflow": tf.__version__, "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS")}))


if __name__ == "__main__":
    app.run(main)
