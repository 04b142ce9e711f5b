"""A self-describing SavedModel of a generator in one inference mode, taking any image size.

``export_saved_model`` writes the generator's inference graph (``models.inference``, the one
the run was scored with) once, with the resolved config as an asset and signatures that pad any
image size to the network's multiple and crop back, so a SavedModel loads and runs without flags.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import tempfile
from collections.abc import Callable

import keras
import tensorflow as tf

from pix2pix_tf import images as image_ops
from pix2pix_tf.config import Config
from pix2pix_tf.models.inference import inference_generator

CONFIG_ASSET = "config.json"
# Beside the files of an export folder: what was exported, in which mode, and the parity of each file.
EXPORT_RECORD = "export.json"


def _checked_images(images: tf.Tensor, channels: int) -> tf.Tensor:
    """``images`` as (batch, H, W, ``channels``) with H, W >= 1, or an InvalidArgumentError saying
    what came. ``ensure_shape`` is a data dependency of everything after it, so the check runs
    before any convolution sees the tensor (an assertion only ordered by control edges need not)."""
    size = tf.shape(images)[1:3]  # a slice: safe whatever the rank
    positive = tf.debugging.assert_positive(size, message="images need a height and width of at least 1")
    with tf.control_dependencies([positive]):
        return tf.ensure_shape(tf.identity(images), (None, None, None, channels))


def _saved_module(model: keras.Model, config: Config, mode: str, config_path: str) -> tf.Module:
    """The object a SavedModel holds: the model (its weights once), the config asset, the functions."""
    module = tf.Module(name="pix2pix_tf")
    module.model = model
    module.config_asset = tf.saved_model.Asset(config_path)
    stride = image_ops.network_stride(config)

    channels = config.model.input_channels

    # The signatures take any shape and check it themselves: a signature called with a shape it
    # was not traced for would run the convolutions on it, and oneDNN aborts the process on a
    # tensor of the wrong rank. Checked, a malformed call is an InvalidArgumentError.
    def spec(dtype):
        return tf.TensorSpec(None, dtype, name="images")

    @tf.function(input_signature=[spec(tf.float32)])
    def translate_float(images):
        """float32 (batch, H, W, in) in [-1, 1], any H and W -> float32 (batch, H, W, out) in [-1, 1]."""
        images = _checked_images(images, channels)
        shape = tf.shape(images)
        outputs = module.model(image_ops.pad_to_multiple(images, stride), training=False)
        return outputs[:, : shape[1], : shape[2], :]

    @tf.function(input_signature=[spec(tf.uint8)])
    def serve(images):
        """uint8 (batch, H, W, in), any H and W -> uint8 (batch, H, W, out)."""
        return image_ops.to_uint8(translate_float(image_ops.to_float(images)))

    @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="images")])
    def translate_image(images):
        """Encoded images (PNG, JPEG, BMP, GIF, WebP), a batch of strings -> PNG strings of the same sizes.

        TensorFlow Serving's REST API carries them as {"b64": ...}: the same export serves there unchanged.
        """
        def one(encoded):
            pixels = image_ops.to_channels(image_ops.decode_bytes(encoded), channels)
            output = translate_float(image_ops.to_float(pixels)[tf.newaxis])[0]
            return tf.io.encode_png(image_ops.to_uint8(output))

        return tf.map_fn(one, images, fn_output_signature=tf.string)

    module.translate_float = translate_float
    module.serve = serve
    module.translate_image = translate_image
    # Read from the asset at run time, so the file and the function can never disagree.
    module.config_json = tf.function(lambda: tf.io.read_file(module.config_asset), input_signature=[])
    module.inference_mode = tf.function(lambda: tf.constant(mode), input_signature=[])
    return module


def export_saved_model(
    generator: keras.Model, config: Config, directory: str | os.PathLike, mode: str | None = None
) -> pathlib.Path:
    """Writes ``generator`` in inference ``mode`` as a SavedModel that needs no flags to load.

    ``mode`` defaults to ``config.train.eval_mode``: the mode the run was scored in.

    The weights are stored once (``keras.Model.export`` stores them twice). Signatures:
    ``serving_default`` (uint8 images of any size -> uint8 of the same size),
    ``translate_float`` (float32 in [-1, 1] -> float32 in [-1, 1]), ``translate_image`` (encoded
    images -> PNG bytes, for TensorFlow Serving's REST API), ``config_json`` (the
    resolved config, also the asset ``assets/config.json``) and ``inference_mode``.

    Returns:
      The SavedModel folder.
    """
    directory = pathlib.Path(directory).expanduser()
    mode = mode or config.train.eval_mode
    model = inference_generator(generator, mode)
    with tempfile.TemporaryDirectory() as staging:
        config_path = os.path.join(staging, CONFIG_ASSET)
        config.save(config_path)
        module = _saved_module(model, config, mode, config_path)
        signatures = {
            "serving_default": module.serve,
            "translate_float": module.translate_float,
            "translate_image": module.translate_image,
            "config_json": module.config_json,
            "inference_mode": module.inference_mode,
        }
        tf.saved_model.save(module, str(directory), signatures=signatures)
    return directory


@dataclasses.dataclass(frozen=True)
class LoadedSavedModel:
    """A SavedModel written by ``export_saved_model``, loaded.

    Attributes:
      translate_float: float32 (batch, H, W, input_channels) in [-1, 1], any H and W ->
        float32 (batch, H, W, output_channels) in [-1, 1] (padded and cropped back inside).
      serve: the same for uint8 pixels (the ``serving_default`` signature).
      config: the resolved Config it was exported with.
      mode: the inference mode it computes, "paper" or "eval".
      module: the loaded object; holding it keeps the functions' variables alive.
    """

    translate_float: Callable[[tf.Tensor], tf.Tensor]
    serve: Callable[[tf.Tensor], tf.Tensor]
    config: Config
    mode: str
    module: object


def load_saved_model(directory: str | os.PathLike) -> LoadedSavedModel:
    """Loads a SavedModel written by ``export_saved_model``.

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
    return LoadedSavedModel(loaded.translate_float, loaded.serve, config, loaded.inference_mode().numpy().decode(),
                            loaded)
