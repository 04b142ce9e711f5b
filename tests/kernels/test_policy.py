"""--kernels: auto picks the CPU kernels only on a CPU with oneDNN; every policy trains the same
weights, and the library turns oneDNN on itself."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config

from pix2pix_tf.kernels import policy
from pix2pix_tf.models.layers import KERAS_LAYERS
from pix2pix_tf.training.step import Pix2Pix


def test_keras_and_cpu_are_taken_as_requested_and_anything_else_is_refused():
    assert policy.resolve("keras").layer_types == KERAS_LAYERS
    assert policy.resolve("cpu").layer_types == policy.CPU_LAYERS
    with pytest.raises(ValueError, match="kernels='gpu' is not valid; choose one of: auto, keras, cpu"):
        policy.resolve("gpu")


def test_auto_takes_the_cpu_kernels_on_this_cpu_with_onednn():
    assert policy.onednn_enabled()  # on this x86 CPU: TensorFlow's default, and what import pix2pix_tf asks for
    choice = policy.resolve("auto")
    assert (choice.name, choice.reason, choice.layer_types) == ("cpu", "CPU with oneDNN", policy.CPU_LAYERS)


def test_auto_takes_keras_layers_where_a_gpu_is_seen(monkeypatch):
    real = tf.config.list_logical_devices
    monkeypatch.setattr(tf.config, "list_logical_devices",
                        lambda kind=None: ["/device:GPU:0"] if kind == "GPU" else real(kind))
    assert (policy.resolve("auto").name, policy.resolve("auto").reason) == ("keras", "GPU")
    assert policy.resolve("cpu").name == "cpu"  # forced


def test_the_library_turns_onednn_on_and_auto_follows_tensorflow_without_it():
    environment = {name: value for name, value in os.environ.items() if name != "TF_ENABLE_ONEDNN_OPTS"}
    on = subprocess.run([sys.executable, "-c", "import os, pix2pix_tf; print(os.environ['TF_ENABLE_ONEDNN_OPTS'])"],
                        capture_output=True, text=True, env=environment, timeout=120)
    assert on.stdout.strip() == "1", on.stderr[-2000:]
    off = subprocess.run([sys.executable, "-c", "from pix2pix_tf.kernels import policy; print(policy.resolve('auto'))"],
                         capture_output=True, text=True, env={**environment, "TF_ENABLE_ONEDNN_OPTS": "0"}, timeout=300)
    assert "name='keras'" in off.stdout and "CPU without oneDNN" in off.stdout, off.stderr[-2000:]


@pytest.mark.slow
def test_one_step_with_each_policy_gives_the_same_weights():
    """32 filters at 32 px: wide enough for the matmul levels (checked in the graph) and the fused
    batch norm. The losses agree, and the weights after one step agree within float32 rounding,
    moving statistics included. Adam's first step moves a weight by about the learning rate whatever
    the size of its gradient, so where a gradient is ~0 its rounding may flip the step's sign: a
    handful of such weights (of millions) differ by up to twice the learning rate."""
    config = tiny_config(steps=1)
    config = config.replace(model=dict(filters=32, disc_filters=32, dropout=0.0))
    rng = np.random.default_rng(0)
    batch = [tf.constant(rng.uniform(-1, 1, (2, 32, 32, 3)), tf.float32) for _ in range(2)]
    weights, losses = {}, {}
    for kernels in ("keras", "cpu"):
        tf.keras.utils.set_random_seed(0)
        model = Pix2Pix(config.replace(train=dict(kernels=kernels)), steps_per_epoch=10)
        graph = model.compiled_train_step.get_concrete_function(*batch).graph
        ops = {op.type for op in graph.get_operations()}
        ops |= {node.op for function in graph.as_graph_def().library.function for node in function.node_def}
        assert ("ExtractImagePatches" in ops) == ("FusedBatchNormV3" in ops) == (kernels == "cpu")
        losses[kernels] = {name: float(value) for name, value in model.compiled_train_step(*batch).items()}
        weights[kernels] = np.concatenate([weight.ravel() for weight in
                                           model.generator.get_weights() + model.discriminator.get_weights()])
    assert losses["cpu"] == pytest.approx(losses["keras"], rel=1e-5)
    difference = np.abs(weights["cpu"] - weights["keras"])
    assert np.mean(difference > 1e-6) < 1e-5 and difference.max() <= 2 * config.train.learning_rate
