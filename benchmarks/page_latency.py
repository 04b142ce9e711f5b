"""The drawing page in Chromium: from the end of a stroke to the new picture on the screen, and parity.

    python benchmarks/page_latency.py                                   # unet_mobile and unet, 256 px fp16
    python benchmarks/page_latency.py --models=saved_models/facades_label2photo --engines=browser,server

Each model is a folder holding model_float16.tflite and config.json (``--models``), or, by default,
built here at 256 px with random weights (timing does not depend on them): the real-time student
(``unet_mobile``, as ``pix2pix-tf distill`` makes it) and the paper's U-Net, converted to float16
TFLite. Each is served by ``serve`` on 127.0.0.1 and its page opened in Debian's Chromium
(headless, no GPU: LiteRT.js runs on WebAssembly, one thread); ``--engines=server`` also times the
page with the server computing (WebAssembly hidden from the page).

A stroke is drawn as a person draws, through Chromium's input pipeline: the button pressed, moves
16 ms apart, then the last move and the release. From the release, every animation frame reads the
output canvas; the stroke's time is the frame at which its last new picture is there. Printed per
model and engine: the median over ``--strokes`` strokes in each of ``--rounds`` rounds (models and
engines alternate each round), the figure the page itself shows, the time from opening the page to
its first picture (the server draws while LiteRT.js loads) and to its first picture computed where
it then computes, and the largest difference between the picture on the page and the server's
translation of the same input (levels of 0..255). Ends with one JSON line.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import platform
import subprocess
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from chromium import CHROMIUM, start  # noqa: E402  (benchmarks/chromium.py)

from pix2pix_tf import hardware  # noqa: E402
from pix2pix_tf.config import get_preset  # noqa: E402
from pix2pix_tf.deploy import serve, tflite, web  # noqa: E402
from pix2pix_tf.deploy.service import ModelService  # noqa: E402
from pix2pix_tf.deploy.translator import Translator  # noqa: E402
from pix2pix_tf.models.generators import build_generator  # noqa: E402
from pix2pix_tf.models.inference import inference_generator  # noqa: E402
from pix2pix_tf.speed import generator_models  # noqa: E402

MODELS = flags.DEFINE_list("models", ["unet_mobile", "unet"], "Model folders (model_float16.tflite + config.json), "
                           "or generator names to build at --image_size with random weights.")
IMAGE_SIZE = flags.DEFINE_integer("image_size", 256, "Side of the models built here.")
ENGINES = flags.DEFINE_list("engines", ["browser"], "browser (LiteRT.js in the page) and/or server (:predict).")
STROKES = flags.DEFINE_integer("strokes", 10, "Timed strokes per model, engine and round.")
ROUNDS = flags.DEFINE_integer("rounds", 2, "Rounds; models and engines alternate within each.")

# Before each stroke: records the release's time and, at every animation frame after it, the time
# at which the output canvas last changed.
WATCH = """
const output = document.getElementById('output');
const context = output.getContext('2d');
const picture = () => { const data = context.getImageData(0, 0, output.width, output.height).data;
  let hash = 0; for (let i = 0; i < data.length; i += 1) hash = (hash * 31 + data[i]) | 0; return hash; };
const watch = window.strokeWatch = {up: null, seen: null, last: picture()};
window.addEventListener('pointerup', (event) => { watch.up = event.timeStamp; }, {capture: true, once: true});
const poll = () => {
  const now = picture();
  if (watch.up !== null && now !== watch.last) { watch.seen = performance.now(); watch.last = now; }
  requestAnimationFrame(poll);
};
requestAnimationFrame(poll);
const box = document.getElementById('input').getBoundingClientRect();
return [box.left, box.top, box.width];
"""


def build_model(folder: pathlib.Path, name: str, size: int) -> pathlib.Path:
    """``name`` (a generator of ``speed.generator_models``) at ``size`` px with random weights, as
    folder/model_float16.tflite beside its config.json."""
    config = get_preset("paper")
    config = config.replace(model=generator_models(config, [name])[name],
                            data=config.data.__class__(image_size=size, palette="facades"))
    generator = build_generator(config.model, size)
    folder.mkdir(parents=True)
    flatbuffer = tflite.convert(inference_generator(generator, config.train.eval_mode), size, "float16")
    (folder / "model_float16.tflite").write_bytes(flatbuffer)
    config.save(folder / "config.json")
    return folder


def mouse(driver, kind: str, x: float, y: float) -> None:
    driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                                        "buttons": 0 if kind == "mouseReleased" else 1,
                                                        "clickCount": 1})


def stroke(driver, index: int) -> tuple[float, float]:
    """One brush stroke across the input; (ms from its release to its last new picture on the
    canvas, ms the page shows)."""
    left, top, width = driver.execute_script(WATCH)
    rng = np.random.default_rng(index)
    points = np.array([left, top]) + width * rng.uniform(0.1, 0.9, (10, 2))
    pictures = driver.execute_script("return Number(document.getElementById('output').dataset.pictures);")
    mouse(driver, "mousePressed", *points[0])
    for point in points[1:-1]:
        mouse(driver, "mouseMoved", *point)
        time.sleep(0.016)
    mouse(driver, "mouseMoved", *points[-1])
    mouse(driver, "mouseReleased", *points[-1])
    WebDriverWait(driver, 600, poll_frequency=0.05).until(lambda d: d.execute_script(
        "const o = document.getElementById('output'); return Number(o.dataset.pictures) > arguments[0] && "
        "o.getAttribute('aria-busy') === 'false';", pictures))
    time.sleep(0.1)  # a frame or more for the watcher to see the last picture
    watch = driver.execute_script("return window.strokeWatch;")
    shown = float(driver.execute_script("return document.getElementById('output').dataset.latencyMs;"))
    return watch["seen"] - watch["up"], shown


def canvas_pixels(driver, canvas_id: str) -> np.ndarray:
    url = driver.execute_script(f"return document.getElementById('{canvas_id}').toDataURL('image/png');")
    return tf.io.decode_png(base64.b64decode(url.split(",", 1)[1])).numpy()[..., :3]


def measure(driver, server, engine: str, first_stroke: int) -> dict:
    """Opens the page of ``server`` with ``engine`` computing, draws --strokes strokes."""
    hidden = None
    if engine == "server":
        hidden = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                        {"source": "delete globalThis.WebAssembly;"})
    started = time.perf_counter()
    driver.get("http://%s:%d/" % server.server_address[:2])
    WebDriverWait(driver, 600, poll_frequency=0.05).until(lambda d: d.execute_script(
        "const o = document.getElementById('output'); return document.getElementById('error').textContent || "
        "(o.dataset.engine && Number(o.dataset.pictures) > 0 && o.getAttribute('aria-busy') === 'false');"))
    ready = time.perf_counter() - started
    first_picture = float(driver.execute_script("return document.getElementById('output').dataset.firstPictureMs;"))
    if hidden is not None:
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", hidden)
    where = driver.execute_script("return document.getElementById('output').dataset.engine;")
    if where != engine:
        raise RuntimeError(f"the page computes on the {where}, not the {engine}: "
                           + driver.execute_script("return document.body.innerText;"))
    times = [stroke(driver, first_stroke + index) for index in range(STROKES.value)]
    translation = server.service.translator.translate(canvas_pixels(driver, "input"))
    difference = np.abs(canvas_pixels(driver, "output").astype(int) - translation.astype(int)).max()
    return {"seen_ms": [seen for seen, _ in times], "shown_ms": [shown for _, shown in times],
            "first_picture_s": first_picture / 1000, "ready_s": ready, "max_level_difference": int(difference)}


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)  # not a line per request served
    web.MAX_BROWSER_MODEL_BYTES = 2**31  # the page runs every model in the browser, the U-Net's 109 MB file too
    load_before = os.getloadavg()[0]  # other work on the machine slows every figure: reported with them
    with tempfile.TemporaryDirectory() as scratch:
        folders = {}
        for name in MODELS.value:
            path = pathlib.Path(name)
            folders[name] = path if path.exists() else build_model(pathlib.Path(scratch) / name, name,
                                                                   IMAGE_SIZE.value)
        servers = {name: serve.ModelServer(ModelService(Translator.load(folder)), "127.0.0.1", 0)
                   for name, folder in folders.items()}
        for server in servers.values():
            threading.Thread(target=server.serve_forever, daemon=True).start()
        driver = start(os.path.join(scratch, "profile"))
        runs: dict[str, list[dict]] = {}
        try:
            for round_index in range(ROUNDS.value):
                for name, server in servers.items():
                    for engine in ENGINES.value:
                        run = measure(driver, server, engine, 1000 * round_index)
                        runs.setdefault(f"{name}/{engine}", []).append(run)
                        print(f"round {round_index + 1} {name:>12}/{engine}: median {np.median(run['seen_ms']):6.1f} ms "
                              f"(page shows {np.median(run['shown_ms']):6.1f}), first picture "
                              f"{run['first_picture_s']:.1f} s, computing on the {engine} {run['ready_s']:.1f} s "
                              "after opening the page", flush=True)
        finally:
            driver.quit()
            for server in servers.values():
                server.shutdown()
                server.server_close()
        results = {}
        for key, measured in runs.items():
            name = key.rsplit("/", 1)[0]
            seen = [value for run in measured for value in run["seen_ms"]]
            shown = [value for run in measured for value in run["shown_ms"]]
            results[key] = {
                "stroke_to_picture_median_ms": round(float(np.median(seen)), 1),
                "stroke_to_picture_p90_ms": round(float(np.percentile(seen, 90)), 1),
                "stroke_to_picture_min_ms": round(float(np.min(seen)), 1),  # the least disturbed by other work
                "page_shows_median_ms": round(float(np.median(shown)), 1), "strokes": len(seen),
                "first_picture_s": round(float(np.median([run["first_picture_s"] for run in measured])), 2),
                "ready_s": round(float(np.median([run["ready_s"] for run in measured])), 2),
                "max_level_difference": max(run["max_level_difference"] for run in measured),
                "model_bytes": (folders[name] / "model_float16.tflite").stat().st_size,
            }
            print(f"{key:>22}: stroke -> picture median {results[key]['stroke_to_picture_median_ms']} ms "
                  f"(min {results[key]['stroke_to_picture_min_ms']}, p90 {results[key]['stroke_to_picture_p90_ms']}, page shows "
                  f"{results[key]['page_shows_median_ms']}) over {len(seen)} strokes; first picture "
                  f"{results[key]['first_picture_s']} s, its own {results[key]['ready_s']} s; "
                  f"max |page - server| {results[key]['max_level_difference']} levels")
    chromium_version = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    machine = {"cpu": hardware.cpu_info().get("model"), "cores": os.cpu_count(), "chromium": chromium_version,
               "litert_js": (web.LITERT_FOLDER / "VERSION").read_text().strip(), "runtime_bytes": web.runtime_bytes(),
               "python": platform.python_version(),
               "load_average_1min": {"start": round(load_before, 2), "end": round(os.getloadavg()[0], 2)}}
    print(json.dumps({"machine": machine, "results": results}))


if __name__ == "__main__":
    app.run(main)
