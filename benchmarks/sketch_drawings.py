"""Freehand drawings made on the drawing page, and what sketch -> photo models make of them.

    python benchmarks/sketch_drawings.py --out=runs/sketches \
        --runs=plain:runs/edges_plain@ckpt-2000,freehand:runs/edges_freehand@ckpt-2000 \
        --grid=docs/edges_freehand_drawings.png

Serves the first model with ``pix2pix-tf serve`` (127.0.0.1), opens its page in headless Chromium
and draws each of ``DRAWINGS`` with the pen at every ``--pens`` size, as a hand would: pointer
strokes through points with a little tremor, black on white. Each drawing is saved as
``--out``/NAME_penSIZE.png (the page's input canvas). Then every model of ``--runs`` (a run folder,
optionally @ a checkpoint file name in its checkpoints/, an export, a .tflite file or a shipped
model's name) translates every drawing, and ``--grid`` shows them: one row per drawing, the
drawing then a column per model.
"""

from __future__ import annotations

import base64
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from chromium import start  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("runs", None, "NAME:MODEL[@CHECKPOINT] pairs; the first is served while drawing.")
flags.DEFINE_string("out", "runs/sketches", "Folder for the drawings (PNG, the page's input size).")
flags.DEFINE_list("pens", ["2", "7"], "Pen sizes to draw every drawing with (the page's size slider).")
flags.DEFINE_string("grid", None, "Write a PNG: each drawing, then each model's picture of it.")
flags.DEFINE_list("drawings", None, "Names of the drawings to make (default: all of DRAWINGS).")
flags.DEFINE_integer("seed", 0, "Seed of the hand's tremor.")
flags.mark_flags_as_required(["runs"])

# Strokes in a 256 x 256 drawing, each a polyline through (x, y) points: side views of shoes, a bag.
DRAWINGS = {
    "sneaker": [
        [(28, 186), (60, 190), (120, 191), (180, 190), (228, 186), (232, 170), (228, 150)],  # sole
        [(28, 186), (20, 172), (26, 158), (48, 150), (80, 138), (112, 118), (136, 92), (150, 74)],  # toe, vamp
        [(150, 74), (180, 68), (208, 70), (222, 84), (228, 120), (228, 150)],  # collar, heel
        [(24, 170), (120, 174), (230, 168)],  # midsole
        [(96, 124), (112, 140)], [(112, 110), (128, 126)], [(128, 96), (144, 112)],  # laces
    ],
    "high_heel": [
        [(24, 186), (60, 182), (100, 170), (140, 146), (176, 112), (206, 96), (226, 98), (230, 112)],  # sole
        [(24, 186), (30, 168), (56, 156), (92, 150), (120, 152)],  # toe cap
        [(120, 152), (150, 126), (190, 104), (222, 92), (230, 112)],  # side, heel cup
        [(214, 110), (210, 150), (208, 200), (218, 200), (222, 150), (228, 114)],  # heel
    ],
    "handbag": [
        [(52, 108), (204, 108), (224, 222), (32, 222), (52, 108)],  # body
        [(84, 108), (86, 72), (104, 48), (128, 42), (152, 48), (170, 72), (172, 108)],  # handle
        [(50, 140), (128, 152), (206, 140)],  # flap
        [(118, 150), (118, 166), (138, 166), (138, 150)],  # clasp
    ],
    "boot": [
        [(112, 24), (182, 24), (184, 120), (192, 196), (196, 208)],  # shaft, heel side
        [(112, 24), (110, 90), (104, 140), (76, 156), (44, 170), (30, 190), (34, 208), (196, 208)],  # front, sole
        [(36, 196), (196, 196)],  # welt
        [(150, 208), (152, 222), (196, 222), (196, 208)],  # heel block
    ],
}


def _points(stroke: list[tuple[int, int]], rng: np.random.Generator) -> np.ndarray:
    """A stroke's polyline every ~6 px, with a hand's small tremor (not on its two ends)."""
    points = [np.array(stroke[0], float)]
    for start_point, end_point in zip(stroke[:-1], stroke[1:]):
        start_point, end_point = np.array(start_point, float), np.array(end_point, float)
        steps = max(1, int(np.linalg.norm(end_point - start_point) / 6))
        points += [start_point + (end_point - start_point) * (index / steps) for index in range(1, steps + 1)]
    points = np.array(points)
    points[1:-1] += rng.normal(0, 0.8, points[1:-1].shape)
    return points


def _serve(model: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "pix2pix_tf", "serve", f"--model={model}", "--host=127.0.0.1", "--port=0"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    for line in server.stdout:
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        if found:
            return server, found.group(0) + "/"
        if time.time() > deadline:
            break
    server.kill()
    raise RuntimeError(f"pix2pix-tf serve --model={model} did not start")


def draw(model: str, out: pathlib.Path, names: list[str], pens: list[int], seed: int) -> list[pathlib.Path]:
    """Drawings ``names`` at every pen size, drawn on the page serving ``model``; the PNG files."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    server, url = _serve(model)
    files = []
    try:
        with tempfile.TemporaryDirectory() as profile:
            browser = start(profile)
            try:
                browser.get(url)
                time.sleep(3)
                canvas = browser.find_element(By.ID, "input")
                side = browser.execute_script("return arguments[0].width;", canvas)
                shown = browser.execute_script("return arguments[0].getBoundingClientRect().width;", canvas)
                scale = shown / side
                for name in names:
                    for pen in pens:
                        browser.find_element(By.ID, "clear").click()
                        browser.execute_script(
                            "const s = document.getElementById('size'); s.value = arguments[0];"
                            "s.dispatchEvent(new Event('input'));", pen)
                        for stroke in DRAWINGS[name]:
                            points = _points(stroke, rng) * side / 256 * scale - shown / 2  # from the centre
                            chain = ActionChains(browser, duration=10)
                            chain.move_to_element_with_offset(canvas, int(points[0][0]), int(points[0][1]))
                            chain.click_and_hold()
                            previous = points[0].round()
                            for point in points[1:]:
                                step = point.round() - previous
                                chain.move_by_offset(int(step[0]), int(step[1]))
                                previous = previous + step
                            chain.release().perform()
                        data = browser.execute_script("return arguments[0].toDataURL('image/png');", canvas)
                        path = out / f"{name}_pen{pen}.png"
                        path.write_bytes(base64.b64decode(data.split(",", 1)[1]))
                        files.append(path)
                        print(f"drew {path}")
            finally:
                browser.quit()
    finally:
        server.terminate()
        server.wait(60)
    return files


def grid(path: str, files: list[pathlib.Path], runs: dict[str, str]) -> None:
    """One row per drawing: the drawing, then each model's picture of it."""
    from PIL import Image

    from model_spec import load_model
    from pix2pix_tf.evaluation import plots

    translators = {name: load_model(spec) for name, spec in runs.items()}
    drawings = [np.asarray(Image.open(file).convert("RGB")) for file in files]
    columns = [("drawing", drawings)]
    columns += [(name, [translator.translate(drawing) for drawing in drawings])
                for name, translator in translators.items()]
    plots.save_image_grid(path, columns, row_labels=[file.stem for file in files])
    print(f"grid: {path}")


def main(argv: list[str]) -> None:
    del argv
    runs = dict(run.split(":", 1) for run in FLAGS.runs)
    served = next(iter(runs.values())).partition("@")[0]
    names = FLAGS.drawings or list(DRAWINGS)
    unknown = sorted(set(names) - set(DRAWINGS))
    if unknown:
        raise app.UsageError(f"--drawings: no drawing named {', '.join(unknown)}; there are {', '.join(DRAWINGS)}")
    files = draw(served, pathlib.Path(FLAGS.out), names, [int(pen) for pen in FLAGS.pens], FLAGS.seed)
    if FLAGS.grid:
        grid(FLAGS.grid, files, runs)


if __name__ == "__main__":
    app.run(main)
