"""The model behind serve: admission limits, checked request images, PNG outputs.

``ModelService`` is one served model as the HTTP side (``serve.py``) calls it: it admits a request
or refuses it at once with 503, decodes its images with the same checks as training, translates
them and answers PNG bytes. The models of one server share one ``Admission``: its limits are the
machine's, whichever model a request asks for. Every refusal is a ``RequestError``: an HTTP status
and a one-line message, which ``serve.py`` sends as ``{"error": "..."}``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import pathlib
import threading
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from pix2pix_tf import files, palettes
from pix2pix_tf import images as image_ops
from pix2pix_tf.data import checks
from pix2pix_tf.deploy import pretrained
from pix2pix_tf.deploy.translator import Translator

# Limits: a request over one of them is refused before any work is done (serve.py has the HTTP ones).
MAX_PIXELS = 16 * 2**20  # an image's height x width (x an animated GIF's frames), read before decoding (413)
MAX_INSTANCES = 8  # images in one :predict request (413)
MAX_RUNNING = 2  # requests running a model at once, across the models sharing an Admission
MAX_WAITING = 8  # requests queued behind them; beyond this a request gets 503 at once
MIN_TILE_SIZE = 512  # larger images go through run folders and SavedModels in tiles: memory stays bounded


class RequestError(Exception):
    """What a client did wrong: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Admission:
    """The queue requests share: at most ``MAX_RUNNING`` run a model at once and ``MAX_WAITING``
    more wait their turn; beyond that a request is refused at once (503). The limits are read when
    it is made."""

    def __init__(self):
        self.max_running, self.max_waiting = MAX_RUNNING, MAX_WAITING
        self._running = threading.BoundedSemaphore(self.max_running)
        self._admitted = threading.BoundedSemaphore(self.max_running + self.max_waiting)

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """A place in the queue for one request (all its images), or RequestError 503 at once when it is full."""
        if not self._admitted.acquire(blocking=False):
            raise RequestError(503, f"busy: {self.max_running} requests running and {self.max_waiting} waiting; "
                                    "retry later")
        try:
            yield
        finally:
            self._admitted.release()

    @contextlib.contextmanager
    def run(self) -> Iterator[None]:
        """One of the ``MAX_RUNNING`` turns on a model, waited for (the request holds its place)."""
        with self._running:
            yield


class ModelService:
    """The model behind the HTTP API: bounded concurrency, checked inputs, PNG outputs.

    Args:
      translator: any model ``Translator.load`` reads.
      name: the ``NAME`` of ``/v1/models/NAME``.
      admission: the queue it shares with the other models of its server; None: a queue of its own.
    """

    def __init__(self, translator: Translator, name: str = "pix2pix", admission: Admission | None = None):
        """A ``translator`` without tiles is given tiles of max(its image size, ``MIN_TILE_SIZE``):
        a 16-megapixel image through a whole U-Net would take several GiB."""
        if translator.tile_size is None:
            translator.tile_size = max(translator.config.data.image_size, MIN_TILE_SIZE)
        self.translator, self.name = translator, name
        self.admission = admission or Admission()

    def status(self) -> dict:
        """TF Serving's model status, with what a client needs to send images."""
        config = self.translator.config
        return {
            "model_version_status": [{"version": "1", "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}],
            "name": self.name, "mode": self.translator.mode, "input_size": config.data.image_size,
            "input_channels": self.translator.input_channels, "output_channels": self.translator.output_channels,
            "source": public_source(self.translator.source), "palette": palettes.hex_colours(config.data.palette),
        }

    def _translate(self, encoded: bytes) -> bytes:
        pixels = decode_request_image(encoded)
        with self.admission.run():
            output = self.translator.translate(pixels)
        return tf.io.encode_png(output).numpy()

    def translate_image(self, encoded: bytes) -> bytes:
        """PNG or JPEG (or any format training reads) bytes -> PNG bytes of the same size.

        A request takes its place in the queue before its image is decoded, so decoding is
        bounded by the queue too."""
        with self.admission.request():
            return self._translate(encoded)

    def predict(self, request: object) -> dict:
        """TF Serving's REST ``:predict``: ``{"instances": [{"b64": ...}], "signature_name"?: ...}``."""
        if not isinstance(request, dict) or not isinstance(request.get("instances"), list):
            raise RequestError(400, 'expected a JSON object {"instances": [{"b64": "<PNG or JPEG>"}, ...]}')
        signature = request.get("signature_name", "serving_default")
        if signature not in ("serving_default", "translate_image"):
            raise RequestError(400, f"signature_name={signature!r}: this model serves serving_default "
                                    "(images in, images out)")
        instances = request["instances"]
        if not instances or len(instances) > MAX_INSTANCES:
            raise RequestError(413 if instances else 400,
                               f"send 1 to {MAX_INSTANCES} instances per request, not {len(instances)}")
        images = []
        for index, instance in enumerate(instances):
            encoded = instance.get("b64") if isinstance(instance, dict) else None
            if not isinstance(encoded, str):
                raise RequestError(400, f'instances[{index}] must be {{"b64": "<base64 PNG or JPEG>"}}')
            try:
                images.append(base64.b64decode(encoded, validate=True))
            except (binascii.Error, ValueError):
                raise RequestError(400, f"instances[{index}].b64 is not valid base64") from None
        with self.admission.request():  # one place for the whole request: admitted, it is answered whole
            return {"predictions": [{"b64": base64.b64encode(self._translate(data)).decode("ascii")}
                                    for data in images]}


def public_source(path: pathlib.Path | None) -> str | None:
    """What a client is told the model is: its folder and name (``facades/model_int8.tflite``), never
    the server's absolute path."""
    return None if path is None else "/".join(pathlib.Path(path).parts[-2:])


def decode_request_image(encoded: bytes) -> np.ndarray:
    """An uploaded image as uint8 (H, W, 3); RequestError 413 beyond ``MAX_PIXELS`` (every frame of an
    animated GIF counts: the decoder reads them all), 400 when it is no image this package reads
    (the same decoder and format checks as training)."""
    data = tf.constant(encoded)
    unsupported = checks.unsupported_format(encoded[:64])
    if unsupported:
        raise RequestError(400, f"{unsupported} images cannot be decoded here; send PNG or JPEG")
    try:
        size = checks.declared_size(data)
        if size is None:
            raise RequestError(400, "send a PNG, JPEG, GIF, BMP or WebP image (its size is read before decoding)")
        beyond = checks.pixels_beyond(encoded, size, MAX_PIXELS)
        if beyond:
            raise RequestError(413, f"{beyond} is more than the {MAX_PIXELS} allowed")
        pixels = image_ops.decode_pixels(data).numpy()
    except tf.errors.OpError as error:
        raise RequestError(400, f"the body is not a readable image ({files.op_error_text(error)})") from None
    if pixels.shape[0] * pixels.shape[1] > MAX_PIXELS:
        raise RequestError(413, f"{pixels.shape[1]} x {pixels.shape[0]} pixels is more than the {MAX_PIXELS} allowed")
    return pixels


def shipped_services(mode: str | None = None, tile_size: int | None = None) -> list[ModelService]:
    """Every model shipped in the package (``pretrained.names()``), each under its own name, loaded now
    (a .tflite file each: a fraction of a second), ``pretrained.DEFAULT`` first; they share one
    ``Admission``, so the server's limits hold whichever models the requests ask for."""
    names = pretrained.names_default_first()
    if not names:
        raise ValueError(f"no model is shipped in {pretrained.FOLDER}; serve one with --model")
    admission = Admission()
    return [ModelService(Translator.load(pretrained.folder(name), mode, tile_size), name, admission)
            for name in names]
