"""pix2pix_tf: paired image-to-image translation with conditional GANs (Isola et al., 2017).

The public API, below, is imported on first use, so ``pix2pix-tf --help`` answers without
loading TensorFlow. The package is laid out as the pipeline a pair of images goes through:

    config.py, images.py   options (frozen dataclasses) and the pixel conventions everything shares
    data/                  where pairs are on disk, their checks, the tf.data pipeline
    models/                generators, the PatchGAN, layers, losses, the paper/eval inference modes
    training/              the one train step, the loop, checkpoints, validation, run health
    run_folder.py          a run's files, and its generator read back (for everything after training)
    evaluation/            metrics, scoring over a split, reports and plots
    deploy/                SavedModel and TFLite files, translating images with any model
    cli/                   the ``pix2pix-tf`` commands, thin absl programs over the above
    speed.py, hardware.py  benchmark figures; what the machine offers (--mixed_precision=auto)
"""

from __future__ import annotations

import importlib
import os

# oneDNN's CPU kernels: what the speed kernels (``--kernels=auto``) were measured with, 1.5x faster
# train steps on x86 CPUs here; some TensorFlow builds leave them off on some CPUs unless asked.
# TensorFlow reads this once, when it is imported, which is why it is set here, before any module
# of this package imports TensorFlow; TF_ENABLE_ONEDNN_OPTS=0 in the environment still turns them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_EXPORTS = {
    # Options.
    "Config": "pix2pix_tf.config",
    "DataConfig": "pix2pix_tf.config",
    "ModelConfig": "pix2pix_tf.config",
    "TrainConfig": "pix2pix_tf.config",
    "get_preset": "pix2pix_tf.config",
    # Networks.
    "unet_generator": "pix2pix_tf.models.generators",
    "resnet_generator": "pix2pix_tf.models.generators",
    "patchgan_discriminator": "pix2pix_tf.models.discriminators",
    "receptive_field": "pix2pix_tf.models.discriminators",
    "inference_generator": "pix2pix_tf.models.inference",
    # Training.
    "Pix2Pix": "pix2pix_tf.training.step",
    "train_and_evaluate": "pix2pix_tf.training.train",
    "load_generator": "pix2pix_tf.run_folder",
    # Evaluation and deployment.
    "evaluate_model": "pix2pix_tf.evaluation.evaluate",
    "export_saved_model": "pix2pix_tf.deploy.saved_model",
    "Translator": "pix2pix_tf.deploy.translator",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pix2pix_tf' has no attribute {name!r}")
