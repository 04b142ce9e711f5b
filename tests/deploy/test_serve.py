"""`pix2pix-tf serve`: TF Serving's REST API and raw-image translation on 127.0.0.1, every bad
request a 4xx with a one-line JSON error, bounded load without failures."""

from __future__ import annotations

import base64
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import numpy as np
import pytest
import tensorflow as tf
from conftest import animated_gif, run_cli, tiny_config, write_pairs

from pix2pix_tf.deploy import pretrained, serve
from pix2pix_tf.deploy.drain import serve_until_stopped
from pix2pix_tf.deploy.saved_model import export_saved_model
from pix2pix_tf.deploy.service import MAX_RUNNING, MIN_TILE_SIZE, Admission, ModelService, shipped_services
from pix2pix_tf.deploy.translator import Translator
from pix2pix_tf.run_folder import load_generator
from pix2pix_tf.training.train import train_and_evaluate

IMAGE = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    write_pairs(root / "data", "train", 4)
    write_pairs(root / "data", "val", 2)
    train_and_evaluate(tiny_config(root / "data", steps=2, val_every=0), root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def server(run):
    service = ModelService(Translator.load(run), "pix2pix")
    model_server = serve.ModelServer(service, "127.0.0.1", 0)
    thread = threading.Thread(target=model_server.serve_forever, daemon=True)
    thread.start()
    yield model_server
    model_server.shutdown()
    model_server.server_close()


def _url(server, path: str) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def _request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    """(status, content type, body) of one request."""
    request = urllib.request.Request(_url(server, path), data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def _png(image: np.ndarray) -> bytes:
    return tf.io.encode_png(image).numpy()


def test_status_says_what_to_send(server):
    status, kind, body = _request(server, "GET", "/v1/models/pix2pix")
    assert (status, kind) == (200, "application/json")
    answer = json.loads(body)
    assert answer["model_version_status"][0]["state"] == "AVAILABLE"
    assert (answer["input_size"], answer["mode"], answer["input_channels"], answer["output_channels"]) == (
        32, "paper", 3, 3)


def test_translate_returns_the_models_png_of_the_inputs_size(server, run):
    status, kind, body = _request(server, "POST", "/translate", _png(IMAGE), {"Content-Type": "image/png"})
    assert (status, kind) == (200, "image/png")
    output = tf.io.decode_png(body).numpy()
    assert output.shape == IMAGE.shape
    np.testing.assert_array_equal(output, Translator.load(run).translate(IMAGE))


def test_predict_in_tf_serving_form_equals_translate(server):
    jpeg = tf.io.encode_jpeg(IMAGE, quality=95).numpy()
    request = {"instances": [{"b64": base64.b64encode(_png(IMAGE)).decode()}, {"b64": base64.b64encode(jpeg).decode()}],
               "signature_name": "serving_default"}
    status, kind, body = _request(server, "POST", "/v1/models/pix2pix:predict", json.dumps(request).encode())
    assert (status, kind) == (200, "application/json")
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 2
    first = tf.io.decode_png(base64.b64decode(predictions[0]["b64"])).numpy()
    direct = tf.io.decode_png(_request(server, "POST", "/translate", _png(IMAGE))[2]).numpy()
    np.testing.assert_array_equal(first, direct)


def test_the_exports_image_bytes_signature_serves_the_same_pngs(server, run, tmp_path):
    generator, config = load_generator(run)
    loaded = tf.saved_model.load(str(export_saved_model(generator, config, tmp_path / "saved_model")))
    outputs = loaded.signatures["translate_image"](images=tf.constant([_png(IMAGE)]))["output_0"]
    from_signature = tf.io.decode_png(outputs[0]).numpy()
    from_server = tf.io.decode_png(_request(server, "POST", "/translate", _png(IMAGE))[2]).numpy()
    assert np.abs(from_signature.astype(int) - from_server.astype(int)).max() <= 1


def _forged_png(width: int, height: int) -> bytes:
    """A PNG header declaring ``width`` x ``height`` (the decoder would allocate that much)."""
    header = _png(np.zeros((1, 1, 3), np.uint8))
    return header[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + header[24:]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


BAD_REQUESTS = [
    ("GET", "/nothing", None, 404, "no GET /nothing"),
    ("GET", "/translate", None, 405, "no GET /translate"),
    ("POST", "/v1/models/pix2pix", b"{}", 405, "no POST /v1/models/pix2pix"),
    ("GET", "/v1/models/pix2pix:predict", None, 405, "no GET /v1/models/pix2pix:predict"),
    ("GET", "/v1/models/pix2pix:explain", None, 404, "no GET /v1/models/pix2pix:explain"),
    ("POST", "/v1/models/pix2pix:explain", b"{}", 404, "no POST /v1/models/pix2pix:explain"),
    ("GET", "/v1/models/", None, 404, "no GET /v1/models/"),
    ("GET", "/v1/models/pix2pix:", None, 404, "no GET /v1/models/pix2pix:"),
    ("POST", "/v1/models/pix2pix:", b"{}", 404, "no POST /v1/models/pix2pix:"),
    ("POST", "/v1/models/other:predict", b"{}", 404, "no model 'other': this server serves 'pix2pix'"),
    ("GET", "/v1/models/other", None, 404, "no model 'other': this server serves 'pix2pix'"),
    ("POST", "/translate", b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\r\n--x--\r\n", 400,
     "carries no file"),  # sent as multipart/form-data; boundary=x
    ("GET", "/../../etc/passwd", None, 404, "no GET"),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", None, 404, "no GET"),
    ("POST", "/translate", b"not an image at all", 400, "send a PNG, JPEG, GIF, BMP or WebP image"),
    ("POST", "/translate", b"\xff\xd8\xff\xe0 a broken JPEG", 400, "not a readable image"),
    ("POST", "/translate", b"II*\x00" + bytes(100), 400, "TIFF images cannot be decoded here"),
    ("POST", "/translate", None, 413, "more than the"),  # body: a forged 40000 x 40000 PNG header
    ("POST", "/v1/models/pix2pix:predict", b"{not json", 400, "the body is not JSON"),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": "x"}', 400, 'expected a JSON object {"instances"'),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": []}', 400, "send 1 to 8 instances"),
    ("POST", "/v1/models/pix2pix:predict", json.dumps({"instances": [{"b64": ""}] * 9}).encode(), 413,
     "not 9"),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": [{"b64": "@@@"}]}', 400, "is not valid base64"),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": [[1, 2, 3]]}', 400, 'instances[0] must be {"b64"'),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": [{"b64": "aGk="}], "signature_name": "x"}', 400,
     "signature_name='x'"),
    ("POST", "/v1/models/pix2pix:predict", b"[" * 1000 + b"]" * 1000, 400, "nested too deeply"),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": ' * 1000 + b"1" + b"}" * 1000, 400, "nested too deeply"),
    ("POST", "/v1/models/pix2pix:predict", b'{"instances": ' + b"1" * 5000 + b"}", 400,
     "an integer of more than 4300 digits"),
    ("DELETE", "/translate", None, 405, "no DELETE /translate"),
    ("PUT", "/v1/models/pix2pix", b"{}", 405, "no PUT /v1/models/pix2pix"),
]


@pytest.mark.parametrize("method, path, body, status, message", BAD_REQUESTS)
def test_every_bad_request_is_a_4xx_with_a_one_line_json_error(server, method, path, body, status, message):
    if body is None and method == "POST":
        body = _forged_png(40000, 40000)
    headers = {"Content-Type": "multipart/form-data; boundary=x"} if body and body.startswith(b"--x") else {}
    got_status, kind, answer = _request(server, method, path, body, headers)
    assert (got_status, kind) == (status, "application/json")
    error = json.loads(answer)["error"]
    assert message in error and "\n" not in error and "Traceback" not in error


def test_oversized_and_unsized_bodies_are_refused_before_reading(server):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/translate")
    connection.putheader("Content-Length", str(serve.MAX_BODY_BYTES + 1))
    connection.endheaders()  # none of the 16 MB is sent
    response = connection.getresponse()
    assert response.status == 413 and "the limit is" in json.loads(response.read())["error"]
    connection.close()
    for length, status, message in [("9" * 5000, 413, "a 5000-digit number of bytes"),  # more than int() reads
                                    ("0" * 5000 + "2", 400, "expected a JSON object")]:  # 2 bytes: {}
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.putrequest("POST", "/v1/models/pix2pix:predict")
        connection.putheader("Content-Length", length)
        connection.endheaders(b"{}")
        response = connection.getresponse()
        assert response.status == status and message in json.loads(response.read())["error"]
        connection.close()
    connection = http.client.HTTPConnection(host, port, timeout=30)
    connection.putrequest("POST", "/translate")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 411 and "Content-Length" in json.loads(response.read())["error"]
    connection.close()


class _SlowTranslator:
    """Stands in for a model that takes 0.3 s per image."""

    config = tiny_config()
    mode, source, input_channels, output_channels, tile_size = "eval", None, 3, 3, 512

    def translate(self, pixels: np.ndarray) -> np.ndarray:
        time.sleep(0.3)
        return pixels


def test_a_full_queue_answers_503_at_once_and_the_server_carries_on(monkeypatch):
    monkeypatch.setattr("pix2pix_tf.deploy.service.MAX_RUNNING", 1)
    monkeypatch.setattr("pix2pix_tf.deploy.service.MAX_WAITING", 1)
    model_server = serve.ModelServer(ModelService(_SlowTranslator()), "127.0.0.1", 0)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: _request(model_server, "POST", "/translate", _png(IMAGE)), range(6)))
        statuses = sorted(status for status, _, _ in answers)
        assert statuses.count(200) >= 2 and 503 in statuses and set(statuses) <= {200, 503}
        busy = next(json.loads(body)["error"] for status, _, body in answers if status == 503)
        assert busy.startswith("busy: 1 requests running and 1 waiting")
        assert _request(model_server, "POST", "/translate", _png(IMAGE))[0] == 200
    finally:
        model_server.shutdown()
        model_server.server_close()


def test_a_burst_of_60_clients_gets_answers_never_a_reset_connection():
    """60 clients at once on 127.0.0.1: each gets 200 or 503 with a JSON error; with the standard
    library's backlog of 5 connections, the kernel reset some of them before the server saw them."""
    model_server = serve.ModelServer(ModelService(_SlowTranslator()), "127.0.0.1", 0)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    start = threading.Barrier(60)

    def client(_):
        start.wait(timeout=30)
        try:
            return _request(model_server, "POST", "/translate", _png(IMAGE))[0]
        except OSError as error:
            return repr(error)

    try:
        with ThreadPoolExecutor(60) as pool:
            answers = list(pool.map(client, range(60)))
        assert set(answers) <= {200, 503}, sorted(map(str, answers))
        assert answers.count(200) >= MAX_RUNNING
    finally:
        model_server.shutdown()
        model_server.server_close()


def test_the_models_of_one_server_share_its_queue(monkeypatch, shipped_models):
    """Two models, 1 running + 1 waiting: with a request running on one model, two more (one per
    model) find one place between them, and the other is refused at once (not 1 + 1 per model)."""
    monkeypatch.setattr("pix2pix_tf.deploy.service.MAX_RUNNING", 1)
    monkeypatch.setattr("pix2pix_tf.deploy.service.MAX_WAITING", 1)
    translator = _GatedTranslator()
    admission = Admission()
    model_server = serve.ModelServer([ModelService(translator, name, admission) for name in ("a", "b")],
                                     "127.0.0.1", 0)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    predict = json.dumps({"instances": [{"b64": _b64(_png(IMAGE))}]}).encode()
    try:
        with ThreadPoolExecutor(3) as pool:
            running = pool.submit(_request, model_server, "POST", "/v1/models/a:predict", predict)
            assert translator.entered.acquire(timeout=60)
            more = [pool.submit(_request, model_server, "POST", f"/v1/models/{name}:predict", predict)
                    for name in ("a", "b")]
            refused, _ = wait(more, timeout=30, return_when=FIRST_COMPLETED)
            assert len(refused) == 1, "a server of two models admitted 3 requests with room for 2"
            status, _, body = refused.pop().result()
            assert status == 503 and json.loads(body)["error"].startswith("busy: 1 requests running and 1 waiting")
            translator.gate.set()
            assert sorted(answer.result(timeout=60)[0] for answer in [running, *more]) == [200, 200, 503]
    finally:
        translator.gate.set()
        model_server.shutdown()
        model_server.server_close()
    monkeypatch.setattr(pretrained, "FOLDER", shipped_models)
    services = shipped_services()
    assert len(services) == 2 and services[0].admission is services[1].admission


@pytest.mark.slow
def test_bounded_load_from_8_clients_has_no_failures_and_flat_memory(server):
    """8 clients for 10 s on 127.0.0.1: every request answered 200, memory bounded."""
    body = _png(IMAGE)
    deadline = time.monotonic() + 10

    def client(_):
        latencies, failures = [], 0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = _request(server, "POST", "/translate", body)[0]
            latencies.append(time.perf_counter() - started)
            failures += status != 200
        return latencies, failures

    with ThreadPoolExecutor(8) as pool:
        _, failures = zip(*pool.map(client, range(2)))  # warm-up, then measure the peak from here
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        deadline = time.monotonic() + 10
        results = list(pool.map(client, range(8)))
    latencies = sorted(latency for result, _ in results for latency in result)
    assert sum(failure for _, failure in results) == 0 and len(latencies) > 50
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    print(f"{len(latencies)} requests, p50 {1000 * latencies[len(latencies) // 2]:.0f} ms, "
          f"p95 {1000 * latencies[int(len(latencies) * 0.95)]:.0f} ms, peak RSS grew {grown_mib:.0f} MiB")
    assert grown_mib < 100


@pytest.mark.slow
def test_the_serve_command_answers_and_stops_cleanly_on_sigterm(run):
    process = subprocess.Popen([sys.executable, "-m", "pix2pix_tf", "serve", f"--model={run}", "--port=0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = process.stdout.readline()
        assert first.startswith(f"serving {run} (paper mode, 32 px) as 'pix2pix': open http://127.0.0.1:"), first
        base = first.split("open ")[1].split()[0].rstrip("/")
        with urllib.request.urlopen(f"{base}/v1/models/pix2pix", timeout=30) as response:
            assert json.loads(response.read())["input_size"] == 32
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr[-2000:]
    assert "stopped by SIGTERM" in stdout and "Traceback" not in stderr


def test_serve_without_a_model_serves_every_shipped_model_under_its_own_name(shipped_models, monkeypatch):
    monkeypatch.setattr(pretrained, "FOLDER", shipped_models)
    monkeypatch.setattr(pretrained, "DEFAULT", "toy_sketch2photo")
    services = shipped_services()
    assert [service.name for service in services] == ["toy_sketch2photo", "toy_labels2photo"]  # the default first
    model_server = serve.ModelServer(services, "127.0.0.1", 0)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    try:
        listing = json.loads(_request(model_server, "GET", "/v1/models")[2])
        assert listing["models"] == ["toy_sketch2photo", "toy_labels2photo"] and listing["name"] == "toy_sketch2photo"
        predict = json.dumps({"instances": [{"b64": _b64(_png(IMAGE))}]}).encode()
        answers = {}
        for name in listing["models"]:
            status = json.loads(_request(model_server, "GET", f"/v1/models/{name}")[2])
            assert (status["name"], status["source"]) == (name, f"{name}/model_float16.tflite")
            code, _, body = _request(model_server, "POST", f"/v1/models/{name}:predict", predict)
            assert code == 200
            answers[name] = tf.io.decode_png(base64.b64decode(json.loads(body)["predictions"][0]["b64"])).numpy()
            expected = Translator.load(shipped_models / name).translate(IMAGE)
            assert np.abs(answers[name].astype(int) - expected).max() <= 1
        assert not np.array_equal(*answers.values())  # two models, two pictures
        translated = tf.io.decode_png(_request(model_server, "POST", "/translate", _png(IMAGE))[2]).numpy()
        np.testing.assert_array_equal(translated, answers["toy_sketch2photo"])  # /translate: the default model
        for method, path in (("POST", "/v1/models/pix2pix:predict"), ("GET", "/v1/models/toy_shoes")):
            code, _, body = _request(model_server, method, path, b"{}" if method == "POST" else None)
            assert code == 404 and json.loads(body)["error"].startswith(
                f"no model {path.split('/')[3].split(':')[0]!r}: this server serves 'toy_sketch2photo', "
                "'toy_labels2photo' (GET /v1/models/NAME, POST /v1/models/NAME:predict)")
        assert _request(model_server, "POST", "/v1/models/toy_labels2photo", b"{}")[0] == 405
    finally:
        model_server.shutdown()
        model_server.server_close()

    monkeypatch.setattr(pretrained, "FOLDER", shipped_models / "nothing")
    with pytest.raises(ValueError, match="no model is shipped in .*nothing; serve one with --model"):
        shipped_services()


def test_a_model_name_without_a_model_is_refused():
    result = run_cli("serve", "--model_name=shoes", "--port=0")
    assert result.returncode == 2 and result.stderr.startswith(
        "pix2pix-tf serve: error: --model_name names the model of --model; without --model each shipped model")


def test_a_palette_of_your_own_colours_is_offered_by_number():
    from pix2pix_tf import palettes
    from pix2pix_tf.config import DataConfig

    assert palettes.hex_colours(DataConfig(palette="colors:#C81E1E,#14b428").palette) == [
        {"name": "class 1", "color": "#c81e1e"}, {"name": "class 2", "color": "#14b428"}]
    assert [entry["name"] for entry in palettes.hex_colours("facades")][:3] == ["background", "facade", "window"]
    assert palettes.hex_colours("none") == []


@pytest.mark.parametrize("palette, message", [("rainbow", "palette='rainbow' is not valid; choose one of: none, "
                                                          "synthetic, facades"),
                                              ("colors:red", "expected colors:#rrggbb")])
def test_a_bad_palette_is_named(palette, message):
    from pix2pix_tf.config import DataConfig

    with pytest.raises(ValueError, match=message):
        DataConfig(palette=palette)


def test_an_image_is_sized_from_its_header_before_decoding_webp_too(server):
    """A tiny file declaring a huge image is refused before the decoder allocates it."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4200, 4200)).save(buffer, format="WEBP", lossless=True)  # a few hundred bytes
    status, _, body = _request(server, "POST", "/translate", buffer.getvalue())
    assert status == 413 and "4200 x 4200 pixels is more than" in json.loads(body)["error"]


def test_a_served_model_translates_large_images_in_tiles(run):
    service = ModelService(Translator.load(run))
    assert service.translator.tile_size == MIN_TILE_SIZE  # not the whole image at once


def test_a_client_that_stops_sending_gets_408_and_frees_its_thread(server, monkeypatch):
    import socket

    monkeypatch.setattr(serve._Handler, "timeout", 1)
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as client:
        client.sendall(b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly this")
        answer = b""
        while chunk := client.recv(4096):  # the headers and the body may come in separate packets
            answer += chunk
    answer = answer.decode()
    assert answer.startswith("HTTP/1.1 408") and "did not arrive within 1 s" in answer


def test_a_multipart_upload_translates_like_a_raw_body(server):
    """`curl -F file=@labels.png .../translate`: the form's file is the image."""
    boundary = "------------------------d74496d66958873e"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"labels.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + _png(IMAGE) + f"\r\n--{boundary}--\r\n".encode()
    status, kind, body = _request(server, "POST", "/translate", form,
                                  {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert (status, kind) == (200, "image/png")
    assert body == _request(server, "POST", "/translate", _png(IMAGE))[2]


@pytest.mark.parametrize("sent, message", [
    (b"POST /translate HTTP/1.1\r\nHost: x\r\nContent-Le", "the request header did not arrive within 1 s"),
    (b"POST /transl", "the request line did not arrive within 1 s"),
])
def test_a_client_that_stops_midway_through_its_header_gets_408(server, monkeypatch, sent, message):
    import socket

    monkeypatch.setattr(serve._Handler, "timeout", 1)
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as client:
        client.sendall(sent)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    status_line, _, body = answer.decode().partition("\r\n\r\n")
    assert status_line.startswith("HTTP/1.1 408") and json.loads(body) == {"error": message}
    with socket.create_connection((host, port), timeout=30) as idle:  # sends nothing: closed without a word
        assert idle.recv(4096) == b""


def test_the_status_does_not_reveal_where_the_model_is_on_the_server(server, run):
    source = json.loads(_request(server, "GET", "/v1/models")[2])["source"]
    assert source == f"{run.parent.name}/{run.name}" and not source.startswith("/")
class _GatedTranslator(_SlowTranslator):
    """Holds every image on the model until ``gate`` opens; ``entered`` counts the images that reached it."""

    def __init__(self):
        self.entered, self.gate = threading.Semaphore(0), threading.Event()

    def translate(self, pixels: np.ndarray) -> np.ndarray:
        self.entered.release()
        self.gate.wait(60)
        return pixels


def _refuses_connections(address, attempts: int = 100) -> bool:
    for _ in range(attempts):
        try:
            socket.create_connection(address, timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("names", [("pix2pix",), ("pix2pix", "other")])
def test_sigterm_answers_every_accepted_request_refuses_new_ones_then_returns(names):
    """4 requests on 127.0.0.1 (2 on the model, 2 queued, one a 3-image :predict to the last model
    served), SIGTERM while they wait: every one is answered whole, new connections are refused,
    then the server stops."""
    translator = _GatedTranslator()
    model_server = serve.ModelServer([ModelService(translator, name) for name in names], "127.0.0.1", 0)
    address = model_server.server_address[:2]
    predict = json.dumps({"instances": [{"b64": base64.b64encode(_png(IMAGE)).decode()}] * 3}).encode()
    bodies = [("/translate", _png(IMAGE))] * 3 + [(f"/v1/models/{names[-1]}:predict", predict)]
    refused = []

    def stop_while_busy():
        try:
            for _ in range(MAX_RUNNING):
                translator.entered.acquire(timeout=60)
            for _ in range(600):  # every request accepted (bounded: 30 s)
                if len(model_server.in_flight) == len(bodies):
                    break
                time.sleep(0.05)
        finally:  # whatever happened, the server is told to stop and the model lets go
            os.kill(os.getpid(), signal.SIGTERM)
            refused.append(_refuses_connections(address))
            translator.gate.set()

    with ThreadPoolExecutor(len(bodies)) as pool:
        answers = [pool.submit(_request, model_server, "POST", path, body) for path, body in bodies]
        threading.Thread(target=stop_while_busy, daemon=True).start()
        assert serve_until_stopped(model_server) == "SIGTERM"
        results = [answer.result(timeout=60) for answer in answers]
    assert [status for status, _, _ in results] == [200] * 4
    assert len(json.loads(results[3][2])["predictions"]) == 3
    assert refused == [True]


def test_an_image_its_decoder_refuses_is_answered_in_the_decoders_words(tmp_path):
    """A GIF whose frame declares 60000 x 60000 pixels behind a 1 x 1 screen: 400 with the decoder's
    message, not TensorFlow's function and op names."""
    from PIL import Image

    from pix2pix_tf.deploy.service import RequestError, decode_request_image

    frames = [Image.new("RGB", (1, 1), colour) for colour in ("red", "green")]
    frames[0].save(tmp_path / "small.gif", save_all=True, append_images=frames[1:], duration=100)
    data = bytearray((tmp_path / "small.gif").read_bytes())
    descriptor = data.index(b"\x2c")  # the first frame's image descriptor: left, top, width, height
    data[descriptor + 5:descriptor + 9] = (60000).to_bytes(2, "little") * 2
    with pytest.raises(RequestError) as refused:
        decode_request_image(bytes(data))
    assert refused.value.status == 400 and "not a readable image" in str(refused.value)
    assert "function_node" not in str(refused.value) and "[Op:" not in str(refused.value)


def test_an_animated_gif_is_refused_by_all_its_frames_pixels_before_decoding(server, monkeypatch):
    """The decoder reads every frame of a GIF before keeping the first, so 3 frames of 64 x 64 are
    12,288 pixels: 413 under a 10,000 limit, before decoding; 2 frames are decoded as TensorFlow does."""
    from pix2pix_tf.deploy import service

    monkeypatch.setattr(service, "MAX_PIXELS", 10_000)
    status, kind, body = _request(server, "POST", "/translate", animated_gif(3, 64))
    assert (status, kind) == (413, "application/json")
    assert json.loads(body) == {"error": "3 frames of 64 x 64 pixels is more than the 10000 allowed"}
    two = animated_gif(2, 64)
    expected = tf.io.decode_image(two, channels=3, expand_animations=False).numpy()
    np.testing.assert_array_equal(service.decode_request_image(two), expected)


@pytest.mark.parametrize("host, port, error, message", [
    ("127.0.0.1", 70000, ValueError, "--port=70000 is not a port: give 0 (any free port) to 65535"),
    ("127.0.0.1", -1, ValueError, "--port=-1 is not a port"),
    ("::1", 0, ValueError, "--host=::1: cannot listen there ("),  # the reason is the resolver's words
])
def test_a_host_or_port_the_server_cannot_listen_on_is_named(run, host, port, error, message):
    with pytest.raises(error) as refused:
        serve.ModelServer(ModelService(Translator.load(run)), host, port)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


@pytest.mark.parametrize("flag", ["--port=70000", "--host=::1"])
def test_the_serve_command_names_a_host_or_port_it_cannot_listen_on(run, flag):
    result = run_cli("serve", f"--model={run}", flag)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"pix2pix-tf serve: error: {flag}")


@pytest.mark.parametrize("line", [b"GARBAGE", b"GET / HTTP/1.1 extra", b"GET / FTP/1.0"])
def test_a_malformed_request_line_is_answered_with_a_status_line_and_json(server, line):
    """The standard library takes a line it cannot parse for HTTP/0.9, which has no status line."""
    with socket.create_connection(server.server_address[:2], timeout=30) as connection:
        connection.sendall(line + b"\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: application/json" in head
    assert "\n" not in json.loads(body)["error"]
