"""Where a train step's time goes: a per-op profile of ours (any precision) or the TF tutorial's.

    python benchmarks/profile_step.py --variant=float32          # ours, reference order
    python benchmarks/profile_step.py --variant=bfloat16
    python benchmarks/profile_step.py --variant=tutorial         # benchmarks/tf_tutorial_step.py's rebuild

Two views of the same steps, 256 px, batch 1 by default (``--image_size``, ``--batch_size``):

* TensorFlow's ops (a ``tf.profiler`` trace of ``--steps`` steps, summed per step): convolutions
  forward and their two gradients, batch norm, the optimizer, casts, the non-finite check,
  element-wise ops, concatenations, and what no op accounts for (the executor, Python).
* oneDNN's primitives (a second process with ``ONEDNN_VERBOSE=1``, ``--profiled_steps`` steps):
  the convolutions split into forward, backward-data and backward-weights by shape, and the reorders between
  TensorFlow's layouts and oneDNN's blocked ones, which TensorFlow's ops hide.

Ops run one at a time (``TF_NUM_INTEROP_THREADS=1``, each op on every core) so that their times
add up to the step; training itself overlaps independent ops and runs a little faster.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

import tf_tutorial_step  # noqa: E402  (beside this script: the directory of the script run is on sys.path)

FLAGS = flags.FLAGS
flags.DEFINE_string("variant", "float32", "tutorial, or a variant of tf_tutorial_step.py (float32, bfloat16, "
                                          "float32:simultaneous, ...).")
flags.DEFINE_integer("profiled_steps", 5, "Profiled steps, after 3 warm-up steps.")
flags.DEFINE_integer("top", 15, "Rows of the per-layer and per-primitive tables.")
flags.DEFINE_bool("onednn", True, "Also break the oneDNN primitives down (a second process).")
flags.DEFINE_bool("onednn_child", False, "Internal: run --profiled_steps steps with ONEDNN_VERBOSE and exit.")

# TensorFlow op type (oneDNN's _Mkl* names folded into TensorFlow's) -> category.
CATEGORIES = [
    ("conv forward", r"^(FusedConv2D|Conv2D|PadWithConv2D|PadWithFusedConv2D|DepthwiseConv2dNative)$"),
    ("conv backward: input", r"^Conv2DBackpropInput$"),
    ("conv backward: filter", r"^Conv2DBackpropFilter(WithBias)?$"),
    ("batch norm", r"^FusedBatchNorm|^(Mean|SquaredDifference|Rsqrt|Square|Sqrt|Tile)$"),
    ("optimizer", r"^(ResourceApplyAdam|AssignAddVariableOp|AssignSubVariableOp|AssignVariableOp)$"),
    ("casts", r"^Cast$"),
    ("non-finite check", r"^(IsFinite|All)$"),
    ("activations", r"Relu|Tanh|Sigmoid"),
    ("concat / slice / pad", r"^(ConcatV2|Slice|Pad|StridedSlice|Pack|Unpack)$"),
    ("element-wise", r"^(Mul|Sub|AddV2|AddN|RealDiv|Neg|Abs|Sign|Maximum|Minimum|Select.*|Sum|Exp|Log1p)$"),
]


def _step(variant: str):
    size, batch = FLAGS.image_size, FLAGS.batch_size
    name = tf_tutorial_step.TUTORIAL if variant == "tutorial" else variant
    step, _ = tf_tutorial_step.make_steps([name], size, batch)[name]
    inputs, targets = tf_tutorial_step.fixed_batch(size, batch)
    return lambda: float(step(inputs, targets))


def _category(op_type: str) -> str:
    op_type = re.sub(r"^_Mkl(Native)?", "", op_type)
    return next((name for name, pattern in CATEGORIES if re.search(pattern, op_type)), "other ops")


def _layer(op_name: str) -> str:
    """A readable layer from a TF op name: the network and layer, forward or gradient."""
    match = re.search(r"(unet_generator|patchgan_discriminator|functional|sequential)_?\d*/(?:.*/)?"
                      r"([a-z]+\d*_(?:conv|convt|bn|norm)\w*?)(?:_\d+)?/", op_name)
    layer = f"{match.group(1).split('_')[0]}/{match.group(2)}" if match else op_name.split("/")[0][:40]
    return ("grad " if op_name.startswith("gradient_tape") else "") + layer


def tensorflow_profile(run_step, steps: int) -> dict:
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        for _ in range(steps):
            run_step()
        wall = (time.perf_counter() - started) / steps
        tf.profiler.experimental.stop()
        space = xplane_pb2.XSpace()
        with open(sorted(glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True))[-1], "rb") as file:
            space.ParseFromString(file.read())
    categories, layers = collections.Counter(), collections.Counter()
    for plane in space.planes:
        if not plane.name.startswith("/host:CPU"):
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if ":" not in name or "::" in name or " " in name or name.startswith("__"):
                    continue  # not a TensorFlow op (the executor's and Python's own events)
                op_name, op_type = name.rsplit(":", 1)
                seconds = event.duration_ps / 1e12 / steps
                categories[_category(op_type)] += seconds
                if "conv" in _category(op_type):
                    layers[_layer(op_name)] += seconds
    categories["executor, Python (no op)"] = max(wall - sum(categories.values()), 0.0)
    return {"wall_s": wall, "categories": categories, "conv_layers": layers}


def onednn_profile(variant: str) -> dict:
    """oneDNN primitive times per step, from a child process with ONEDNN_VERBOSE=1 (--profiled_steps steps)."""
    env = {**os.environ, "ONEDNN_VERBOSE": "1"}
    command = [sys.executable, __file__, f"--variant={variant}", "--onednn_child",
               f"--image_size={FLAGS.image_size}", f"--batch_size={FLAGS.batch_size}",
               f"--profiled_steps={FLAGS.profiled_steps}"]
    output = subprocess.run(command,
                            env=env, capture_output=True, text=True, check=True).stdout
    kinds, shapes = collections.Counter(), collections.Counter()
    measured, steps, wall = False, FLAGS.profiled_steps, 0.0
    for line in output.splitlines():
        if line == "PROFILED STEPS":
            measured = True
        if line.startswith("STEPS TOOK "):
            wall = float(line.split()[-1]) / steps
        fields = line.split(",")
        if not measured or not line.startswith("onednn_verbose") or len(fields) < 12 or fields[3] != "exec":
            continue
        kind, direction, shape, milliseconds = fields[5], fields[7], fields[-2], float(fields[-1])
        if kind == "reorder":
            key = "reorder (layout / dtype conversion)"
            shape = "reorder " + shape
        else:
            key = f"{kind} {direction}"
        kinds[key] += milliseconds / 1000 / steps
        shapes[f"{kind} {shape}"] += milliseconds / 1000 / steps
    return {"kinds": kinds, "shapes": shapes, "wall_s": wall}


def main(argv: list[str]) -> None:
    del argv
    run_step = _step(FLAGS.variant)
    for _ in range(3):
        run_step()
    if FLAGS.onednn_child:
        print("PROFILED STEPS", flush=True)
        start = time.perf_counter()
        for _ in range(FLAGS.profiled_steps):
            run_step()
        print(f"STEPS TOOK {time.perf_counter() - start}", flush=True)
        return
    profile = tensorflow_profile(run_step, FLAGS.profiled_steps)
    wall = profile["wall_s"]
    print(f"{FLAGS.variant}: {wall * 1000:.0f} ms per step ({FLAGS.image_size} px, batch {FLAGS.batch_size}, "
          f"ops one at a time)")
    print("| TensorFlow ops | ms per step | share |\n|---|---|---|")
    for name, seconds in profile["categories"].most_common():
        print(f"| {name} | {seconds * 1000:.1f} | {100 * seconds / wall:.1f} % |")
    print("\n| convolution layers (all passes) | ms per step |\n|---|---|")
    for name, seconds in profile["conv_layers"].most_common(FLAGS.top):
        print(f"| {name} | {seconds * 1000:.1f} |")
    results = {"variant": FLAGS.variant, "wall_ms": round(wall * 1000, 1),
               "tensorflow_ops_ms": {name: round(seconds * 1000, 1) for name, seconds in profile["categories"].items()}}
    if FLAGS.onednn:
        primitives = onednn_profile(FLAGS.variant)
        total = sum(primitives["kinds"].values())
        print(f"\n| oneDNN primitives (per step; the verbose step took {primitives['wall_s'] * 1000:.0f} ms) "
              f"| ms | share of oneDNN |\n|---|---|---|")
        for name, seconds in primitives["kinds"].most_common():
            print(f"| {name} | {seconds * 1000:.1f} | {100 * seconds / total:.1f} % |")
        print("\n| oneDNN by shape (mb_ic_oc_ih_oh...: batch, channels in/out, size in/out) | ms |\n|---|---|")
        for name, seconds in primitives["shapes"].most_common(FLAGS.top):
            print(f"| {name} | {seconds * 1000:.1f} |")
        results["onednn_ms"] = {name: round(seconds * 1000, 1) for name, seconds in primitives["kinds"].items()}
        results["onednn_step_ms"] = round(primitives["wall_s"] * 1000, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    app.run(main)
