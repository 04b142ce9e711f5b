"""The page's side of a model without a browser: the vendored runtime, page.json, what `serve`
answers for the page, and the static site of `export --formats=web` (test_page.py runs them in Chromium)."""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from conftest import tiny_config, write_shipped_model

from pix2pix_tf.deploy import export as exporter
from pix2pix_tf.deploy import pretrained, serve, web
from pix2pix_tf.deploy.service import ModelService, shipped_services
from pix2pix_tf.deploy.translator import Translator


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> pathlib.Path:
    """A shipped-style model folder: an untrained 32 px generator as model_float16.tflite beside its
    config.json, a model card and an example input."""
    config = tiny_config().replace(data=dict(palette="facades"))
    example = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    return write_shipped_model(tmp_path_factory.mktemp("web") / "labels2photo", config,
                               {"description": "label map → toy photo"}, example)


def test_the_vendored_runtime_is_the_npm_packages_files_with_their_licence():
    sums = (web.LITERT_FOLDER / "SHA256SUMS").read_text().split()
    for digest, name in zip(sums[::2], sums[1::2]):
        assert hashlib.sha256((web.LITERT_FOLDER / name).read_bytes()).hexdigest() == digest, name
    assert {"litert.js", "wasm-utils.js", "litert_wasm_internal.wasm", "litert_wasm_compat_internal.wasm"} <= set(sums)
    licence = (web.LITERT_FOLDER / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert (web.LITERT_FOLDER / "VERSION").read_text().strip() == "2.5.3"
    for path in web.page_files().values():
        assert path.is_file(), path
    assert "https://" not in (web.STATIC_FOLDER / "index.html").read_text()  # nothing from a CDN


@pytest.mark.parametrize("data, card, expected", [
    ({"palette": "facades", "direction": "BtoA"}, None, "label map → façade photo"),
    ({"palette": "colors:#ff0000,#00ff00"}, None, "label map → photo"),
    ({"task": "colorize"}, None, "gray photo → colour photo"),
    ({"direction": "BtoA"}, None, "B images → A images"),
    ({"palette": "facades"}, {"description": "  façade photo → label map "}, "façade photo → label map"),
    ({}, {"title": "façade photo → label map", "license": "CC-BY"}, "façade photo → label map"),
    ({}, {"license": "CC-BY"}, "A images → B images"),
])
def test_the_header_says_what_the_model_does(tmp_path, data, card, expected):
    config = tiny_config()
    channels = 1 if data.get("task") == "colorize" else 3
    config = config.replace(data=dict(**data),
                            model=dict(input_channels=channels))
    if card is not None:
        (tmp_path / web.MODEL_CARD).write_text(json.dumps(card))
    assert web.describe(config, tmp_path) == expected


def test_a_broken_model_card_is_named(tmp_path):
    (tmp_path / web.MODEL_CARD).write_text("description: label map -> photo")
    with pytest.raises(ValueError, match="card.json: expected a JSON object"):
        web.PageModel.of(tmp_path, tiny_config(), "eval")


@pytest.mark.parametrize("data, card, expected", [
    ({"palette": "facades"}, None, "label_map"),
    ({"freehand_lines": True}, None, "sketch"),
    ({"task": "edges"}, None, "sketch"),
    ({}, None, "photo"),
    ({"direction": "BtoA"}, {"title": "edges → shoes", "input": "sketch"}, "sketch"),
    ({"palette": "facades"}, {"input": "photo"}, "photo"),
])
def test_the_page_draws_label_maps_sketches_or_photos_as_the_card_or_else_the_config_says(
        tmp_path, data, card, expected):
    config = tiny_config().replace(data=data)
    if card is not None:
        (tmp_path / web.MODEL_CARD).write_text(json.dumps(card))
    assert web.input_kind(config, tmp_path) == expected
    assert web.PageModel.of(tmp_path, config, "eval").page_json("", None)["input"] == expected


def test_a_card_naming_another_kind_of_input_is_named(tmp_path):
    (tmp_path / web.MODEL_CARD).write_text(json.dumps({"input": "doodle"}))
    with pytest.raises(ValueError, match='card.json: "input" is \'doodle\'; expected one of label_map, sketch, photo'):
        web.PageModel.of(tmp_path, tiny_config(), "eval")


def test_browsers_get_the_served_tflite_or_the_float16_file_beside_a_saved_model_unless_too_large(
        tmp_path, monkeypatch):
    config = tiny_config()
    (tmp_path / "saved_model").mkdir()
    page = web.PageModel.of(tmp_path / "saved_model", config, "eval")
    assert page.tflite is None and "has no .tflite file for the browser" in page.unavailable
    for precision in ("int8", "float16", "float32"):
        (tmp_path / f"model_{precision}.tflite").write_bytes(bytes(2000))
    assert web.PageModel.of(tmp_path / "saved_model", config, "eval").tflite == tmp_path / "model_float16.tflite"
    assert web.PageModel.of(tmp_path / "model_int8.tflite", config, None).tflite == tmp_path / "model_int8.tflite"
    monkeypatch.setattr(web, "MAX_BROWSER_MODEL_BYTES", 1000)
    page = web.PageModel.of(tmp_path / "model_int8.tflite", config, None)
    assert page.tflite is None and "more than the 0 MiB sent to browsers" in page.unavailable
    assert not page.shipped and web.PageModel.of(pretrained.folder(pretrained.DEFAULT), config, None).shipped


def test_serve_answers_the_page_its_model_and_nothing_else(model_folder):
    server = serve.ModelServer(ModelService(Translator.load(model_folder)), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://%s:%d/" % server.server_address[:2]
    try:
        for path, kind in (("", "text/html"), ("static/app.js", "text/javascript"), ("static/style.css", "text/css"),
                           ("favicon.ico", "image/x-icon"), ("static/litert/litert_wasm_internal.wasm",
                                                             "application/wasm"), ("static/litert/LICENSE", "text/plain"),
                           ("model/example_1.png", "image/png")):
            with urllib.request.urlopen(url + path, timeout=30) as response:
                assert response.headers["Content-Type"].startswith(kind) and response.read()
        with urllib.request.urlopen(url + "model/model_float16.tflite", timeout=30) as response:
            assert response.read() == (model_folder / "model_float16.tflite").read_bytes()
        with urllib.request.urlopen(url + "page.json", timeout=30) as response:
            page = json.load(response)
        assert page["description"] == "label map → toy photo" and page["input_size"] == 32
        assert page["model"] == {"url": "model/model_float16.tflite", "file": "model_float16.tflite",
                                 "bytes": (model_folder / "model_float16.tflite").stat().st_size}
        assert page["predict"] == "v1/models/pix2pix:predict" and page["example"] == "model/example_1.png"
        assert len(page["palette"]) == 12 and page["source"] == "labels2photo" and page["shipped"] is False
        for path in ("static/../serve.py", "static/%2e%2e/serve.py", "static//etc/passwd", "static/", "index.html",
                     "model/config.json", "model/../config.json", "model/card.json", "static/litert/update.sh",
                     "static/litert/"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(url + path, timeout=30)
            assert error.value.code == 404, path
    finally:
        server.shutdown()
        server.server_close()


def test_export_of_a_model_folder_as_a_web_site(model_folder, tmp_path, monkeypatch):
    exporter.export_site(model_folder, tmp_path / "site")
    site = tmp_path / "site"
    for name in ("index.html", "favicon.ico", "static/app.js", "static/litert/litert_wasm_internal.wasm",
                 "static/litert/LICENSE", "model_float16.tflite", "config.json", "example_1.png", web.MODEL_CARD):
        assert (site / name).is_file(), name
    page = json.loads((site / web.PAGE_CONFIG).read_text())
    assert page["predict"] is None and page["model"]["url"] == "model_float16.tflite"
    assert page["example"] == "example_1.png" and page["description"] == "label map → toy photo"
    assert page["models"] == [{"name": page["name"], "title": page["title"], "page": web.PAGE_CONFIG}]
    report = json.loads((site / "export.json").read_text())
    assert report["web"]["model"] == (model_folder / "model_float16.tflite").stat().st_size
    assert report["web"]["runtime"] > 5e6

    with pytest.raises(ValueError, match="is the folder of model "):
        exporter.export_site(model_folder, model_folder)
    other_export = tmp_path / "other_export"  # an exported model (export.json, no site): not replaced
    shutil.copytree(model_folder, other_export)
    (other_export / "export.json").write_text('{"mode": "eval", "files": {}}')
    with pytest.raises(ValueError, match="holds an exported model, not a web site"):
        exporter.export_site(model_folder, other_export)
    assert (other_export / "model_float16.tflite").read_bytes() == (model_folder / "model_float16.tflite").read_bytes()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="a_file is a file; give a folder"):
        exporter.export_site(model_folder, tmp_path / "a_file")
    exporter.export_site(model_folder, site)  # a site is replaced by the new one
    monkeypatch.setattr(web, "MAX_BROWSER_MODEL_BYTES", 1000)  # `serve` would compute; a static site has no server
    exporter.export_site(model_folder, tmp_path / "large")
    assert json.loads((tmp_path / "large" / web.PAGE_CONFIG).read_text())["model"]["file"] == "model_float16.tflite"
    with pytest.raises(ValueError, match="a static site computes in the browser, but run has no .tflite file"):
        web.write_site(tmp_path / "nothing", web.PageModel.of(tmp_path / "run", tiny_config(), "eval"))


def test_a_web_site_of_several_models_opens_on_the_first_and_lists_each_ones_page(shipped_models, tmp_path):
    names = ["toy_sketch2photo", "toy_labels2photo"]
    report = exporter.export_site([shipped_models / name for name in names], tmp_path / "site")
    site = tmp_path / "site"
    first, second = (json.loads((site / folder / web.PAGE_CONFIG).read_text())
                     for folder in ("", "models/toy_labels2photo"))
    listing = [{"name": "toy_sketch2photo", "title": "Toy shoes", "page": "page.json"},
               {"name": "toy_labels2photo", "title": "Toy façades", "page": "models/toy_labels2photo/page.json"}]
    assert first["models"] == second["models"] == listing
    assert (first["name"], first["input"]) == ("toy_sketch2photo", "sketch")
    assert first["model"]["url"] == "model_float16.tflite"
    # URLs relative to the page, whichever page.json says them
    assert (second["name"], second["input"]) == ("toy_labels2photo", "label_map")
    assert second["model"]["url"] == "models/toy_labels2photo/model_float16.tflite"
    assert second["example"] == "models/toy_labels2photo/example_1.png" and second["predict"] is None
    for name in names:
        folder = site / ("" if name == names[0] else f"models/{name}")
        shipped = shipped_models / name / "model_float16.tflite"
        assert (folder / "model_float16.tflite").read_bytes() == shipped.read_bytes()
        assert (folder / web.MODEL_CARD).is_file() and (folder / "example_1.png").is_file()
    assert "models/toy_labels2photo/model_float16.tflite" in report["files"]
    assert set(report["web"]["models"]) == set(names)
    assert "MB model it opens on, and the other one when chosen;" in exporter.site_line(site, report["web"])
    with pytest.raises(ValueError, match="each under its own folder's name"):
        exporter.export_site([shipped_models / names[0]] * 2, tmp_path / "twice")
    with pytest.raises(ValueError, match="is the folder of model toy_labels2photo"):
        exporter.export_site([shipped_models / names[0], shipped_models / names[1]], shipped_models / names[1])


@pytest.mark.slow
def test_export_command_writes_a_web_site_from_a_model_folder(model_folder, shipped_models, tmp_path):
    def export(model: str, *flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pix2pix_tf", "export", f"--model={model}", *flags],
                              capture_output=True, text=True, timeout=600)

    result = export(str(model_folder), "--formats=web", f"--output={tmp_path / 'site'}")
    assert result.returncode == 0, result.stderr
    assert "the drawing page; a browser downloads" in result.stdout and "MB of LiteRT.js" in result.stdout
    assert (tmp_path / "site" / web.PAGE_CONFIG).is_file()
    wrong = export(str(model_folder), "--formats=saved_model")
    assert wrong.returncode != 0 and "--model goes with --formats=web" in wrong.stderr
    both = export(f"{model_folder},{shipped_models / 'toy_sketch2photo'}", "--formats=web",
                  f"--output={tmp_path / 'both'}")
    assert both.returncode == 0, both.stderr
    assert "model it opens on, and the other one when chosen" in both.stdout
    assert f"{tmp_path / 'both' / 'models' / 'toy_sketch2photo' / 'model_float16.tflite'}:" in both.stdout
    assert json.loads((tmp_path / "both" / web.PAGE_CONFIG).read_text())["models"][1]["name"] == "toy_sketch2photo"

    def run(*flags: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pix2pix_tf", "export", *flags],
                              capture_output=True, text=True, timeout=600)

    shipped = run("--formats=web", f"--output={tmp_path / 'shipped'}")  # no --model: the package's own models
    assert shipped.returncode == 0, shipped.stderr
    listing = json.loads((tmp_path / "shipped" / web.PAGE_CONFIG).read_text())["models"]
    assert [model["name"] for model in listing] == pretrained.names_default_first() and len(listing) >= 2
    assert listing[0]["name"] == pretrained.DEFAULT
    empty = run("--formats=web", "--model=,", f"--output={tmp_path / 'empty'}")
    assert empty.returncode != 0 and "names no model" in empty.stderr and not (tmp_path / "empty").exists()
    nothing = run()
    assert nothing.returncode != 0 and "--workdir is required" in nothing.stderr and "--formats=web alone" in nothing.stderr


def test_serve_of_the_shipped_models_tells_the_page_each_ones_input_files_and_the_choice(shipped_models, monkeypatch):
    monkeypatch.setattr(pretrained, "FOLDER", shipped_models)
    monkeypatch.setattr(pretrained, "DEFAULT", "toy_sketch2photo")
    server = serve.ModelServer(shipped_services(), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://%s:%d/" % server.server_address[:2]

    def get(path: str) -> bytes:
        with urllib.request.urlopen(url + path, timeout=30) as response:
            return response.read()

    try:
        default, labels = json.loads(get("page.json")), json.loads(get("page.json?model=toy_labels2photo"))
        assert json.loads(get("page.json?model=toy_sketch2photo")) == default
        choice = [{"name": "toy_sketch2photo", "title": "Toy shoes"}, {"name": "toy_labels2photo", "title": "Toy façades"}]
        assert default["models"] == labels["models"] == choice
        assert (default["name"], default["input"], default["palette"]) == ("toy_sketch2photo", "sketch", [])
        assert (default["predict"], default["example"]) == ("v1/models/toy_sketch2photo:predict", "model/example_1.png")
        assert (labels["name"], labels["input"], len(labels["palette"])) == ("toy_labels2photo", "label_map", 12)
        assert labels["predict"] == "v1/models/toy_labels2photo:predict"
        assert labels["model"]["url"] == "models/toy_labels2photo/model_float16.tflite"
        assert get(labels["model"]["url"]) == (shipped_models / "toy_labels2photo" / "model_float16.tflite").read_bytes()
        assert get(labels["example"]) == (shipped_models / "toy_labels2photo" / "example_1.png").read_bytes()
        assert get(default["example"]) == (shipped_models / "toy_sketch2photo" / "example_1.png").read_bytes()
        for path in ("page.json?model=toy_shoes", "models/toy_sketch2photo/example_1.png",
                     "models/toy_labels2photo/config.json", "models/nothing/model_float16.tflite"):
            with pytest.raises(urllib.error.HTTPError) as error:
                urllib.request.urlopen(url + path, timeout=30)
            assert error.value.code == 404, path
            if path.startswith("page.json"):
                assert json.loads(error.value.read())["error"].startswith(
                    "no model 'toy_shoes': this server serves 'toy_sketch2photo', 'toy_labels2photo'")
    finally:
        server.shutdown()
        server.server_close()
