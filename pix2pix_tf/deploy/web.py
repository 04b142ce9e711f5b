"""The drawing page's side of a model: its files, what it is told (page.json) and the static site.

The page (static/index.html, app.js, engines.js, tools.js, style.css) reads ``page.json`` beside it. When that names a
.tflite file, the page downloads it and computes every picture in the browser with LiteRT.js on
WebAssembly (static/litert/, vendored, no CDN); otherwise, or when the browser cannot, it sends
the drawing to the server's ``:predict``. ``serve`` answers page.json for the model it serves;
``write_site`` writes it, with the page, the runtime and the model (or several, to choose from),
into a folder any static file host serves (``pix2pix-tf export --formats=web``).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import urllib.parse
from collections.abc import Sequence

from pix2pix_tf import palettes, run_folder
from pix2pix_tf.config import Config
from pix2pix_tf.deploy import pretrained

STATIC_FOLDER = pathlib.Path(__file__).with_name("static")
LITERT_FOLDER = STATIC_FOLDER / "litert"
PACKAGE_FOLDER = pathlib.Path(__file__).resolve().parents[1]
PAGE_CONFIG = "page.json"
MODEL_CARD = pretrained.CARD  # optional, beside config.json: {"description": "label map → façade photo", ...}

# A .tflite file larger than this is not sent to browsers by `serve`: the server computes the
# pictures. The 256 px student's float16 file (6.9 MB) is sent; the paper U-Net's (109 MB, a heavy
# download for every visitor) is not. A static site sends any size: it has no server to ask.
MAX_BROWSER_MODEL_BYTES = 32 * 2**20

# What the page and its model files are served as, by suffix.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".json": "application/json", ".wasm": "application/wasm", ".ico": "image/x-icon", ".png": "image/png",
    ".tflite": "application/octet-stream", "": "text/plain; charset=utf-8",  # LICENSE
}

# The browser's preference among an export folder's .tflite files: float arithmetic, smallest first.
BROWSER_PRECISIONS = ("float16", "float32", "dynamic_int8", "int8")

# What a model does, for the page's header, when its folder has no model card saying it.
TASK_DESCRIPTIONS = {"colorize": "gray photo → colour photo", "edges": "edge drawing → photo",
                     "inpaint": "photo with holes → whole photo", "superres": "small photo → 4× sharper photo"}
FACADE_PALETTES = ("synthetic", "facades")

# What the page offers for drawing, by the kind of input a model takes (page.json's "input"): class
# swatches for label maps; a black pen and an eraser on white paper for sketches; a colour picker,
# rectangles and upload for photos.
INPUT_KINDS = ("label_map", "sketch", "photo")


def page_files() -> dict[str, pathlib.Path]:
    """The page's files by URL path relative to the page: "" (index.html), favicon.ico,
    static/app.js, engines.js, tools.js, style.css and static/litert/ (the runtime files and its LICENSE)."""
    files = {"": STATIC_FOLDER / "index.html", "favicon.ico": STATIC_FOLDER / "favicon.ico"}
    scripts = ("app.js", "engines.js", "tools.js", "style.css")
    files.update({f"static/{name}": STATIC_FOLDER / name for name in scripts})
    runtime = [line.split()[1] for line in (LITERT_FOLDER / "SHA256SUMS").read_text().splitlines()]
    files.update({f"static/litert/{name}": LITERT_FOLDER / name for name in [*runtime, "LICENSE"]})
    return files


def content_type(path: pathlib.Path) -> str:
    """The Content-Type a file of the page or of its model is served with."""
    return CONTENT_TYPES[path.suffix]


def read_card(folder: pathlib.Path | None) -> dict:
    """The model card beside config.json in ``folder`` (``card.json``) as data, {} when there is none;
    ValueError naming the card when it is not a JSON object."""
    card = folder / MODEL_CARD if folder is not None else None
    if card is None or not card.is_file():
        return {}
    expected = 'expected a JSON object such as {"description": "label map → photo"}'
    try:
        fields = json.loads(card.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{card}: {expected} ({error})") from None
    if not isinstance(fields, dict):
        raise ValueError(f"{card}: {expected}, not a JSON {type(fields).__name__}")
    return fields


def describe(config: Config, folder: pathlib.Path | None) -> str:
    """What the model does, e.g. "label map → façade photo": the ``description`` (or else the
    ``title``) of the model card (``card.json`` beside config.json) when there is one, else said
    from its task and palette."""
    return _description(config, read_card(folder))


def _description(config: Config, card: dict) -> str:
    description = card.get("description") or card.get("title")
    if isinstance(description, str) and description.strip():
        return description.strip()
    data = config.data
    if data.task in TASK_DESCRIPTIONS:
        return TASK_DESCRIPTIONS[data.task]
    if data.palette != "none":  # the palette colours the classes of label-map inputs
        return "label map → façade photo" if data.palette in FACADE_PALETTES else "label map → photo"
    source, target = ("A", "B") if data.direction == "AtoB" else ("B", "A")
    return f"{source} images → {target} images"


def input_kind(config: Config, folder: pathlib.Path | None) -> str:
    """The kind of input the page draws for the model, one of ``INPUT_KINDS``: the model card's
    ``input`` when it says one, else "label_map" for a model with a palette, "sketch" for one trained
    on edge drawings (``--task=edges`` or ``--freehand_lines``), "photo" otherwise. ValueError naming
    the card for an ``input`` that is not one of them."""
    return _input_kind(config, read_card(folder), folder)


def _input_kind(config: Config, card: dict, folder: pathlib.Path | None) -> str:
    kind = card.get("input")
    if kind is not None:
        if kind not in INPUT_KINDS:
            raise ValueError(f"{folder / MODEL_CARD}: \"input\" is {kind!r}; expected one of {', '.join(INPUT_KINDS)}")
        return kind
    if config.data.palette != "none":
        return "label_map"
    return "sketch" if config.data.freehand_lines or config.data.task == "edges" else "photo"


@dataclasses.dataclass(frozen=True)
class PageModel:
    """A model as the page sees it.

    Attributes:
      config: the model's Config (input size and channels, palette).
      mode: its inference mode ("eval", "paper" or None when unknown).
      folder: the folder holding its config.json (and, optionally, card.json and example*.png).
      tflite: the .tflite file browsers run, or None: the server computes the pictures.
      unavailable: why ``tflite`` is None, a sentence for the page ("" when it is not).
      example: an example input for the page to open on (``example*.png`` in ``folder``), or None.
      name: the model's name on the page (its folder's).
      description: what the model does (``describe``).
      title: its name for people, e.g. in the page's choice of models: the model card's ``title``,
        else ``description``.
      input: what the page draws for it, one of ``INPUT_KINDS`` (``input_kind``).
    """

    config: Config
    mode: str | None
    folder: pathlib.Path | None
    tflite: pathlib.Path | None
    unavailable: str
    example: pathlib.Path | None
    name: str | None
    description: str
    title: str
    input: str

    @classmethod
    def of(cls, source: pathlib.Path | None, config: Config, mode: str | None, limited: bool = True) -> PageModel:
        """The model loaded from ``source`` (a .tflite file, SavedModel, export or run folder, as
        ``Translator.source``). Browsers run the .tflite file itself, or for a folder the .tflite
        file beside its SavedModel (float16 first), unless ``limited`` and it is larger than
        ``MAX_BROWSER_MODEL_BYTES``."""
        if source is None:
            return cls(config, mode, None, None, "the served model was not loaded from a file", None, None,
                       *cls._card_fields(config, None))
        source = pathlib.Path(source)
        folder = source.parent if source.suffix == ".tflite" or source.name == "saved_model" else source
        examples = sorted(folder.glob("example*.png"))
        candidates = [source] if source.suffix == ".tflite" else [folder / f"model_{precision}.tflite"
                                                                  for precision in BROWSER_PRECISIONS]
        tflite = next((path for path in candidates if path.is_file()), None)
        unavailable = ""
        if tflite is None:
            unavailable = (f"{folder.name} has no .tflite file for the browser to run "
                           "(pix2pix-tf export --formats=tflite_fp16 writes one)")
        elif limited and tflite.stat().st_size > MAX_BROWSER_MODEL_BYTES:
            unavailable = (f"{tflite.name} is {tflite.stat().st_size / 2**20:.0f} MiB, more than the "
                           f"{MAX_BROWSER_MODEL_BYTES / 2**20:.0f} MiB sent to browsers")
            tflite = None
        return cls(config, mode, folder, tflite, unavailable, examples[0] if examples else None, folder.name,
                   *cls._card_fields(config, folder))

    @staticmethod
    def _card_fields(config: Config, folder: pathlib.Path | None) -> tuple[str, str, str]:
        """(description, title, input kind), from the model card in ``folder`` read once."""
        card = read_card(folder)
        description = _description(config, card)
        title = card.get("title")
        return (description, title.strip() if isinstance(title, str) and title.strip() else description,
                _input_kind(config, card, folder))

    @property
    def shipped(self) -> bool:
        """Whether the model is one shipped inside the package (not the user's own)."""
        return self.folder is not None and PACKAGE_FOLDER in self.folder.resolve().parents

    def page_json(self, files_url: str, predict_url: str | None) -> dict:
        """What page.json tells the page: the model's size, channels, palette, input kind, title and description, the
        URLs of its .tflite file and example under ``files_url``, and ``predict_url`` (the server's
        ``:predict``, relative to the page) or None on a static host."""
        data, model = self.config.data, self.config.model
        return {
            "description": self.description, "title": self.title, "input": self.input, "input_size": data.image_size,
            "input_channels": model.input_channels, "output_channels": model.output_channels,
            "mode": self.mode, "palette": palettes.hex_colours(data.palette),
            "model": None if self.tflite is None else {"url": files_url + self.tflite.name, "file": self.tflite.name,
                                                       "bytes": self.tflite.stat().st_size},
            "browser_unavailable": self.unavailable,
            "example": None if self.example is None else files_url + self.example.name,
            "predict": predict_url, "source": self.name, "shipped": self.shipped,
        }

    def model_files(self) -> list[pathlib.Path]:
        """The files a static site needs beside the page: the .tflite file, config.json, the
        example and the model card, those that exist."""
        if self.folder is None:
            return []
        named = [self.tflite, self.folder / run_folder.CONFIG, self.example, self.folder / MODEL_CARD]
        return [path for path in named if path is not None and path.is_file()]


def site_folders(pages: Sequence[PageModel]) -> list[str]:
    """Where each model's files are in a static site, relative to the page: "" (beside it) for the
    first, ``models/NAME/`` for each other."""
    return ["", *(f"models/{page.name}/" for page in pages[1:])]


def write_site(out: pathlib.Path, pages: PageModel | Sequence[PageModel]) -> dict:
    """Writes the static site of one model or several into the folder ``out``: index.html,
    favicon.ico, static/ (the page and LiteRT.js with its LICENSE), and page.json with the model's
    files beside it (copied unless already in ``out``). With several, the first is the one the page
    opens on and each other's page.json and files are in ``models/NAME/`` (NAME: its folder's name);
    every page.json lists them all (``models``: name, title and page.json URL; one model lists
    itself, as a server does), so the page offers the choice with no server. Returns the bytes a
    browser downloads: {"page", "runtime", "model"} (the model the page opens on) and "models"
    (each model's file, by name)."""
    pages = [pages] if isinstance(pages, PageModel) else list(pages)
    names = [page.name for page in pages]
    if not pages or len(set(names)) < len(names):
        raise ValueError(f"a site holds one model or more, each under its own folder's name, not {names}")
    for page in pages:
        if page.tflite is None:
            raise ValueError(f"a static site computes in the browser, but {page.unavailable}")
    for url, path in page_files().items():
        target = out / (url or "index.html")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    folders = site_folders(pages)
    urls = [urllib.parse.quote(folder) for folder in folders]  # relative to the page
    listing = [{"name": page.name, "title": page.title, "page": url + PAGE_CONFIG}
               for page, url in zip(pages, urls)]
    for page, folder, url in zip(pages, folders, urls):
        (out / folder).mkdir(parents=True, exist_ok=True)
        for path in page.model_files():
            if path.parent.resolve() != (out / folder).resolve():
                shutil.copyfile(path, out / folder / path.name)
        # On a static host the model's files are beside its page.json and there is no server to ask.
        page_json = {**page.page_json(url, None), "name": page.name, "models": listing}
        (out / folder / PAGE_CONFIG).write_text(json.dumps(page_json, indent=2) + "\n", encoding="utf-8")
    page_bytes = sum(path.stat().st_size for url, path in page_files().items() if not url.startswith("static/litert/"))
    return {"page": page_bytes, "runtime": runtime_bytes(), "model": pages[0].tflite.stat().st_size,
            "models": {page.name: page.tflite.stat().st_size for page in pages}}


def runtime_bytes() -> int:
    """Bytes of LiteRT.js a browser with relaxed SIMD downloads (the other build differs by < 1 %)."""
    names = ("litert.js", "wasm-utils.js", "litert_wasm_internal.js", "litert_wasm_internal.wasm")
    return sum((LITERT_FOLDER / name).stat().st_size for name in names)
