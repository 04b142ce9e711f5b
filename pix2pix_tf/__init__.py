"""pix2pix_tf: paired image-to-image translation with conditional GANs (Isola et al., 2017).

The public API (``__all__``, below) is imported on first use, so ``pix2pix-tf --help`` answers
without loading TensorFlow. The package is laid out as the pipeline a pair of images goes through:

    config.py, images.py   options (frozen dataclasses) and the pixel conventions everything shares
    files.py, palettes.py  atomic writes and JSON reads; the label maps' colours
    data/                  where pairs are on disk, their checks, the tf.data pipeline
    models/                generators, the PatchGAN, layers, losses, the paper/eval inference modes
    kernels/               speed kernels for training on a CPU, applied by policy (--kernels)
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

# The public API: name -> (module, attribute). Everything the examples use is here.
_EXPORTS = {
    # Options: frozen dataclasses, presets, the recipe for your data.
    "Config": ("pix2pix_tf.config", "Config"),
    "ModelConfig": ("pix2pix_tf.config", "ModelConfig"),
    "DataConfig": ("pix2pix_tf.config", "DataConfig"),
    "TrainConfig": ("pix2pix_tf.config", "TrainConfig"),
    "DistillConfig": ("pix2pix_tf.config", "DistillConfig"),
    "get_preset": ("pix2pix_tf.config", "get_preset"),
    # Data.
    "make_dataset": ("pix2pix_tf.data.pipeline", "make_dataset"),
    "val_split": ("pix2pix_tf.data.pipeline", "val_split"),
    "make_synthetic_dataset": ("pix2pix_tf.data.synthetic", "make_synthetic_dataset"),
    # Networks and inference modes.
    "build_generator": ("pix2pix_tf.models.generators", "build_generator"),
    "build_discriminator": ("pix2pix_tf.models.discriminators", "build_discriminator"),
    "unet_generator": ("pix2pix_tf.models.generators", "unet_generator"),
    "unet_mobile_generator": ("pix2pix_tf.models.generators", "unet_mobile_generator"),
    "resnet_generator": ("pix2pix_tf.models.generators", "resnet_generator"),
    "patchgan_discriminator": ("pix2pix_tf.models.discriminators", "patchgan_discriminator"),
    "receptive_field": ("pix2pix_tf.models.discriminators", "receptive_field"),
    "inference_generator": ("pix2pix_tf.models.inference", "inference_generator"),
    # Training, distillation, a run folder read back.
    "Pix2Pix": ("pix2pix_tf.training.step", "Pix2Pix"),
    "train_and_evaluate": ("pix2pix_tf.training.train", "train_and_evaluate"),
    "TrainResult": ("pix2pix_tf.training.train", "TrainResult"),
    "with_resolved_precision": ("pix2pix_tf.training.train", "with_resolved_precision"),
    "student_config": ("pix2pix_tf.training.distill", "student_config"),
    "load_generator": ("pix2pix_tf.run_folder", "load_generator"),
    # Evaluation.
    "evaluate_model": ("pix2pix_tf.evaluation.evaluate", "evaluate_model"),
    "save_sample_grid": ("pix2pix_tf.evaluation.plots", "save_sample_grid"),
    "load_segmenter": ("pix2pix_tf.evaluation.realism", "load_segmenter"),
    # Deployment: SavedModel, TFLite, translating files.
    "export_run": ("pix2pix_tf.deploy.export", "export_run"),
    "dataset_images": ("pix2pix_tf.deploy.export", "dataset_images"),
    "export_saved_model": ("pix2pix_tf.deploy.saved_model", "export_saved_model"),
    "load_saved_model": ("pix2pix_tf.deploy.saved_model", "load_saved_model"),
    "convert_to_tflite": ("pix2pix_tf.deploy.tflite", "convert"),
    "verify_tflite": ("pix2pix_tf.deploy.tflite", "verify"),
    "Translator": ("pix2pix_tf.deploy.translator", "Translator"),
    "find_inputs": ("pix2pix_tf.deploy.inputs", "find_inputs"),
    "load_pretrained": ("pix2pix_tf.deploy.pretrained", "load_pretrained"),
    "pretrained_models": ("pix2pix_tf.deploy.pretrained", "names"),
}

__all__ = list(_EXPORTS)  # the names above, in their order


def __getattr__(name: str):
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'pix2pix_tf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
