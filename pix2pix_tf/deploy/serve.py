"""The trained generator over HTTP: the drawing page, TensorFlow Serving's REST API, raw images.

Standard library only (``ThreadingHTTPServer``): no framework, nothing fetched at run time (the
page's HTML, JS and CSS are files of this package, served from static/ and nowhere else).

    GET  /                          the drawing page (static/: index.html, its scripts, style.css, litert/; favicon.ico)
    GET  /page.json[?model=NAME]    what the page is told: the model's size, palette, input kind, files; the models
    GET  /model/FILE                the default model's .tflite file, which the page runs in the browser, and example
    GET  /models/NAME/FILE          the same for each other model served
    GET  /v1/models/NAME            status, input size, mode, channels, palette (TF Serving's status, extended)
    GET  /v1/models                 the same for the default model, with the names of all served ("models")
    POST /v1/models/NAME:predict    {"instances": [{"b64": PNG or JPEG}, ...]} -> {"predictions": [{"b64": PNG}]}
    POST /translate                 a PNG or JPEG body (or multipart/form-data file) -> a PNG of the input's size
                                    (the default model's)

A server serves one model or several (``serve`` without --model: every shipped model, each under
its own name); the first is the default, which the page opens on.

Every limit is a named constant (the body size, socket timeout and listen backlog below; pixels,
instances and the queue in ``service.py``, which runs the model) and answers 4xx (413 for size,
400 for a malformed request, 404 for an unknown path, 405 for a method, 408 for a request that
stops arriving midway, 411 without Content-Length) or 503 when the queue is full, always with a one-line JSON body
``{"error": "..."}``: nothing a client sends reaches a traceback or ends the process. Any model
``Translator.load`` reads can be served.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import socket
import sys
import urllib.parse
from collections.abc import Sequence
from http import HTTPStatus

from absl import logging

from pix2pix_tf.deploy import web
from pix2pix_tf.deploy.drain import DrainingHandler, DrainingServer
from pix2pix_tf.deploy.service import ModelService, RequestError

# Limits of the HTTP side (the model's are in service.py).
MAX_BODY_BYTES = 16 * 2**20  # a request body (413)
SOCKET_TIMEOUT_S = 30  # a client that stops sending midway gets 408 after this many seconds (an idle one is closed)
LISTEN_BACKLOG = 128  # connections the kernel holds until the server accepts them; a burst beyond may be reset
MAX_PORT = 65535  # the largest TCP port (--port)


def uploaded_image(content_type: str | None, body: bytes) -> bytes:
    """The image of a ``/translate`` body: the body itself, or the file of a multipart/form-data
    upload (``curl -F file=@labels.png``), read with the standard library's email parser. The body
    is within ``MAX_BODY_BYTES`` already; RequestError 400 for a form that carries no file."""
    if not (content_type or "").lower().startswith("multipart/form-data"):
        return body
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    parts = list(form.iter_parts()) if form.is_multipart() else []
    files = [part for part in parts if part.get_filename() is not None] or parts[:1]
    image = files[0].get_payload(decode=True) if files else None
    if not image:
        raise RequestError(400, "the multipart/form-data body carries no file: send one image as a file field "
                                "(curl -F file=@labels.png) or as the body itself (curl --data-binary @labels.png)")
    return image


def _model_path(path: str) -> tuple[str, str | None] | None:
    """(NAME, ACTION) of a ``/v1/models/NAME[:ACTION]`` path (ACTION None without a colon), None for another path."""
    if not path.startswith("/v1/models/"):
        return None
    name, colon, action = path.removeprefix("/v1/models/").partition(":")
    return name, action if colon else None


def _refusal(status: int, message: str):
    """A route of ``_Handler._answer`` that refuses with ``status`` and ``message``."""
    def refuse() -> tuple[int, str, bytes]:
        raise RequestError(status, message)
    return refuse


class _Handler(DrainingHandler):
    """Routes requests to the server's ``service``; every failure is a status and a one-line JSON error."""

    server_version = "pix2pix_tf"
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S  # on the socket: a silent client cannot hold its thread forever

    def handle_one_request(self) -> None:
        """The standard library's, except that a request whose line or header stops arriving within
        ``timeout`` is answered 408; a connection idle between requests is still closed without a word."""
        try:
            self.rfile.peek(1)  # waits for a request to start
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        self.raw_requestline = None
        super().handle_one_request()
        if self.raw_requestline is None:  # the request line timed out (the standard library closes quietly)
            self.requestline = self.command = self.request_version = ""
            self._answer(_refusal(408, f"the request line did not arrive within {self.timeout} s"))

    def parse_request(self) -> bool:
        """The standard library's, with a header that stops arriving within ``timeout`` answered 408."""
        try:
            return super().parse_request()
        except TimeoutError:
            self._answer(_refusal(408, f"the request header did not arrive within {self.timeout} s"))
            return False

    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self._answer(self._get)

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._post)

    def _get(self) -> tuple[int, str, bytes]:
        self.path, _, query = self.path.partition("?")  # only page.json takes a query
        server = self.server
        if self.path == "/v1/models":
            listing = {**server.service.status(), "models": list(server.services)}
            return 200, "application/json", json.dumps(listing).encode()
        model = _model_path(self.path)
        if model and model[1] is None and model[0] in server.services:
            return 200, "application/json", json.dumps(server.services[model[0]].status()).encode()
        file = server.files.get(self.path.removeprefix("/"))
        if file is not None:
            return 200, *file
        if self.path == f"/{web.PAGE_CONFIG}":
            asked = urllib.parse.parse_qs(query).get("model", [server.service.name])[-1]
            if asked not in server.services:
                raise RequestError(404, server.unknown_model(asked))
            return 200, "application/json", json.dumps(server.page_config(asked)).encode()
        model_file = server.model_files.get(self.path.removeprefix("/"))
        if model_file is not None:  # read when asked: a model's file can be large
            return 200, web.content_type(model_file), model_file.read_bytes()
        raise self._no_route(model)

    def _post(self) -> tuple[int, str, bytes]:
        model = _model_path(self.path)
        service = self.server.services.get(model[0]) if model and model[1] == "predict" else None
        if service is None and self.path != "/translate":
            raise self._no_route(model)
        body = self._body()
        if service is None:  # /translate
            image = uploaded_image(self.headers.get("Content-Type"), body)
            return 200, "image/png", self.server.service.translate_image(image)
        try:
            request = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RequestError(400, f"the body is not JSON ({error})") from None
        except RecursionError:
            raise RequestError(400, "the body's JSON is nested too deeply") from None
        except ValueError:  # Python reads no integer longer than its int-string limit
            raise RequestError(400, f"the body's JSON holds an integer of more than "
                                    f"{sys.get_int_max_str_digits()} digits") from None
        return 200, "application/json", json.dumps(service.predict(request)).encode()

    def _no_route(self, model: tuple[str, str | None] | None) -> RequestError:
        """The refusal of a path no route of this method takes (``model``: its ``_model_path``): 404
        naming the served models for a model that is not served, 405 for a path the other method
        takes, 404 else."""
        served = self.server.services
        if model and model[0] not in ("", *served):
            return RequestError(404, self.server.unknown_model(model[0]))
        name, action = model or ("", None)
        other_method = {"GET": self.path == "/translate" or (name in served and action == "predict"),
                        "POST": name in served and action is None}[self.command]
        return RequestError(405 if other_method else 404, f"no {self.command} {self.path[:200]}")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is None or not (length.isascii() and length.isdigit()):
            raise RequestError(411, "send the body with a Content-Length header")
        digits = length.lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:  # no int() of 5000 digits
            stated = digits if len(digits) <= 20 else f"a {len(digits)}-digit number of"
            raise RequestError(413, f"the body has {stated} bytes; the limit is {MAX_BODY_BYTES}")
        length = int(digits)
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(408, f"the body did not arrive within {self.timeout} s") from None
        if len(body) < length:
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
        no route takes such as DELETE) as a one-line JSON error too, never its HTML page, and always
        after a status line (never HTTP/0.9's bare body)."""
        del explain
        if self.request_version == "HTTP/0.9":  # the standard library's guess for a line it could not parse
            self.request_version = self.protocol_version  # so the status line and headers are sent too
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
    """A ``ThreadingHTTPServer`` answering for ``services``, one model or several by name, the first
    the default (one thread per connection); on SIGINT or SIGTERM, ``serve_until_stopped`` answers
    every request it accepted, whichever model it asked for, before exiting.

    Attributes:
      services: the models served, by name (``/v1/models/NAME``), in the order given.
      service: the default model: the page opens on it, ``/translate`` and ``/v1/models`` answer for it.
      pages: what the page is told about each model, by name.
    """

    request_queue_size = LISTEN_BACKLOG  # the standard library's 5 reset a burst of 30 clients' connections

    def __init__(self, services: ModelService | Sequence[ModelService], host: str = "127.0.0.1", port: int = 8000):
        """Listens on ``host`` (an IPv4 address or name) and ``port`` (0: any free port) at once;
        ValueError or OSError naming --host or --port when it cannot."""
        if not 0 <= port <= MAX_PORT:
            raise ValueError(f"--port={port} is not a port: give 0 (any free port) to {MAX_PORT}")
        services = [services] if isinstance(services, ModelService) else list(services)
        names = [service.name for service in services]
        if not names or len(set(names)) < len(names):
            raise ValueError(f"a server serves one model or more, each under its own name, not {names}")
        self.services = {service.name: service for service in services}
        self.service = services[0]
        # Only these files are ever served, looked up by their exact URL path (none is built from a URL).
        # The page's are read once; the models' .tflite files and examples are read when asked.
        self.files = {url: (web.content_type(path), path.read_bytes()) for url, path in web.page_files().items()}
        self.pages = {service.name: web.PageModel.of(service.translator.source, service.translator.config,
                                                     service.translator.mode) for service in services}
        self.model_files = {self._files_url(name) + path.name: path for name, page in self.pages.items()
                            for path in (page.tflite, page.example) if path}
        try:
            super().__init__((host, port), _Handler)
        except socket.gaierror as error:  # not an IPv4 address, or a name that resolves to none
            raise ValueError(f"--host={host}: cannot listen there ({error.strerror}); give an IPv4 address or "
                             "name, such as 127.0.0.1 or 0.0.0.0") from None
        except OSError as error:
            raise OSError(f"--host={host} --port={port}: cannot listen there ({error.strerror or error})") from None

    def _files_url(self, name: str) -> str:
        """Where the files of model ``name`` are, relative to the page: model/ for the default, models/NAME/ else."""
        return "model/" if name == self.service.name else f"models/{name}/"

    def page_config(self, name: str) -> dict:
        """page.json of model ``name``: the model, its files and its :predict URL (relative to the
        page), its served ``name`` and the ``models`` served (name and title of each) to choose from."""
        models = [{"name": other, "title": page.title} for other, page in self.pages.items()]
        return {**self.pages[name].page_json(self._files_url(name), f"v1/models/{name}:predict"),
                "name": name, "models": models}

    def unknown_model(self, asked: str) -> str:
        """The error for a request naming a model that is not served: what is."""
        names = list(self.services)
        example = names[0] if len(names) == 1 else "NAME"
        return (f"no model {asked[:100]!r}: this server serves {', '.join(map(repr, names))} "
                f"(GET /v1/models/{example}, POST /v1/models/{example}:predict)")
