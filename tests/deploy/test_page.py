"""The drawing page in a real browser: Debian's Chromium driven by Selenium through chromedriver
(never a browser download), against `serve` and against a plain static server on 127.0.0.1."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO, sketch, tiny_config, write_pairs

from pix2pix_tf.deploy import export as exporter
from pix2pix_tf.deploy import pretrained, serve, tflite, web
from pix2pix_tf.deploy.service import ModelService, shipped_services
from pix2pix_tf.deploy.translator import Translator
from pix2pix_tf.models.generators import build_generator
from pix2pix_tf.models.inference import inference_generator
from pix2pix_tf.training.train import train_and_evaluate

sys.path.insert(0, str(REPO / "benchmarks"))  # chromium.py: the Chromium the page benchmark drives too
import chromium  # noqa: E402

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not chromium.available():
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install -y chromium "
                "chromium-driver); the page's browser tests need them", allow_module_level=True)

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> pathlib.Path:
    """A 32 px label-map run in the built-in data's palette (``run``: the server computes) and its
    web export (``site``: model_float16.tflite, an example input and the page)."""
    root = tmp_path_factory.mktemp("page")
    write_pairs(root / "data", "train", 4)
    write_pairs(root / "data", "val", 2)
    config = tiny_config(root / "data", steps=2, val_every=0)
    config = config.replace(data=dict(palette="synthetic"))
    train_and_evaluate(config, root / "run")
    exporter.export_run(root / "run", root / "site", ["web"], verify_images=2)
    return root


@contextlib.contextmanager
def serving(model: pathlib.Path | list[ModelService]):
    """``serve`` of ``model`` (a path, or the services of several models) on 127.0.0.1, stopped on
    leaving (if the test has not stopped it)."""
    services = model if isinstance(model, list) else ModelService(Translator.load(model))
    server = serve.ModelServer(services, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server) -> str:
    return "http://%s:%d/" % server.server_address[:2]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium.start(tmp_path_factory.mktemp("chromium-profile"), script_timeout=30)
    yield driver
    driver.quit()


def _pictures(browser) -> int:
    return int(browser.find_element(By.ID, "output").get_attribute("data-pictures") or 0)


def _open(browser, url: str) -> str:
    """Opens the page and waits until it has chosen where pictures are computed and shows the
    picture of its first input; returns where ("browser" or "server")."""
    browser.get(url)
    output = (By.ID, "output")
    WebDriverWait(browser, 60).until(lambda driver: driver.find_element(By.ID, "error").text or (
        driver.find_element(*output).get_attribute("data-engine") and _pictures(driver) > 0
        and driver.find_element(*output).get_attribute("aria-busy") == "false"))
    assert browser.find_element(By.ID, "error").text == ""
    return browser.find_element(*output).get_attribute("data-engine")


def _png_of(browser, canvas_id: str) -> np.ndarray:
    data_url = browser.execute_script(f"return document.getElementById('{canvas_id}').toDataURL('image/png');")
    return tf.io.decode_png(base64.b64decode(data_url.split(",", 1)[1])).numpy()[..., :3]


# Watches the output canvas as a person would: from the end of the next stroke (pointerup), the
# time of the last animation frame at which the canvas holds a new picture.
WATCH = """
const output = document.getElementById('output');
const context = output.getContext('2d');
const picture = () => context.getImageData(0, 0, output.width, output.height).data.join();
const watch = window.strokeWatch = {up: null, seen: null, last: picture()};
window.addEventListener('pointerup', (event) => { watch.up = event.timeStamp; }, {capture: true, once: true});
const poll = () => {
  const now = picture();
  if (watch.up !== null && now !== watch.last) { watch.seen = performance.now(); watch.last = now; }
  requestAnimationFrame(poll);
};
requestAnimationFrame(poll);
"""


def _stroke(browser, dx: int = 0, tool: str = "rectangle") -> tuple[float, float]:
    """Draws a stroke with ``tool`` on the input (a rectangle appears when the stroke ends, so the
    picture after the stroke is new) and waits for its picture; returns (the latency the page shows,
    the time from the end of the stroke to the new picture on the output canvas), in ms."""
    before = _pictures(browser)
    Select(browser.find_element(By.ID, "tool")).select_by_value(tool)
    browser.execute_script(WATCH)
    canvas = browser.find_element(By.ID, "input")
    ActionChains(browser).move_to_element_with_offset(canvas, -120 + dx, -100).click_and_hold() \
        .move_by_offset(200, 30).move_by_offset(20, 150).release().perform()
    WebDriverWait(browser, 60).until(lambda driver: _pictures(driver) > before and driver.find_element(
        By.ID, "output").get_attribute("aria-busy") == "false")
    watch = browser.execute_script("return window.strokeWatch;")
    assert watch["seen"] is not None, "the output never changed after the stroke"
    return float(browser.find_element(By.ID, "output").get_attribute("data-latency-ms")), watch["seen"] - watch["up"]


def _assert_shows_the_translation(browser, translator: Translator) -> None:
    """The output canvas holds the translation of the input canvas (a gray output in all three channels)."""
    shown, expected = _png_of(browser, "output"), translator.translate(_png_of(browser, "input"))
    assert shown.shape[:2] == expected.shape[:2]
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1


def test_the_server_computes_for_a_model_without_tflite_and_the_page_shows_its_translation(models, browser, tmp_path):
    with serving(models / "run") as server:
        assert _open(browser, _url(server)) == "server"
        assert "Computed on the server, since run has no .tflite file" in browser.find_element(By.ID, "where").text
        assert browser.find_element(By.ID, "model").text == "label map → façade photo · 32 px, 8 classes"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#swatches button")) == 8  # the synthetic palette
        assert not browser.find_element(By.ID, "picker").is_displayed()  # class colours only
        assert not browser.find_element(By.ID, "models-choice").is_displayed()  # one model: nothing to choose
        assert "your own model" not in browser.find_element(By.TAG_NAME, "footer").text

        browser.find_elements(By.CSS_SELECTOR, "#swatches button")[5].click()  # balcony green
        shown_ms, seen_ms = _stroke(browser)
        assert (np.all(_png_of(browser, "input") == (0, 255, 0), axis=-1)).sum() > 20  # in class colour
        _assert_shows_the_translation(browser, server.service.translator)
        assert shown_ms >= seen_ms - 1  # never less than a person waits
        assert browser.find_element(By.ID, "latency").text.endswith(" ms")

        upload = tmp_path / "upload.png"
        picture = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
        upload.write_bytes(tf.io.encode_png(picture).numpy())
        before = _pictures(browser)
        browser.find_element(By.ID, "upload").send_keys(str(upload))
        WebDriverWait(browser, 60).until(lambda driver: _pictures(driver) > before)
        np.testing.assert_array_equal(_png_of(browser, "input"), picture)
        screenshot = pathlib.Path(os.environ.get("PIX2PIX_TF_SCREENSHOT", tmp_path / "page.png"))
        browser.save_screenshot(str(tmp_path / "page.png"))
        if screenshot != tmp_path / "page.png":
            shutil.copy(tmp_path / "page.png", screenshot)
        assert browser.find_element(By.ID, "error").text == ""


def test_the_browser_computes_what_the_servers_tflite_computes_and_goes_on_with_the_server_stopped(
        models, browser, monkeypatch):
    monkeypatch.setattr(web, "PACKAGE_FOLDER", models)  # the site's model counts as one shipped in the package
    tflite = Translator.load(models / "site" / "model_float16.tflite")
    with serving(models / "site") as server:
        assert _open(browser, _url(server)) == "browser"
        footer = browser.find_element(By.TAG_NAME, "footer").text
        assert "Computed in your browser: LiteRT.js runs model_float16.tflite" in footer
        assert "the model shipped with pix2pix_tf (site)" in footer and "your own" not in footer
        shown_ms, seen_ms = _stroke(browser)
        _assert_shows_the_translation(browser, tflite)
        assert shown_ms >= seen_ms - 1

        server.shutdown()
        server.server_close()
    first = _png_of(browser, "output")
    _stroke(browser, dx=60)
    _assert_shows_the_translation(browser, tflite)
    assert not np.array_equal(_png_of(browser, "output"), first)
    assert browser.find_element(By.ID, "error").text == ""


def _choose_in_place(browser, choice: Select, name: str) -> None:
    """Chooses model ``name`` in the page's list and waits for its first picture; the page must not reload."""
    before = _pictures(browser)
    browser.execute_script("window.notReloaded = true;")
    choice.select_by_value(name)
    WebDriverWait(browser, 60).until(lambda driver: driver.find_element(By.ID, "output").get_attribute(
        "data-model") == name and driver.find_element(By.ID, "output").get_attribute("data-engine"))
    _wait_for_picture(browser, before)
    assert browser.execute_script("return window.notReloaded;")  # switched in place


@contextlib.contextmanager
def static_server(folder: pathlib.Path):
    """Python's ``http.server`` serving ``folder`` on 127.0.0.1, as any static host would: yields its URL."""
    process = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(process.stdout.readline().split(" port ")[1].split()[0])  # "Serving HTTP on ... port N (...)"
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_exported_site_works_from_a_plain_static_server(models, browser):
    site = models / "site"
    assert json.loads((site / web.PAGE_CONFIG).read_text())["predict"] is None  # nothing but files
    with static_server(site) as url:
        assert _open(browser, url) == "browser"
        assert not browser.find_element(By.ID, "models-choice").is_displayed()  # one model: nothing to choose
        example = tf.io.decode_png((site / "example.png").read_bytes()).numpy()
        np.testing.assert_array_equal(_png_of(browser, "input"), example)  # the page opens on the example
        _assert_shows_the_translation(browser, Translator.load(site / "model_float16.tflite"))
        _stroke(browser)
        _assert_shows_the_translation(browser, Translator.load(site / "model_float16.tflite"))


def test_a_static_site_of_two_models_offers_both_and_switches_with_no_server(shipped_models, browser, tmp_path):
    exporter.export_site([shipped_models / "toy_labels2photo", shipped_models / "toy_sketch2photo"], tmp_path / "site")
    with static_server(tmp_path / "site") as url:
        assert _open(browser, url) == "browser"
        choice = Select(browser.find_element(By.ID, "models"))
        assert [option.text for option in choice.options] == ["Toy façades", "Toy shoes"]
        assert len(browser.find_elements(By.CSS_SELECTOR, "#swatches button")) == 12

        _choose_in_place(browser, choice, "toy_sketch2photo")
        assert browser.find_element(By.ID, "model").text == "sketch → toy photo · 32 px"
        assert _tools(browser) == ["pen", "eraser"]
        np.testing.assert_array_equal(_png_of(browser, "input"), sketch())
        _assert_shows_the_translation(browser, Translator.load(shipped_models / "toy_sketch2photo"))

        browser.refresh()  # ?model=NAME on a host that ignores the query: the page finds the model's page.json
        assert _open(browser, browser.current_url) == "browser"
        assert Select(browser.find_element(By.ID, "models")).first_selected_option.text == "Toy shoes"
        _assert_shows_the_translation(browser, Translator.load(shipped_models / "toy_sketch2photo"))
        browser.get(url + "?model=toy_shoes")  # a stale link: the first model, with its list, and a word
        WebDriverWait(browser, 60).until(lambda driver: driver.find_element(By.ID, "error").text and driver.find_element(
            By.ID, "output").get_attribute("data-model") == "toy_labels2photo")
        assert "no model 'toy_shoes': this site has 'toy_labels2photo', 'toy_sketch2photo'" in \
            browser.find_element(By.ID, "error").text
        assert browser.find_element(By.ID, "models-choice").is_displayed()


def test_the_server_computes_when_the_browser_has_no_webassembly_or_the_model_is_too_large(
        models, browser, monkeypatch):
    with serving(models / "site") as server:
        hidden = browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                         {"source": "delete globalThis.WebAssembly;"})
        try:
            assert _open(browser, _url(server)) == "server"
        finally:
            browser.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", hidden)
        assert "could not run model_float16.tflite (it has no WebAssembly)" in \
            browser.find_element(By.ID, "where").text
        _stroke(browser)
        _assert_shows_the_translation(browser, server.service.translator)

    monkeypatch.setattr(web, "MAX_BROWSER_MODEL_BYTES", 1000)
    with serving(models / "site") as server:
        assert _open(browser, _url(server)) == "server"
        assert "MiB sent to browsers" in browser.find_element(By.ID, "where").text


def test_a_gray_model_computed_in_the_browser_matches_the_server(tmp_path, browser):
    """Gray in, gray out: the page converts the canvas to luminance as the server does."""
    config = tiny_config()
    config = config.replace(model=dict(input_channels=1, output_channels=1))
    generator = build_generator(config.model, 32)
    (tmp_path / "model_float16.tflite").write_bytes(
        tflite.convert(inference_generator(generator, "eval"), 32, "float16"))
    config.save(tmp_path / "config.json")
    with serving(tmp_path / "model_float16.tflite") as server:
        assert _open(browser, _url(server)) == "browser"
        upload = tmp_path / "photo.png"
        upload.write_bytes(tf.io.encode_png(np.random.default_rng(5).integers(0, 256, (32, 32, 3), np.uint8)).numpy())
        before = _pictures(browser)
        browser.find_element(By.ID, "upload").send_keys(str(upload))
        WebDriverWait(browser, 60).until(lambda driver: _pictures(driver) > before)
        _assert_shows_the_translation(browser, server.service.translator)


def test_a_model_without_palette_offers_a_colour_picker_and_the_size_shows_its_number(models, browser, tmp_path):
    shutil.copytree(models / "site", tmp_path / "sketches")
    config = json.loads((tmp_path / "sketches" / "config.json").read_text())
    config["data"]["palette"] = "none"
    (tmp_path / "sketches" / "config.json").write_text(json.dumps(config))
    with serving(tmp_path / "sketches") as server:
        _open(browser, _url(server))
        assert browser.find_element(By.ID, "model").text == "A images → B images · 32 px"
        assert not browser.find_elements(By.CSS_SELECTOR, "#swatches button")
        assert browser.find_element(By.ID, "picker").is_displayed()
        browser.execute_script("const picker = document.getElementById('colour'); picker.value = '#12a4f0';"
                               "picker.dispatchEvent(new Event('input'));")
        browser.execute_script("const size = document.getElementById('size'); size.value = '9';"
                               "size.dispatchEvent(new Event('input'));")
        assert browser.find_element(By.ID, "size-value").text == "9"
        _stroke(browser)
        assert (np.all(_png_of(browser, "input") == (0x12, 0xA4, 0xF0), axis=-1)).sum() > 20



def _tools(browser) -> list[str]:
    return [option.get_attribute("value") for option in Select(browser.find_element(By.ID, "tool")).options]


def _wait_for_picture(browser, before: int) -> None:
    WebDriverWait(browser, 60).until(lambda driver: _pictures(driver) > before and driver.find_element(
        By.ID, "output").get_attribute("aria-busy") == "false")


@pytest.fixture
def shipped(shipped_models, monkeypatch):
    """``serve`` without --model on two stand-ins for the shipped models, the label-map one the default."""
    monkeypatch.setattr(pretrained, "FOLDER", shipped_models)
    monkeypatch.setattr(pretrained, "DEFAULT", "toy_labels2photo")
    with serving(shipped_services()) as server:
        yield server


def test_the_page_offers_the_shipped_models_and_choosing_one_brings_its_tools_example_and_model(
        shipped, shipped_models, browser):
    assert _open(browser, _url(shipped)) == "browser"
    choice = Select(browser.find_element(By.ID, "models"))
    assert browser.find_element(By.ID, "models-choice").is_displayed()
    assert [option.text for option in choice.options] == ["Toy façades", "Toy shoes"]
    assert choice.first_selected_option.get_attribute("value") == "toy_labels2photo"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#swatches button")) == 12
    assert _tools(browser) == ["brush", "rectangle", "eraser"]
    labels = tf.io.decode_png((shipped_models / "toy_labels2photo" / "example_1.png").read_bytes()).numpy()
    np.testing.assert_array_equal(_png_of(browser, "input"), labels)

    _choose_in_place(browser, choice, "toy_sketch2photo")
    assert browser.find_element(By.ID, "output").get_attribute("data-engine") == "browser"  # LiteRT.js loaded once
    assert browser.current_url.endswith("/?model=toy_sketch2photo")
    assert browser.find_element(By.ID, "model").text == "sketch → toy photo · 32 px"
    assert _tools(browser) == ["pen", "eraser"] and not browser.find_elements(By.CSS_SELECTOR, "#swatches button")
    assert not browser.find_element(By.ID, "picker").is_displayed()
    np.testing.assert_array_equal(_png_of(browser, "input"), sketch())
    _assert_shows_the_translation(browser, Translator.load(shipped_models / "toy_sketch2photo"))

    browser.refresh()  # the URL keeps the choice
    _open(browser, browser.current_url)
    assert Select(browser.find_element(By.ID, "models")).first_selected_option.text == "Toy shoes"
    browser.get(_url(shipped) + "?model=toy_shoes")
    WebDriverWait(browser, 60).until(lambda driver: driver.find_element(By.ID, "error").text)
    assert "no model 'toy_shoes': this server serves 'toy_labels2photo', 'toy_sketch2photo'" in \
        browser.find_element(By.ID, "error").text


def test_a_sketch_model_gets_a_black_pen_an_eraser_undo_and_clear_on_white(shipped, shipped_models, browser):
    assert _open(browser, _url(shipped) + "?model=toy_sketch2photo") == "browser"
    translator = Translator.load(shipped_models / "toy_sketch2photo")
    first = _png_of(browser, "output")
    assert browser.find_element(By.ID, "size-value").text == "3"

    _stroke(browser, tool="pen")
    drawn = _png_of(browser, "input")
    assert set(np.unique(drawn)) == {0, 255}  # black on white, never grey
    assert (drawn == 0).all(axis=-1).sum() > (sketch() == 0).all(axis=-1).sum() + 20
    _assert_shows_the_translation(browser, translator)
    assert not np.array_equal(_png_of(browser, "output"), first)

    before = _pictures(browser)
    browser.find_element(By.ID, "undo").click()
    _wait_for_picture(browser, before)
    np.testing.assert_array_equal(_png_of(browser, "input"), sketch())
    np.testing.assert_array_equal(_png_of(browser, "output"), first)

    _stroke(browser, dx=40, tool="eraser")
    assert (_png_of(browser, "input") == 0).all(axis=-1).sum() < (sketch() == 0).all(axis=-1).sum()
    before = _pictures(browser)
    browser.find_element(By.ID, "clear").click()
    _wait_for_picture(browser, before)
    assert (_png_of(browser, "input") == 255).all()
    _assert_shows_the_translation(browser, translator)
