"""Speed and memory figures behind ``pix2pix-tf benchmark``: the input pipeline, the train step, TFLite inference.

Benchmarks print figures; no unit test is timed."""

from __future__ import annotations

import gc
import os
import time

from pix2pix_tf.config import Config, check_choice
from pix2pix_tf.data import pipeline


def benchmark_input(
    config: Config, batches: int = 200, warmup: int = 20, data_dir: str | os.PathLike | None = None
) -> dict[str, float]:
    """Images/s of the training input pipeline alone (decode, jitter, batch), as training runs it.

    Returns {"images_per_s", "batches", "batch_size", "image_size", "seconds"}.
    """
    batch_size = config.train.batch_size
    dataset = pipeline.make_dataset(
        config, "train", training=True, batch_size=batch_size, seed=config.train.seed, data_dir=data_dir
    )
    iterator = iter(dataset)
    for _ in range(warmup):  # fills the prefetch buffers and the autotuner's estimates
        next(iterator)
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    seconds = time.perf_counter() - started
    return {
        "images_per_s": round(batches * batch_size / seconds, 2),
        "batches": batches,
        "batch_size": batch_size,
        "image_size": config.data.image_size,
        "preprocess": config.data.preprocess,
        "seconds": round(seconds, 3),
    }


# The JSON keys of the TFLite precisions in benchmark_inference's results.
PRECISION_KEYS = {"float32": "fp32", "float16": "fp16", "dynamic_int8": "dynamic_int8", "int8": "int8"}


def generator_models(config: Config, names: list[str]) -> dict[str, object]:
    """The ModelConfig each name stands for: a generator of ``GENERATORS`` as ``config.model`` has
    it ("unet"), the student of ``pix2pix-tf distill`` for "unet_mobile" (``STUDENT_MODEL``), or
    ``name:filters`` at another width (e.g. "unet_mobile:24"), and for the student
    ``unet_mobile:filters:conv`` with other levels (e.g. "unet_mobile:16:separable")."""
    import dataclasses

    from pix2pix_tf.config import GENERATORS, MOBILE_CONVS, STUDENT_MODEL

    models = {}
    for name in names:
        generator, _, rest = name.partition(":")
        filters, _, conv = rest.partition(":")
        check_choice("generators", generator, GENERATORS)
        if (filters and not filters.isdigit()) or (conv and conv not in MOBILE_CONVS):
            raise ValueError(f"--generators: {name!r} is not NAME, NAME:FILTERS or unet_mobile:FILTERS:CONV "
                             f"(FILTERS a positive integer, CONV one of {', '.join(MOBILE_CONVS)})")
        model = dataclasses.replace(config.model, generator=generator)
        if generator == STUDENT_MODEL["generator"]:
            model = dataclasses.replace(model, **STUDENT_MODEL)
        if filters:
            model = dataclasses.replace(model, filters=int(filters))
        models[name] = dataclasses.replace(model, mobile_conv=conv) if conv else model
    return models


def benchmark_inference(
    config: Config,
    precisions: tuple[str, ...] = ("float32", "float16", "dynamic_int8", "int8"),
    runs: int = 10,
    num_threads: int = 2,
    workdir: str | os.PathLike | None = None,
    generators: list[str] | None = None,
) -> dict[str, dict]:
    """Parameters, GMACs and, per TFLite precision, size (MB) and median latency (ms per image on
    ``num_threads`` threads) of each generator, timed in one process, taking turns.

    Times each generator in ``config.train.eval_mode`` (what an export ships by default) at
    ``config.data.image_size``: the trained generator of ``workdir`` when given (named by the
    folder), else freshly initialised ones named by ``generators`` (see ``generator_models``;
    default: the config's). Size and latency do not depend on the weights' values; int8 is then
    calibrated on uniform noise images: fine for timing, not for quality.

    Returns:
      name -> {"params", "gmacs", "mode", and per precision key (``PRECISION_KEYS``: fp32, fp16,
      dynamic_int8, int8) {"size_mb", "latency_ms" (median), "min_ms"}}.
    """
    import numpy as np

    from pix2pix_tf import run_folder
    from pix2pix_tf.deploy import tflite
    from pix2pix_tf.models.generators import build_generator
    from pix2pix_tf.models.inference import inference_generator

    size, mode = config.data.image_size, config.train.eval_mode
    if workdir:
        generator, run_config = run_folder.load_generator(workdir)
        built = {os.path.basename(os.path.normpath(workdir)): (generator, run_config.model.input_channels)}
    else:
        built = {name: (build_generator(model, size), model.input_channels)
                 for name, model in generator_models(config, generators or [config.model.generator]).items()}
    rng = np.random.default_rng(0)
    results, runners = {}, {}
    for name, (generator, channels) in built.items():
        images = rng.uniform(-1, 1, (8, size, size, channels)).astype(np.float32)
        inference = inference_generator(generator, mode)
        results[name] = {"params": int(generator.count_params()),
                         "gmacs": float(f"{model_flops(generator, size) / 2e9:.4g}"), "mode": mode}
        for precision in precisions:
            model_bytes = tflite.convert(inference, size, precision, images)
            runners[name, precision] = (tflite.TFLiteModel(model_bytes, num_threads=num_threads), images)
            runners[name, precision][0].run(images[:1])  # first call allocates and plans
            results[name][PRECISION_KEYS[precision]] = {"size_mb": round(len(model_bytes) / 1e6, 2)}
    timings = {key: [] for key in runners}
    for index in range(runs):  # every model once per round: a slower moment of the machine hits all alike
        for key, (runner, images) in runners.items():
            started = time.perf_counter()
            runner.run(images[index % len(images)][np.newaxis])
            timings[key].append(time.perf_counter() - started)
    for (name, precision), values in timings.items():
        values.sort()
        results[name][PRECISION_KEYS[precision]].update(
            latency_ms=round(1000 * values[len(values) // 2], 2), min_ms=round(1000 * values[0], 2))
    return results


def model_flops(model, image_size: int) -> float:
    """Forward FLOPs (2 per multiply-add) of the convolutions of ``model`` on one image_size^2 image.

    Counts Conv2D, Conv2DTranspose and DepthwiseConv2D layers, which hold all but a fraction of a
    percent of the work.
    """
    import keras
    import numpy as np

    conv_types = (keras.layers.Conv2D, keras.layers.Conv2DTranspose, keras.layers.DepthwiseConv2D)
    conv_layers = [layer for layer in model.layers if isinstance(layer, conv_types)]
    probe = keras.Model(model.inputs, [layer.output for layer in conv_layers])
    zeros = [np.zeros((1, image_size, image_size, int(tensor.shape[-1])), np.float32) for tensor in model.inputs]
    total = 0.0
    for layer, output in zip(conv_layers, probe(zeros)):
        kernel_height, kernel_width, third, fourth = layer.kernel.shape
        height, width, out_channels = output.shape[1:]
        if isinstance(layer, keras.layers.DepthwiseConv2D):  # kernel (h, w, in, multiplier); no sum over channels
            in_channels, out_channels, positions = 1, third * fourth, height * width
        elif isinstance(layer, keras.layers.Conv2DTranspose):  # kernel (h, w, out, in); one kernel per input pixel
            in_channels, positions = fourth, height * width // (layer.strides[0] * layer.strides[1])
        else:
            in_channels, positions = third, height * width
        total += 2.0 * kernel_height * kernel_width * in_channels * out_channels * positions
    return total


def matmul_flops_per_second(size: int = 2048, repeats: int = 10, dtype: str = "float32") -> float:
    """The machine's matmul rate (FLOP/s) in ``dtype`` (float32, bfloat16, float16): a size x size
    matmul, best of ``repeats``; the yardstick a step's FLOP rate is measured against."""
    import tensorflow as tf

    a = tf.cast(tf.random.stateless_uniform((size, size), seed=(0, 1)), dtype)
    @tf.function
    def matmul(x):
        return tf.reduce_sum(tf.cast(tf.matmul(x, x), tf.float32))

    float(matmul(a))
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        float(matmul(a))
        best = min(best, time.perf_counter() - started)
    return 2.0 * size**3 / best


def _reset_peak_memory() -> None:
    """Restarts the peak-RSS count (Linux: ``clear_refs`` 5), so each benchmark reports its own peak."""
    try:
        with open("/proc/self/clear_refs", "w") as file:
            file.write("5")
    except OSError:
        pass  # elsewhere the peak is the process's since it started


def _peak_rss_kib() -> int:
    try:
        with open("/proc/self/status") as file:
            return next(int(line.split()[1]) for line in file if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _peak_memory_mib() -> dict[str, float]:
    """Peak resident memory (MiB) since ``_reset_peak_memory``, and the GPU's peak allocation when there is one."""
    import tensorflow as tf

    peaks = {"peak_rss_mib": round(_peak_rss_kib() / 1024, 1)}
    if tf.config.list_physical_devices("GPU"):
        peaks["peak_device_mib"] = round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20, 1)
    return peaks


def step_flops(config: Config) -> float:
    """FLOPs of one train step per image: G forward + backward (3 G) and, with a GAN term, D on real
    and fake with backward for D's update (6 D), plus, in the reference update order, D on fake
    again with input gradients for G's update (2 D; the simultaneous order reuses the first pass)
    and, with feature matching, the updated D on the real pair (1 D). D is every scale of a
    multi-scale discriminator, each at its own size. The VGG perceptual loss adds VGG19 on the
    output and the target and the output's input gradient (3 VGG)."""
    import dataclasses

    from pix2pix_tf.models.discriminators import build_discriminator, scale_sizes
    from pix2pix_tf.models.generators import build_generator

    size = config.data.image_size
    train = config.train
    flops = 3 * model_flops(build_generator(config.model, size), size)
    if train.gan_weight > 0:
        passes = 8 if train.update_order == "reference" else 6
        passes += 1 if train.feature_matching_weight > 0 and train.update_order == "reference" else 0
        patchgan = build_discriminator(dataclasses.replace(config.model, disc_scales=1))
        for scale_size in scale_sizes(size, config.model.disc_scales):
            flops += passes * model_flops(patchgan, scale_size)
    if train.uses_perceptual:
        import keras

        vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
        flops += 3 * model_flops(vgg, size)
    return flops


def benchmark_train(
    config: Config, steps: int = 20, warmup: int = 3, source: str = "synthetic",
    data_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Times the one train step (``Pix2Pix.train_step``) as training runs it.

    Args:
      config: the run's config (architecture, image and batch size, jit_compile, ...).
      steps: timed steps, after the first (traced) step and ``warmup`` more.
      source: "synthetic" (fixed random tensors: the step alone) or "data" (batches from the
        config's dataset: the step plus any wait for input).
    Returns:
      median_step_s, min_step_s, max_step_s, images_per_s, first_step_s, peak_rss_mib
      (+ peak_device_mib on a GPU), step_gflop, achieved_gflop_per_s, matmul_gflop_per_s (in the
      step's precision), fraction_of_matmul, mixed_precision (auto resolved), kernels (resolved), and for
      source="data" the input pipeline's input_images_per_s.
    """
    import tensorflow as tf

    from pix2pix_tf.training.step import Pix2Pix
    from pix2pix_tf.training.train import with_resolved_precision

    check_choice("source", source, ("synthetic", "data"))
    config = with_resolved_precision(config)
    batch, size = config.train.batch_size, config.data.image_size
    flops = step_flops(config) * batch
    precision = config.train.mixed_precision
    matmul_rate = matmul_flops_per_second(dtype="float32" if precision == "none" else precision)
    gc.collect()
    _reset_peak_memory()  # the peak of training alone, not of the FLOP count's extra models
    if source == "data":
        batches = iter(pipeline.make_dataset(config, "train", training=True, batch_size=batch,
                                                   seed=config.train.seed, data_dir=data_dir))
        next_batch = lambda: next(batches)  # noqa: E731
    else:
        shape = (batch, size, size)
        fixed = (tf.random.stateless_uniform(shape + (config.model.input_channels,), (1, 2), -1, 1),
                 tf.random.stateless_uniform(shape + (config.model.output_channels,), (3, 4), -1, 1))
        next_batch = lambda: fixed  # noqa: E731
    model = Pix2Pix(config, steps_per_epoch=1000)

    def timed_step() -> float:
        started = time.perf_counter()
        losses = model.compiled_train_step(*next_batch())
        float(losses["g_loss"])  # waits for the step to finish
        return time.perf_counter() - started

    first = timed_step()
    for _ in range(warmup):
        timed_step()
    timings = sorted(timed_step() for _ in range(steps))
    median = timings[len(timings) // 2]
    results = {
        "source": source, "image_size": size, "batch_size": batch, "steps": steps, "mixed_precision": precision,
        "kernels": model.kernels.name,
        "median_step_s": round(median, 4), "min_step_s": round(timings[0], 4), "max_step_s": round(timings[-1], 4),
        "images_per_s": round(batch / median, 3), "first_step_s": round(first, 2),
        **_peak_memory_mib(),
        "step_gflop": round(flops / 1e9, 3), "achieved_gflop_per_s": round(flops / median / 1e9, 2),
        "matmul_gflop_per_s": round(matmul_rate / 1e9, 1),
        "fraction_of_matmul": round(flops / median / matmul_rate, 3),
    }
    if source == "data":
        results["input_images_per_s"] = benchmark_input(config, batches=max(20, steps), warmup=5,
                                                        data_dir=data_dir)["images_per_s"]
    return results
