"""Where the speed kernels are used: ``--kernels=auto|keras|cpu`` resolved to the layer classes the
train step builds its networks from.

- ``keras``: Keras' own Conv2D, Conv2DTranspose and BatchNormalization.
- ``cpu``: the fused batch norm (``fused_batch_norm``) and the matmul levels (``matmul_conv``).
- ``auto``: ``cpu`` where they were measured to win, TensorFlow on a CPU with oneDNN; ``keras`` on
  GPUs and TPUs (never measured there; cuDNN and XLA have their own kernels) and without oneDNN.

Either way the variables are the same (names, shapes, order): a checkpoint written under one
policy restores under the other, and exports are built from Keras' own layers whatever the
policy. ``import pix2pix_tf`` turns oneDNN on (``TF_ENABLE_ONEDNN_OPTS=1``) unless the variable is
already set; TensorFlow reads it once, when it is imported, so a program that imports TensorFlow
before pix2pix_tf keeps TensorFlow's default (on for most x86 CPUs), and ``auto`` follows it.
"""

from __future__ import annotations

import dataclasses

from pix2pix_tf.config import KERNEL_POLICIES, check_choice
from pix2pix_tf.kernels.fused_batch_norm import FusedBatchNormalization
from pix2pix_tf.kernels.matmul_conv import MatmulConv2D, MatmulConv2DTranspose
from pix2pix_tf.models.layers import KERAS_LAYERS, LayerTypes

CPU_LAYERS = LayerTypes(conv=MatmulConv2D, conv_transpose=MatmulConv2DTranspose,
                        batch_norm=FusedBatchNormalization)


@dataclasses.dataclass(frozen=True)
class KernelChoice:
    """What ``--kernels`` resolved to: ``name`` ("keras" or "cpu"), why, and the layer classes."""

    name: str
    reason: str
    layer_types: LayerTypes


def onednn_enabled() -> bool:
    """Whether this TensorFlow process runs oneDNN's CPU kernels (decided when TensorFlow was imported)."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:  # a TensorFlow without the probe: assume not, and use Keras' layers
        return False
    return bool(_pywrap_util_port.IsMklEnabled())


def resolve(policy: str, strategy=None) -> KernelChoice:
    """The layer classes of ``policy`` ("auto", "keras" or "cpu") on this machine, for ``strategy``
    (default: the current one)."""
    check_choice("kernels", policy, KERNEL_POLICIES)
    if policy != "auto":
        return KernelChoice(policy, "as requested", CPU_LAYERS if policy == "cpu" else KERAS_LAYERS)
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.TPUStrategy) or tf.config.list_logical_devices("TPU"):
        return KernelChoice("keras", "TPU", KERAS_LAYERS)
    if tf.config.list_logical_devices("GPU"):
        return KernelChoice("keras", "GPU", KERAS_LAYERS)
    if not onednn_enabled():
        return KernelChoice("keras", "CPU without oneDNN (TF_ENABLE_ONEDNN_OPTS=0, or TensorFlow imported first)",
                            KERAS_LAYERS)
    return KernelChoice("cpu", "CPU with oneDNN", CPU_LAYERS)
