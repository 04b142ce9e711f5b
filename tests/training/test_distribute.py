"""Speed paths that must not change the math: mixed precision, several steps per call, tf.distribute."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, tiny_config

from pix2pix_tf.training.step import Pix2Pix


def _no_dropout(config, **train):
    return config.replace(model=dict(dropout=0.0),
                          train=dict(**train))


def _batch(seed: int, size: int = 32, batch: int = 2):
    return (tf.random.stateless_uniform((batch, size, size, 3), (seed, 0), -1, 1),
            tf.random.stateless_uniform((batch, size, size, 3), (seed, 1), -1, 1))


@pytest.mark.parametrize("precision, compute", [("float16", "float16"), ("bfloat16", "bfloat16")])
def test_mixed_precision_computes_in_half_keeps_float32_variables_and_trains(precision, compute):
    model = Pix2Pix(tiny_config(mixed_precision=precision), steps_per_epoch=10)
    assert model.generator.layers[1].compute_dtype == compute
    assert all(variable.dtype == "float32" for variable in model.generator.trainable_variables)
    scaled = isinstance(model.generator_optimizer, tf.keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "float16")  # float16 needs loss scaling; bfloat16 has float32's range
    before = [variable.numpy() for variable in model.generator.trainable_variables]
    for seed in range(3):
        metrics = model.compiled_train_step(*_batch(seed))
    assert all(np.isfinite(float(value)) for value in metrics.values())
    assert metrics["g_loss"].dtype == tf.float32
    changed = [not np.array_equal(a, b.numpy()) for a, b in zip(before, model.generator.trainable_variables)]
    assert all(changed)
    from pix2pix_tf.models import inference

    assert inference.make_generate_fn(model.generator, "eval")(_batch(0)[0]).dtype == tf.float32


@pytest.mark.slow
def test_several_steps_per_call_equal_as_many_single_steps():
    config = _no_dropout(tiny_config())
    batches = [_batch(seed) for seed in range(3)]
    single, looped = Pix2Pix(config, 10), Pix2Pix(config, 10)
    looped.generator.set_weights(single.generator.get_weights())
    looped.discriminator.set_weights(single.discriminator.get_weights())
    for inputs, targets in batches:
        single.compiled_train_step(inputs, targets)
    iterator = iter(tf.data.Dataset.from_tensor_slices(
        (tf.stack([b[0] for b in batches]), tf.stack([b[1] for b in batches]))))
    looped.compiled_train_steps(iterator, tf.constant(3))
    assert int(looped.step) == 3
    for a, b in zip(single.generator.weights + single.discriminator.weights,
                    looped.generator.weights + looped.discriminator.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-5)


def _python(code: str, env: dict | None = None, timeout: int = 300) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                            cwd=REPO / "tests")  # where `from conftest import ...` finds the harness


@pytest.mark.slow
@pytest.mark.parametrize("discriminator", ["paper", "two_scales_feature_matching"])
def test_mirrored_step_on_two_devices_equals_the_single_device_step_on_the_global_batch(discriminator):
    """Sync batch norm over 2 replicas of 1 image = batch norm over the batch of 2 on one device;
    also with pix2pixHD's two discriminator scales and feature matching."""
    extra = {"paper": "", "two_scales_feature_matching": """
        config = config.replace(model=dict(disc_scales=2, disc_layers=1),
                                train=dict(feature_matching_weight=10.0))
    """}[discriminator]
    process = _python("""
        import dataclasses, json
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from conftest import tiny_config
        from pix2pix_tf.training.step import Pix2Pix
        config = tiny_config()
        config = config.replace(model=dict(dropout=0.0, norm="sync_batch"))
        EXTRA
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        single = Pix2Pix(config, 10)
        mirrored = Pix2Pix(config, 10, strategy)
        mirrored.generator.set_weights(single.generator.get_weights())
        mirrored.discriminator.set_weights(single.discriminator.get_weights())
        inputs = tf.random.stateless_uniform((2, 32, 32, 3), (1, 0), -1, 1)
        targets = tf.random.stateless_uniform((2, 32, 32, 3), (1, 1), -1, 1)
        expected = single.compiled_train_step(inputs, targets)
        batches = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors((inputs, targets)))
        actual = mirrored.compiled_train_step(*next(iter(batches)))
        gaps = np.concatenate([np.abs(a.numpy() - b.numpy()).ravel() for a, b in zip(
            single.generator.weights + single.discriminator.weights,
            mirrored.generator.weights + mirrored.discriminator.weights)])
        print(json.dumps({"replicas": strategy.num_replicas_in_sync, "difference": float(gaps.max()),
                          "off": float(np.mean(gaps > 1e-5)), "lr": config.train.learning_rate,
                          "scales": config.model.disc_scales, "metrics": sorted(actual),
                          "g_loss": [float(expected["g_loss"]), float(actual["g_loss"])]}))
    """.replace("        EXTRA\n", textwrap.indent(textwrap.dedent(extra).strip() + "\n", " " * 8)))
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr[-3000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    assert result["scales"] == (2 if discriminator != "paper" else 1)
    assert ("g_fm" in result["metrics"]) == (discriminator != "paper")
    assert result["g_loss"][0] == pytest.approx(result["g_loss"][1], rel=1e-4)
    # Adam moves every weight by about lr whatever its gradient's size, so a gradient that is zero
    # up to rounding can take either sign on another CPU's kernels: those few weights may differ by
    # up to 2 lr; all the others must agree.
    assert result["difference"] <= 2.02 * result["lr"]
    assert result["off"] < 1e-3, f"{result['off']:.2%} of the weights differ by more than 1e-5"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_workers_train_together_and_agree_on_weights(paired_folder, tmp_path):
    """MultiWorkerMirroredStrategy: two processes on 127.0.0.1, one run folder written by the chief.

    Trainable weights agree to float rounding; batch-norm moving statistics are each worker's own
    (its own images) unless --norm=sync_batch.
    """
    workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
    processes = []
    for index in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(_python(_worker_script(paired_folder, tmp_path, index),
                                 env={"TF_CONFIG": json.dumps(tf_config)}))
    outputs = [process.communicate(timeout=400) for process in processes]
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
    weights = [np.load(tmp_path / f"worker{index}.npz") for index in range(2)]
    assert int(weights[0]["step"]) == int(weights[1]["step"]) == 3
    for name in weights[0].files:
        np.testing.assert_allclose(weights[0][name], weights[1][name], atol=1e-6)
    assert (tmp_path / "run" / "metrics.json").exists()  # the chief evaluated and wrote
    assert not list((tmp_path / "run").glob("worker_scratch_*"))  # the other worker's saves were cleaned up


def _worker_script(data, tmp_path, index: int) -> str:
    return f"""
        import numpy as np
        import tensorflow as tf
        from conftest import tiny_config
        from pix2pix_tf.training.step import Pix2Pix
        from pix2pix_tf.training.train import train_and_evaluate
        captured = {{}}
        original = Pix2Pix.__init__
        def keep(self, *args, **kwargs):
            original(self, *args, **kwargs)
            captured["model"] = self
        Pix2Pix.__init__ = keep
        config = tiny_config({str(data)!r}, steps=3, strategy="multiworker", val_every=0)
        train_and_evaluate(config, {str(tmp_path / "run")!r})
        model = captured["model"]
        trainable = model.generator.trainable_weights + model.discriminator.trainable_weights
        arrays = {{f"w{{i}}": w.numpy() for i, w in enumerate(trainable)}}
        np.savez({str(tmp_path / f"worker{index}.npz")!r}, step=int(model.step.numpy()), **arrays)
    """
