"""Deterministic inference graphs and a self-describing SavedModel that takes any image size.

``inference_generator`` rebuilds a trained generator with the same weights as a graph whose
output for an image is deterministic and independent of the rest of its batch, in one of the
two inference modes (see ``pix2pix_tf.inference``). ``export_saved_model`` writes that graph
once, with the resolved config as an asset, and signatures that pad any image size to the
network's multiple and crop back, so a SavedModel loads and runs without flags.
"""

from __future__ import annotations

import itertools
import os
import pathlib
import tempfile
from typing import Callable

import keras
import tensorflow as tf
from keras import layers

from pix2pix_tf import input_pipeline
from pix2pix_tf.config import Config
from pix2pix_tf.inference import INFERENCE_MODES
from pix2pix_tf.layers import FixedDropout, PerImageBatchNormalization, check_choice

CONFIG_ASSET = "config.json"


def _inference_layer(layer: layers.Layer, mode: str, seeds) -> layers.Layer:
    """The layer that replaces ``layer`` (unbuilt, same name) in an inference graph of ``mode``."""
    if isinstance(layer, layers.BatchNormalization):
        if mode == "paper":
            return PerImageBatchNormalization(
                layer.epsilon, layer.center, layer.scale, name=layer.name, dtype=layer.dtype_policy
            )
        # A frozen BatchNormalization uses its moving statistics even when called with training=True.
        return layers.BatchNormalization.from_config({**layer.get_config(), "trainable": False})
    if isinstance(layer, layers.Dropout):
        if mode == "paper":
            return FixedDropout(layer.rate, next(seeds), name=layer.name, dtype=layer.dtype_policy)
        return layers.Identity(name=layer.name, dtype=layer.dtype_policy)
    return layer.__class__.from_config(layer.get_config())


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copies every layer's weights into the layer of the same name; per-image batch norm takes
    only gamma and beta (it has no moving statistics)."""
    for layer in source.layers:
        copy = target.get_layer(layer.name)
        if isinstance(copy, PerImageBatchNormalization):
            copy.set_weights([weight.numpy() for weight in (layer.gamma, layer.beta) if weight is not None])
        else:
            copy.set_weights(layer.get_weights())


def inference_generator(generator: keras.Model, mode: str = "eval", seed: int = 0) -> keras.Model:
    """A copy of ``generator`` (same weights) that computes inference ``mode`` deterministically.

    - ``eval``: batch norm with its moving statistics, no dropout: what
      ``generator(images, training=False)`` computes.
    - ``paper``: batch norm with the statistics of each image alone; dropout on with one fixed
      mask per layer (drawn statelessly from ``seed`` + the layer's index), broadcast over the batch.

    Either way an image's output does not depend on the rest of its batch, nor on ``training``.

    Args:
      generator: a functional generator (``unet_generator``, ``resnet_generator``), any norm.
      mode: "eval" | "paper".
      seed: seed of the fixed dropout masks in ``paper`` mode.

    Returns:
      A non-trainable functional model (batch, H, W, input_channels) in [-1, 1] ->
      (batch, H, W, output_channels) in [-1, 1], H and W as the generator accepts.
    """
    check_choice("mode", mode, INFERENCE_MODES)
    seeds = itertools.count(seed)
    inference = keras.models.clone_model(
        generator, clone_function=lambda layer: _inference_layer(layer, mode, seeds)
    )
    _copy_weights(generator, inference)
    inference.trainable = False
    return inference


def _saved_module(model: keras.Model, config: Config, mode: str, config_path: str) -> tf.Module:
    """The object a SavedModel holds: the model (its weights once), the config asset, the functions."""
    module = tf.Module(name="pix2pix_tf")
    module.model = model
    module.config_asset = tf.saved_model.Asset(config_path)
    stride = input_pipeline.network_stride(config)

    def spec(dtype, channels):
        return tf.TensorSpec((None, None, None, channels), dtype, name="images")

    @tf.function(input_signature=[spec(tf.float32, config.model.input_channels)])
    def translate_float(images):
        """float32 (batch, H, W, in) in [-1, 1], any H and W -> float32 (batch, H, W, out) in [-1, 1]."""
        shape = tf.shape(images)
        outputs = module.model(input_pipeline.pad_to_multiple(images, stride), training=False)
        return outputs[:, : shape[1], : shape[2], :]

    @tf.function(input_signature=[spec(tf.uint8, config.model.input_channels)])
    def serve(images):
        """uint8 (batch, H, W, in), any H and W -> uint8 (batch, H, W, out)."""
        outputs = translate_float(tf.cast(images, tf.float32) / 127.5 - 1.0)
        return tf.cast(tf.round(tf.clip_by_value((outputs + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)

    module.translate_float = translate_float
    module.serve = serve
    # Read from the asset at run time, so the file and the function can never disagree.
    module.config_json = tf.function(lambda: tf.io.read_file(module.config_asset), input_signature=[])
    module.inference_mode = tf.function(lambda: tf.constant(mode), input_signature=[])
    return module


def export_saved_model(
    generator: keras.Model, config: Config, directory: str | os.PathLike, mode: str = "eval"
) -> pathlib.Path:
    """Writes ``generator`` in inference ``mode`` as a SavedModel that needs no flags to load.

    The weights are stored once (``keras.Model.export`` stores them twice). Signatures:
    ``serving_default`` (uint8 images of any size -> uint8 of the same size),
    ``translate_float`` (float32 in [-1, 1] -> float32 in [-1, 1]), ``config_json`` (the
    resolved config, also the asset ``assets/config.json``) and ``inference_mode``.

    Returns:
      The SavedModel folder.
    """
    directory = pathlib.Path(directory).expanduser()
    model = inference_generator(generator, mode)
    with tempfile.TemporaryDirectory() as staging:
        config_path = os.path.join(staging, CONFIG_ASSET)
        config.save(config_path)
        module = _saved_module(model, config, mode, config_path)
        signatures = {
            "serving_default": module.serve,
            "translate_float": module.translate_float,
            "config_json": module.config_json,
            "inference_mode": module.inference_mode,
        }
        tf.saved_model.save(module, str(directory), signatures=signatures)
    return directory


def load_saved_model(directory: str | os.PathLike) -> tuple[Callable[[tf.Tensor], tf.Tensor], Config, str]:
    """Loads a SavedModel written by ``export_saved_model``.

    Returns:
      (translate, config, mode): ``translate`` maps uint8 (batch, H, W, input_channels) of any
      size to uint8 (batch, H, W, output_channels); the resolved Config; "eval" or "paper".

    Raises:
      ValueError naming ``directory`` when it is missing, not a SavedModel, or not ours.
    """
    directory = pathlib.Path(directory).expanduser()
    if not directory.is_dir():
        raise ValueError(f"{directory} does not exist or is not a folder")
    if not tf.saved_model.contains_saved_model(str(directory)):
        raise ValueError(f"{directory} is not a SavedModel: no saved_model.pb")
    config_path = directory / "assets" / CONFIG_ASSET
    if not config_path.exists():
        raise ValueError(f"{directory} is not a pix2pix_tf SavedModel: no assets/{CONFIG_ASSET}")
    config = Config.load(config_path)
    loaded = tf.saved_model.load(str(directory))

    def translate(images: tf.Tensor) -> tf.Tensor:
        return loaded.serve(images)  # the closure keeps the loaded object, and its variables, alive

    return translate, config, loaded.inference_mode().numpy().decode()
