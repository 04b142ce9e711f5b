"""pix2pix_tf: paired image-to-image translation with conditional GANs (Isola et al., 2017).

The public API is imported on first use, so ``pix2pix-tf --help`` answers without loading TensorFlow.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "pix2pix_tf.config",
    "DataConfig": "pix2pix_tf.config",
    "ModelConfig": "pix2pix_tf.config",
    "TrainConfig": "pix2pix_tf.config",
    "get_preset": "pix2pix_tf.config",
    "unet_generator": "pix2pix_tf.models",
    "resnet_generator": "pix2pix_tf.models",
    "patchgan_discriminator": "pix2pix_tf.models",
    "receptive_field": "pix2pix_tf.models",
    "Pix2Pix": "pix2pix_tf.train_lib",
    "train_and_evaluate": "pix2pix_tf.train_lib",
    "load_generator": "pix2pix_tf.train_lib",
    "evaluate_model": "pix2pix_tf.evaluator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pix2pix_tf' has no attribute {name!r}")
