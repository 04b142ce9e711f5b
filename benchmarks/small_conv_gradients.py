"""The training passes of the U-Net's convolutions, level by level: oneDNN's kernels against the
matmuls that ``pix2pix_tf/kernels/matmul_conv.py`` uses where a level is small and wide
(``MATMUL_GRADIENT_POSITIONS``; ``--kernels=cpu``, and ``auto`` on a CPU with oneDNN).

    python benchmarks/small_conv_gradients.py --image_size=256 --batch_size=1

For each level of the paper's U-Net (its 4x4 stride-2 encoder conv and decoder transposed conv),
in float32 and bfloat16, one process taking turns: the time of the layer's forward pass with its
input and filter gradients, with Keras' own layer and with ours, and the ratio. The last line is
one JSON object with every figure.
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from pix2pix_tf.kernels import matmul_conv
from pix2pix_tf.kernels.policy import CPU_LAYERS
from pix2pix_tf.models.generators import unet_generator
from pix2pix_tf.models.layers import dtype_policy

IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "The U-Net's image size (its levels follow).")
BATCH_SIZE = flags.DEFINE_integer("batch_size", 1, "Images per batch.")
RUNS = flags.DEFINE_integer("runs", 15, "Timed runs of each backward pass (the median is reported).")
KERAS_COUNTERPARTS = {matmul_conv.MatmulConv2D: keras.layers.Conv2D,
                      matmul_conv.MatmulConv2DTranspose: keras.layers.Conv2DTranspose}
PRECISIONS = flags.DEFINE_list("precisions", ["none", "bfloat16"], "--mixed_precision values to time.")


def _backward(layer: keras.layers.Layer, inputs: tf.Tensor):
    """A compiled function of the layer's forward pass and its input and filter gradients (for a fixed
    output gradient)."""
    out_grad = tf.cast(tf.random.stateless_normal(layer.compute_output_shape(inputs.shape), seed=[1, 2]),
                       layer.compute_dtype)

    @tf.function
    def backward(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, training=True)
        return tape.gradient(outputs, [inputs, layer.kernel], output_gradients=out_grad)

    return backward


def _median_ms(function, inputs) -> float:
    times = []
    for _ in range(RUNS.value):
        started = time.perf_counter()
        [gradient.numpy() for gradient in function(inputs)]
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def _input_size(name: str) -> int:
    """The side of a U-Net level's input: down{k}_conv takes image_size / 2**k, up{k}_convt image_size / 2**(k+1)."""
    level = int(name.split("_")[0].removeprefix("down").removeprefix("up"))
    return IMAGE_SIZE.value // 2 ** (level + name.startswith("up"))


def main(argv: list[str]) -> None:
    del argv
    generator = unet_generator(image_size=IMAGE_SIZE.value, layer_types=CPU_LAYERS)
    convolutions = [layer for layer in generator.layers if isinstance(layer, (keras.layers.Conv2D,
                                                                              keras.layers.Conv2DTranspose))]
    results = {}
    for precision in PRECISIONS.value:
        with dtype_policy(precision):
            for layer in convolutions:
                size = _input_size(layer.name)
                inputs = tf.cast(tf.random.stateless_normal([BATCH_SIZE.value, size, size, layer.input.shape[-1]],
                                                            seed=[3, 4]), layer.compute_dtype)
                config = {key: value for key, value in layer.get_config().items() if key not in ("name", "dtype")}
                ours = type(layer).from_config({**config, "name": f"ours_{layer.name}"})
                thresholds = ("positions", "channel_pairs", "min_channel_pairs")  # ours alone takes them
                keras_layer = KERAS_COUNTERPARTS[type(layer)].from_config(
                    {**{key: value for key, value in config.items() if key not in thresholds},
                     "name": f"keras_{layer.name}"})
                functions = {"onednn": _backward(keras_layer, inputs), "ours": _backward(ours, inputs)}
                for function in functions.values():
                    function(inputs)  # traced
                timings = {name: [] for name in functions}
                for _ in range(3):  # taking turns
                    for name, function in functions.items():
                        timings[name].append(_median_ms(function, inputs))
                onednn, ours_ms = min(timings["onednn"]), min(timings["ours"])
                matmul = ours.trains_as_matmuls(inputs.shape)
                key = f"{precision}/{layer.name}"
                results[key] = {"input_px": size, "channels_in": layer.input.shape[-1], "filters": layer.filters,
                                "matmul_gradient": matmul, "onednn_ms": round(onednn, 2),
                                "ours_ms": round(ours_ms, 2), "speedup": round(onednn / ours_ms, 2)}
                print(f"{precision:8s} {layer.name:12s} {size:4d} px {layer.input.shape[-1]:5d} -> {layer.filters:4d}: "
                      f"oneDNN {onednn:6.2f} ms, ours {ours_ms:6.2f} ms ({onednn / ours_ms:.2f}x)"
                      f"{'  matmul' if matmul else ''}", flush=True)
    for precision in PRECISIONS.value:
        rows = [row for key, row in results.items() if key.startswith(f"{precision}/")]
        before, after = sum(row["onednn_ms"] for row in rows), sum(row["ours_ms"] for row in rows)
        print(f"{precision}: all levels {before:.1f} ms -> {after:.1f} ms ({before / after:.2f}x)")
    print(json.dumps({"image_size": IMAGE_SIZE.value, "batch_size": BATCH_SIZE.value,
                      "matmul_gradient_positions": matmul_conv.MATMUL_GRADIENT_POSITIONS,
                      "matmul_gradient_channel_pairs": matmul_conv.MATMUL_GRADIENT_CHANNEL_PAIRS, "layers": results}))


if __name__ == "__main__":
    app.run(main)
