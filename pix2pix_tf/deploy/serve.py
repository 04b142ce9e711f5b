"""The trained generator over HTTP: the drawing page, TensorFlow Serving's REST API, raw images.

Standard library only (``ThreadingHTTPServer``): no framework, nothing fetched at run time (the
page's HTML, JS and CSS are files of this package, served from static/ and nowhere else).

    GET  /                          the drawing page (static/index.html, app.js, style.css)
    GET  /v1/models/NAME            status, input size, mode, channels, palette (TF Serving's status, extended)
    GET  /v1/models                 the same for the one model served, whatever its name
    POST /v1/models/NAME:predict    {"instances": [{"b64": PNG or JPEG}, ...]} -> {"predictions": [{"b64": PNG}]}
    POST /translate                 a PNG or JPEG body -> a PNG of the input's size

Every limit is a named constant below and answers 4xx (413 for size, 400 for a malformed request,
404 for an unknown path, 405 for a method, 411 without Content-Length) or 503 when the queue is
full, always with a one-line JSON body ``{"error": "..."}``: nothing a client sends reaches a
traceback or ends the process. Any model ``Translator.load`` reads can be served.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import pathlib
import threading
from collections.abc import Iterator
from http import HTTPStatus

import numpy as np
import tensorflow as tf
from absl import logging

from pix2pix_tf import images as image_ops
from pix2pix_tf import palettes
from pix2pix_tf.data import checks
from pix2pix_tf.deploy.drain import DrainingHandler, DrainingServer
from pix2pix_tf.deploy.drain import serve_until_stopped  # noqa: F401 (what `pix2pix-tf serve` runs)
from pix2pix_tf.deploy.translator import Translator

# Limits: a request over one of them is refused before any work is done.
MAX_BODY_BYTES = 16 * 2**20  # a request body (413)
MAX_PIXELS = 16 * 2**20  # an image's height x width, read from its header before decoding (413)
MAX_INSTANCES = 8  # images in one :predict request (413)
MAX_RUNNING = 2  # requests running the model at once
MAX_WAITING = 8  # requests queued behind them; beyond this a request gets 503 at once
MIN_TILE_SIZE = 512  # larger images go through run folders and SavedModels in tiles: memory stays bounded
SOCKET_TIMEOUT_S = 30  # a client that stops sending is dropped after this many seconds


# The page's files: only these are ever served, looked up by exact name (no path is built from a URL).
STATIC_FOLDER = pathlib.Path(__file__).with_name("static")
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8"}


# What `pix2pix-tf serve` serves without --model: a 16-filter U-Net trained on the built-in
# façades at 64 px (the quick preset), shipped as its float16 TFLite file (3.7 MB). Remade with
#   pix2pix-tf train --filters=16 --disc_filters=16 --workdir=runs/demo
#   pix2pix-tf export --workdir=runs/demo --formats=tflite_fp16 --output=pix2pix_tf/deploy/demo
DEMO_MODEL = pathlib.Path(__file__).with_name("demo")


class RequestError(Exception):
    """What a client did wrong: an HTTP status and a one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class ModelService:
    """The model behind the HTTP API: bounded concurrency, checked inputs, PNG outputs.

    Args:
      translator: any model ``Translator.load`` reads.
      name: the ``NAME`` of ``/v1/models/NAME``.
    """

    def __init__(self, translator: Translator, name: str = "pix2pix"):
        """A ``translator`` without tiles is given tiles of max(its image size, ``MIN_TILE_SIZE``):
        a 16-megapixel image through a whole U-Net would take several GiB."""
        if translator.tile_size is None:
            translator.tile_size = max(translator.config.data.image_size, MIN_TILE_SIZE)
        self.translator, self.name = translator, name
        self._running = threading.BoundedSemaphore(MAX_RUNNING)
        self._admitted = threading.BoundedSemaphore(MAX_RUNNING + MAX_WAITING)

    def status(self) -> dict:
        """TF Serving's model status, with what a client needs to send images."""
        config = self.translator.config
        return {
            "model_version_status": [{"version": "1", "state": "AVAILABLE",
                                      "status": {"error_code": "OK", "error_message": ""}}],
            "name": self.name, "mode": self.translator.mode, "input_size": config.data.image_size,
            "input_channels": self.translator.input_channels, "output_channels": self.translator.output_channels,
            "source": str(self.translator.source), "palette": palettes.hex_colours(config.data.palette),
        }

    @contextlib.contextmanager
    def _admission(self) -> Iterator[None]:
        """A place in the queue for one request (all its images), or 503 at once when it is full."""
        if not self._admitted.acquire(blocking=False):
            raise RequestError(503, f"busy: {MAX_RUNNING} requests running and {MAX_WAITING} waiting; retry later")
        try:
            yield
        finally:
            self._admitted.release()

    def _translate(self, encoded: bytes) -> bytes:
        pixels = decode_request_image(encoded)
        with self._running:
            output = self.translator.translate(pixels)
        return tf.io.encode_png(output).numpy()

    def translate_image(self, encoded: bytes) -> bytes:
        """PNG or JPEG (or any format training reads) bytes -> PNG bytes of the same size.

        A request takes its place in the queue before its image is decoded, so decoding is
        bounded by the queue too."""
        with self._admission():
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
        with self._admission():  # one place for the whole request: admitted, it is answered whole
            return {"predictions": [{"b64": base64.b64encode(self._translate(data)).decode("ascii")}
                                    for data in images]}


def decode_request_image(encoded: bytes) -> np.ndarray:
    """An uploaded image as uint8 (H, W, 3); RequestError 413 beyond ``MAX_PIXELS``, 400 when it is
    no image this package reads (the same decoder and format checks as training)."""
    data = tf.constant(encoded)
    unsupported = checks.unsupported_format(encoded[:64])
    if unsupported:
        raise RequestError(400, f"{unsupported} images cannot be decoded here; send PNG or JPEG")
    try:
        size = checks.declared_size(data)
        if size is None:
            raise RequestError(400, "send a PNG, JPEG, GIF, BMP or WebP image (its size is read before decoding)")
        if size[0] * size[1] > MAX_PIXELS:
            raise RequestError(413, f"{size[1]} x {size[0]} pixels is more than the {MAX_PIXELS} allowed")
        pixels = image_ops.decode_pixels(data).numpy()
    except tf.errors.OpError as error:
        raise RequestError(400, f"the body is not a readable image ({error.message.strip().splitlines()[0]})") from None
    if pixels.shape[0] * pixels.shape[1] > MAX_PIXELS:
        raise RequestError(413, f"{pixels.shape[1]} x {pixels.shape[0]} pixels is more than the {MAX_PIXELS} allowed")
    return pixels


class _Handler(DrainingHandler):
    """Routes requests to the server's ``service``; every failure is a status and a one-line JSON error."""

    server_version = "pix2pix_tf"
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S  # on the socket: a silent client cannot hold its thread forever

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> tuple[int, str, bytes]:
        self.path = self.path.split("?", 1)[0]  # the page's files take no query
        if self.path in (f"/v1/models/{self.server.service.name}", "/v1/models"):
            return 200, "application/json", json.dumps(self.server.service.status()).encode()
        page = self.server.static_files.get("index.html" if self.path == "/" else self.path.removeprefix("/static/"))
        if page is not None and (self.path == "/" or self.path.startswith("/static/")):
            return 200, *page
        raise RequestError(405 if self._known_post_path() else 404, f"no GET {self.path[:200]}")

    def _post(self) -> tuple[int, str, bytes]:
        if not self._known_post_path():
            raise RequestError(405 if self.path == f"/v1/models/{self.server.service.name}" else 404,
                               f"no POST {self.path[:200]}")
        body = self._body()
        if self.path == "/translate":
            return 200, "image/png", self.server.service.translate_image(body)
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RequestError(400, f"the body is not JSON ({error})") from None
        except RecursionError:
            raise RequestError(400, "the body's JSON is nested too deeply") from None
        return 200, "application/json", json.dumps(self.server.service.predict(request)).encode()

    def _known_post_path(self) -> bool:
        return self.path in ("/translate", f"/v1/models/{self.server.service.name}:predict")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):
            raise RequestError(411, "send the body with a Content-Length header")
        if int(length) > MAX_BODY_BYTES:
            raise RequestError(413, f"the body has {length} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            body = self.rfile.read(int(length))
        except TimeoutError:
            raise RequestError(408, f"the body did not arrive within {self.timeout} s") from None
        if len(body) < int(length):
            raise RequestError(400, f"the body ended after {len(body)} of {length} bytes")
        return body

    def _answer(self, route) -> None:
        try:
            status, content_type, body = route()
        except RequestError as error:
            status, content_type = error.status, "application/json"
            body = json.dumps({"error": str(error)}).encode()
            self.close_connection = True  # an unread body must not be taken for the next request
        except Exception:  # noqa: BLE001 (the server's own fault: logged here, one line to the client)
            logging.exception("error answering %s %s", self.command, self.path)
            status, content_type = 500, "application/json"
            body = json.dumps({"error": "internal error; the server log has the details"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's own refusals (a malformed request line, headers too long, a method
        no route takes such as DELETE) as a one-line JSON error too, never its HTML page."""
        del explain
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:  # the method: 405, as for the routes' own
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, f"no {self.command[:20]} {self.path[:200]}; use GET or POST"
        body = json.dumps({"error": message or HTTPStatus(code).phrase}).encode()
        self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the standard library's signature)
        logging.info("%s %s", self.address_string(), format % args)


class ModelServer(DrainingServer):
    """A ``ThreadingHTTPServer`` answering for ``service`` (one thread per connection); on SIGINT
    or SIGTERM, ``serve_until_stopped`` answers every request it accepted before exiting."""

    def __init__(self, service: ModelService, host: str = "127.0.0.1", port: int = 8000):
        self.service = service
        # Read once: each file by its bare name, with its content type.
        self.static_files = {path.name: (STATIC_TYPES[path.suffix], path.read_bytes())
                             for path in STATIC_FOLDER.iterdir() if path.suffix in STATIC_TYPES}
        super().__init__((host, port), _Handler)
