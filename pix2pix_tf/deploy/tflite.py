"""TensorFlow Lite export of a generator in four precisions, LiteRT inference and parity checks.

A converted model has a fixed input of one image, [1, S, S, C_in] (what a phone runs), and
maps float32 in [-1, 1] to [1, S, S, C_out] in [-1, 1]; ``TFLiteModel`` loops over a batch.

- ``float32``: the Keras graph as is.
- ``float16``: weights stored as float16 (half the size), computed in float32 on CPU.
- ``dynamic_int8``: weights int8, activations quantized on the fly; no calibration data.
- ``int8``: weights and activations int8, calibrated on ``representative_images``; with
  ``uint8_io=True`` the input and output tensors are uint8 too, so a phone app feeds camera
  bytes almost directly. With uint8 I/O, read ``scale`` and ``zero_point`` from the
  interpreter's input and output details (``TFLiteModel.input_details["quantization"]``) and:

      input  uint8 = clip(round(((pixel / 127.5) - 1) / in_scale + in_zero_point), 0, 255)
      output pixel = clip((out_scale * (uint8 - out_zero_point) + 1) * 127.5, 0, 255)

  (pixel in 0..255; the model's float range is [-1, 1], so in_scale is about 2/255.)
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from pix2pix_tf.config import TFLITE_PRECISIONS, check_choice

# Minimum PSNR (dB, images on [0, 1]) of each precision's output against the float graph's.
THRESHOLDS = {  # keys: TFLITE_PRECISIONS
    "float32": 60.0, "float16": 45.0, "dynamic_int8": 30.0, "int8": 30.0}

# PSNR reported for identical outputs, where the true value is infinite.
MAX_PSNR = 100.0


def _serving_function(model: keras.Model, image_size: int) -> tf.types.experimental.ConcreteFunction:
    """The model (an inference graph, ``models.inference``) on one [1, S, S, C_in] image."""
    channels = model.input_shape[-1]
    signature = tf.TensorSpec([1, image_size, image_size, channels], tf.float32, name="input_image")

    @tf.function(input_signature=[signature])
    def serve(images):
        return model(images, training=False)

    return serve.get_concrete_function()


def _representative_dataset(images: np.ndarray) -> Iterator[list[np.ndarray]]:
    """Calibration samples for int8: one [1, S, S, C] float32 image at a time."""
    for image in images:
        yield [image[np.newaxis].astype(np.float32)]


def _check_images(images: np.ndarray, image_size: int, channels: int, what: str) -> np.ndarray:
    """``images`` as float32 [N, S, S, C]; ValueError naming ``what`` on any other shape."""
    images = np.asarray(images, dtype=np.float32)
    expected = (image_size, image_size, channels)
    if images.ndim != 4 or images.shape[1:] != expected or len(images) == 0:
        raise ValueError(
            f"{what} must have shape [N>0, {image_size}, {image_size}, {channels}], got {images.shape}"
        )
    return images


def convert(
    model: keras.Model,
    image_size: int,
    precision: str,
    representative_images: np.ndarray | None = None,
    uint8_io: bool = False,
) -> bytes:
    """A .tflite flatbuffer of ``model`` on one image of ``image_size`` px, in ``precision``.

    Args:
      model: Keras model (batch, H, W, C_in) float32 in [-1, 1] -> (batch, H, W, C_out) in [-1, 1],
        called with ``training=False``.
      image_size: side S of the fixed [1, S, S, C_in] input.
      precision: one of ``TFLITE_PRECISIONS``.
      representative_images: float32 [N, S, S, C_in] in [-1, 1] from the training distribution;
        required for ``int8`` (a hundred or so calibrate well), ignored otherwise.
      uint8_io: ``int8`` only: uint8 input and output tensors instead of float32.
    """
    check_choice("precision", precision, TFLITE_PRECISIONS)
    if uint8_io and precision != "int8":
        raise ValueError(f"uint8_io needs precision='int8', got precision={precision!r}")
    serve = _serving_function(model, image_size)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([serve], model)
    # The default route through a SavedModel keeps Keras 3 variables as resource variables:
    # the weights would then be missing from the flatbuffer (READ_VARIABLE ops, nothing to
    # quantize). Freezing the function instead embeds them as constants and folds batch norm.
    converter.experimental_lower_to_saved_model = False
    if precision == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif precision == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif precision == "int8":
        if representative_images is None:
            raise ValueError("precision='int8' needs representative_images, float32 [N, S, S, C] in [-1, 1]")
        images = _check_images(
            representative_images, image_size, model.input_shape[-1], "representative_images"
        )
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: _representative_dataset(images)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if uint8_io:
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.uint8
    with quiet_stderr(), warnings.catch_warnings():
        # Said for every int8 model whose float input has no fixed range: ours is calibrated instead.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        flatbuffer = converter.convert()
    del converter, serve
    release_memory()
    return flatbuffer


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """Holds back what C++ code writes to file descriptor 2 meanwhile (the converter's
    ``fully_quantize: 0, inference_type: 6, ...``, LiteRT's ``Created TensorFlow Lite XNNPACK
    delegate``), and writes it out after all when the block raises: then it may tell why."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            sys.stderr.flush()
            held.seek(0)
            os.write(saved, held.read())
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def release_memory() -> None:
    """Frees what a conversion left behind and hands it back to the system. The converter holds the
    weights some fifteen times over while it runs (frozen GraphDef, grappler's copy, their serialized
    forms, the MLIR module with folded constants, the flatbuffer, the Python bytes); part of that
    stays in reference cycles until Python's collector happens to run, and glibc keeps freed pages in
    its per-thread arenas. Without this, an export of the 256 px U-Net in every format started each
    conversion about 1 GB higher than the last and peaked at 6.5 GB instead of 4.6 GB
    (``benchmarks/export_memory.py``)."""
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # not glibc (musl): nothing to trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def _quantize(values: np.ndarray, details: dict) -> np.ndarray:
    """float32 -> the tensor's integer type with its scale and zero point (identity if float)."""
    dtype = details["dtype"]
    if not np.issubdtype(dtype, np.integer):
        return values.astype(dtype)
    scale, zero_point = details["quantization"]
    limits = np.iinfo(dtype)
    return np.clip(np.round(values / scale + zero_point), limits.min, limits.max).astype(dtype)


def _dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    """The tensor's integers -> float32 (identity if float)."""
    if not np.issubdtype(details["dtype"], np.integer):
        return values.astype(np.float32)
    scale, zero_point = details["quantization"]
    return (scale * (values.astype(np.float32) - zero_point)).astype(np.float32)


class TFLiteModel:
    """A .tflite generator run with LiteRT, with float32 images in and out whatever its I/O type.

    Attributes:
      input_details, output_details: LiteRT's tensor details (name, shape, dtype, and
        ``quantization`` = (scale, zero_point) for integer tensors).
    """

    def __init__(self, model: bytes | str | os.PathLike, num_threads: int = 2):
        """``model``: the flatbuffer's bytes or the path of a .tflite file."""
        if not isinstance(model, bytes):
            with open(model, "rb") as file:
                model = file.read()
        with quiet_stderr():  # LiteRT announces its XNNPACK delegate
            self.interpreter = Interpreter(model_content=model, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        self._lock = threading.Lock()  # an interpreter runs one call at a time (a server calls from many threads)
        self.input_details = self.interpreter.get_input_details()[0]
        self.output_details = self.interpreter.get_output_details()[0]

    def run(self, images: np.ndarray) -> np.ndarray:
        """float32 [N, S, S, C_in] in [-1, 1] -> float32 [N, S, S, C_out] in [-1, 1], one image at a time."""
        _, size, _, channels = self.input_details["shape"]
        images = _check_images(images, size, channels, "images")
        outputs = []
        for image in images:
            quantized = _quantize(image[np.newaxis], self.input_details)
            with self._lock:
                self.interpreter.set_tensor(self.input_details["index"], quantized)
                self.interpreter.invoke()
                output = self.interpreter.get_tensor(self.output_details["index"])
            outputs.append(_dequantize(output, self.output_details)[0])
        return np.stack(outputs)


def parity(reference: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """How close ``output`` is to ``reference`` (both [N, H, W, C] in [-1, 1]).

    Returns:
      ``psnr``: dB on the [0, 1] scale ((x + 1) / 2, peak 1), capped at ``MAX_PSNR``;
      ``max_abs_diff``: largest absolute difference on the [-1, 1] scale.
    """
    reference = np.asarray(reference, dtype=np.float64)
    output = np.asarray(output, dtype=np.float64)
    if reference.shape != output.shape:
        raise ValueError(f"reference shape {reference.shape} and output shape {output.shape} differ")
    mean_squared_error = np.mean(((reference - output) / 2) ** 2)
    psnr = MAX_PSNR if mean_squared_error == 0 else min(MAX_PSNR, -10 * np.log10(mean_squared_error))
    return {"psnr": float(psnr), "max_abs_diff": float(np.max(np.abs(reference - output)))}


def compare(
    reference: np.ndarray, tflite_models: dict[str, bytes | os.PathLike], images: np.ndarray
) -> dict[str, dict]:
    """Parity of each .tflite's outputs on ``images`` against ``reference`` (the float outputs).

    Args:
      reference: float32 [N, S, S, C_out] in [-1, 1], the float graph's outputs on ``images``.
      tflite_models: precision name (a key of ``THRESHOLDS``) -> flatbuffer bytes or .tflite path,
        loaded one at a time.
      images: float32 [N, S, S, C_in] in [-1, 1].

    Returns:
      precision -> {"psnr", "max_abs_diff", "threshold", "passed"}.
    """
    for precision in tflite_models:
        check_choice("precision", precision, TFLITE_PRECISIONS)
    results = {}
    for precision, flatbuffer in tflite_models.items():
        result = parity(reference, TFLiteModel(flatbuffer).run(images))
        result["threshold"] = THRESHOLDS[precision]
        result["passed"] = result["psnr"] >= THRESHOLDS[precision]
        results[precision] = result
    return results


def verify(
    model: keras.Model, tflite_models: dict[str, bytes | os.PathLike], images: np.ndarray
) -> dict[str, dict]:
    """Parity of each .tflite against ``model`` (the inference graph it was converted from) on ``images``.

    Args:
      tflite_models: precision name (a key of ``THRESHOLDS``) -> flatbuffer bytes or .tflite path.
      images: float32 [N, S, S, C_in] in [-1, 1], real inputs (not noise: quantization is
        calibrated for the training distribution).

    Returns:
      precision -> {"psnr", "max_abs_diff", "threshold", "passed"}.
    """
    images = np.asarray(images, dtype=np.float32)
    return compare(model(images, training=False), tflite_models, images)
