"""The drawing page in a real browser: Debian's Chromium driven by Selenium through chromedriver
(never a browser download), against `serve` on 127.0.0.1."""

from __future__ import annotations

import base64
import os
import pathlib
import shutil
import threading

import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_config, write_pairs

from pix2pix_tf.deploy import serve
from pix2pix_tf.deploy.translator import Translator
from pix2pix_tf.training.train import train_and_evaluate

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install -y chromium "
                "chromium-driver); the page's browser tests need them", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``serve`` on 127.0.0.1 with a 32 px label-map model in the built-in data's palette."""
    root = tmp_path_factory.mktemp("page")
    write_pairs(root / "data", "train", 4)
    write_pairs(root / "data", "val", 2)
    config = tiny_config(root / "data", steps=2, val_every=0)
    config = config.replace(data=dict(palette="synthetic"))
    train_and_evaluate(config, root / "run")
    model_server = serve.ModelServer(serve.ModelService(Translator.load(root / "run")), "127.0.0.1", 0)
    threading.Thread(target=model_server.serve_forever, daemon=True).start()
    yield model_server
    model_server.shutdown()
    model_server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1100,800"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


def _requests_done(browser) -> int:
    return int(browser.find_element(By.ID, "output").get_attribute("data-requests") or 0)


def _wait_for_output_after(browser, count: int) -> None:
    WebDriverWait(browser, 60).until(lambda driver: _requests_done(driver) > count)


def _png_of(browser, script: str) -> np.ndarray:
    data_url = browser.execute_async_script(script)
    return tf.io.decode_png(base64.b64decode(data_url.split(",", 1)[1])).numpy()


CANVAS_PNG = "arguments[0](document.getElementById('input').toDataURL('image/png'));"
OUTPUT_PNG = """
const done = arguments[0];
fetch(document.getElementById('output').src).then((r) => r.blob()).then((blob) => {
  const reader = new FileReader(); reader.onload = () => done(reader.result); reader.readAsDataURL(blob); });
"""


def _servers_translation(server, canvas: np.ndarray) -> np.ndarray:
    return server.service.translator.translate(canvas[..., :3])


def test_drawing_on_the_page_shows_the_servers_translation_of_the_canvas(server, browser, tmp_path):
    host, port = server.server_address[:2]
    browser.get(f"http://{host}:{port}/")
    _wait_for_output_after(browser, 0)  # the page opens on an example input, already translated
    assert len(browser.find_elements(By.CSS_SELECTOR, "#swatches button")) == 8  # the synthetic palette
    assert "32 px" in browser.find_element(By.ID, "model").text

    browser.find_elements(By.CSS_SELECTOR, "#swatches button")[5].click()  # balcony green
    canvas = browser.find_element(By.ID, "input")
    before = _requests_done(browser)
    ActionChains(browser).move_to_element_with_offset(canvas, -120, -100).click_and_hold() \
        .move_by_offset(200, 30).move_by_offset(20, 150).release().perform()
    _wait_for_output_after(browser, before)
    WebDriverWait(browser, 30).until(lambda driver: driver.execute_script(
        "return !document.hidden") and _requests_done(driver) > before)
    drawn = _png_of(browser, CANVAS_PNG)
    assert (np.all(drawn[..., :3] == (0, 255, 0), axis=-1)).sum() > 20  # the stroke is on the canvas, in class colour
    shown = _png_of(browser, OUTPUT_PNG)
    expected = _servers_translation(server, drawn)
    assert shown.shape == expected.shape == (32, 32, 3)
    assert np.abs(shown.astype(int) - expected.astype(int)).max() <= 1
    assert browser.find_element(By.ID, "latency").text.endswith(" ms")

    upload = tmp_path / "upload.png"
    picture = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    upload.write_bytes(tf.io.encode_png(picture).numpy())
    before = _requests_done(browser)
    browser.find_element(By.ID, "upload").send_keys(str(upload))
    _wait_for_output_after(browser, before)
    np.testing.assert_array_equal(_png_of(browser, CANVAS_PNG)[..., :3], picture)
    screenshot = pathlib.Path(os.environ.get("PIX2PIX_TF_SCREENSHOT", tmp_path / "page.png"))
    browser.save_screenshot(str(tmp_path / "page.png"))
    if screenshot != tmp_path / "page.png":
        shutil.copy(tmp_path / "page.png", screenshot)
    assert (tmp_path / "page.png").stat().st_size > 10_000
    assert browser.find_element(By.ID, "error").text == ""


def test_the_page_and_its_files_are_served_and_nothing_else(server):
    import urllib.error
    import urllib.request

    host, port = server.server_address[:2]
    for path, kind in (("/", "text/html"), ("/static/app.js", "text/javascript"), ("/static/style.css", "text/css")):
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30) as response:
            assert response.headers["Content-Type"].startswith(kind) and response.read()
    for path in ("/static/../serve.py", "/static/%2e%2e/serve.py", "/static//etc/passwd", "/static/", "/index.html"):
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=30)
        assert error.value.code == 404
