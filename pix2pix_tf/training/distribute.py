"""tf.distribute for the one train step: which strategy, and which worker writes files.

The train step divides each replica's loss by the replica count, so the gradients summed over
replicas are those of the mean loss over the global batch; every strategy runs that same step.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from pix2pix_tf.config import STRATEGIES, check_choice


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy for ``TrainConfig.strategy``.

    - ``default``: the one current device.
    - ``mirrored``: every local GPU (or the CPU when there is none), all-reduce per step.
    - ``multiworker``: the hosts listed in the ``TF_CONFIG`` environment variable, each running
      the same command (see docs/training.md); raises ValueError when TF_CONFIG is missing.
    - ``tpu``: the TPU this host is attached to.
    """
    check_choice("strategy", name, STRATEGIES)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--strategy=multiworker needs the TF_CONFIG environment variable: "
                             '{"cluster": {"worker": ["host1:port", ...]}, "task": {"type": "worker", "index": N}}')
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver()  # tpu
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task() -> tuple[str | None, int]:
    """This process's (task type, index) in TF_CONFIG, or (None, 0) outside a cluster."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task_info = config.get("task", {})
    return task_info.get("type"), int(task_info.get("index", 0))


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, except the non-chief workers of a cluster."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, index = task()
    return task_type in (None, "chief") or (task_type == "worker" and index == 0)
