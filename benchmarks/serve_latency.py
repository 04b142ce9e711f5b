"""Latency and throughput of `pix2pix-tf serve` at 256 px: the SavedModel and the fp16 / int8 TFLite files.

    python benchmarks/serve_latency.py --requests=10 --seconds=10
    python benchmarks/serve_latency.py --generators=unet,unet_mobile   # the paper U-Net and the student

Builds each generator (default the paper's U-Net; random weights: timing does not depend on them), writes it as a
SavedModel and as float16 and int8 TFLite files (int8 calibrated on noise: fine for timing, not
for quality), serves each on 127.0.0.1, and measures with a 256 x 256 PNG: the median time of
one request at a time (``--requests``), then requests per second with 4 clients for
``--seconds``. Ends with one JSON line.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from pix2pix_tf.config import get_preset  # noqa: E402
from pix2pix_tf.deploy import serve, tflite  # noqa: E402
from pix2pix_tf.deploy.saved_model import export_saved_model  # noqa: E402
from pix2pix_tf.deploy.service import ModelService  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402
from pix2pix_tf.models.inference import inference_generator  # noqa: E402
from pix2pix_tf.speed import generator_models  # noqa: E402

REQUESTS = flags.DEFINE_integer("requests", 10, "Timed requests one at a time, after 2 warm-up requests.")
SECONDS = flags.DEFINE_integer("seconds", 10, "Seconds of 4 concurrent clients.")
GENERATORS = flags.DEFINE_list("generators", ["unet"], "Generators to serve (names as benchmark --generators).")


def write_models(folder: pathlib.Path, model_config) -> dict[str, pathlib.Path]:
    """A 256 px generator as a SavedModel and as fp16 and int8 TFLite files (each beside a config.json)."""
    config = get_preset("paper").replace(model=model_config)
    generator = build_generator(config.model, 256)
    models = {"saved_model": export_saved_model(generator, config, folder / "saved_model")}
    inference = inference_generator(generator, config.train.eval_mode)
    noise = np.random.default_rng(0).uniform(-1, 1, (8, 256, 256, 3)).astype(np.float32)
    for precision in ("float16", "int8"):
        path = folder / precision / f"model_{precision}.tflite"
        path.parent.mkdir(parents=True)
        path.write_bytes(tflite.convert(inference, 256, precision, noise))
        config.save(path.parent / "config.json")
        models[f"tflite_{precision}"] = path
    return models


def measure(model: pathlib.Path, body: bytes) -> dict[str, float]:
    """Median single-request latency (ms) and requests per second with 4 clients, on 127.0.0.1."""
    server = serve.ModelServer(ModelService(Translator.load(model)), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://%s:%d/translate" % server.server_address[:2]

    def post() -> float:
        started = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=120) as answer:
            answer.read()
        return time.perf_counter() - started

    try:
        for _ in range(2):
            post()
        latencies = sorted(post() for _ in range(REQUESTS.value))
        deadline = time.monotonic() + SECONDS.value

        def client(_) -> int:
            done = 0
            while time.monotonic() < deadline:
                post()
                done += 1
            return done

        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            answered = sum(pool.map(client, range(4)))
        return {"median_ms": round(1000 * latencies[len(latencies) // 2], 1),
                "requests_per_s_4_clients": round(answered / (time.monotonic() - started), 2)}
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str]) -> None:
    del argv
    body = tf.io.encode_png(np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)).numpy()
    with tempfile.TemporaryDirectory() as folder:
        results = {}
        for generator, model_config in generator_models(get_preset("paper"), GENERATORS.value).items():
            root = pathlib.Path(folder) / generator.replace(":", "_")
            for kind, path in write_models(root, model_config).items():
                name = kind if GENERATORS.value == ["unet"] else f"{generator}/{kind}"
                results[name] = measure(path, body)
                print(f"{name:>26}: {results[name]['median_ms']:7.1f} ms a request, "
                      f"{results[name]['requests_per_s_4_clients']:5.2f} requests/s with 4 clients", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    app.run(main)
