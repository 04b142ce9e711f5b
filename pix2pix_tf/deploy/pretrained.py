"""The models shipped inside the package, by name, each with its model card and example inputs.

A shipped model is a folder under ``pix2pix_tf/deploy/pretrained/`` holding what ``pix2pix-tf
export`` writes for a TFLite file (``config.json``, ``export.json``, ``model_<precision>.tflite``)
plus ``card.json`` (what the model does, its data and terms, scores, the commands that remade it),
``MODEL_CARD.md`` (the same for people) and ``example_*.png`` inputs. Every command that takes a
model (``translate``, ``serve``, ``evaluate``, ``export``) takes a shipped model's name too.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pix2pix_tf.deploy.translator import Translator

FOLDER = pathlib.Path(__file__).with_name("pretrained")
CARD = "card.json"  # what the page shows (title, description, input) and the card as data: data, terms, scores
CARD_TEXT = "MODEL_CARD.md"
EXAMPLE_GLOB = "example_*.png"
DEFAULT = "facades_label2photo"  # what `pix2pix-tf serve` serves without --model


def names() -> list[str]:
    """The shipped models' names, sorted."""
    if not FOLDER.is_dir():
        return []
    return sorted(folder.name for folder in FOLDER.iterdir() if (folder / CARD).is_file())


def names_default_first() -> list[str]:
    """``names()`` with ``DEFAULT`` first: the order ``serve`` and a web site of the shipped models offer them in."""
    return sorted(names(), key=lambda name: name != DEFAULT)


def is_name(model: str | os.PathLike) -> bool:
    """Whether ``model`` is a shipped model's name and not a path that exists."""
    text = os.fspath(model)
    return text in names() and not pathlib.Path(text).exists()


def looks_like_name(model: str | os.PathLike) -> bool:
    """Whether ``model`` reads as a bare name (no folder, no file suffix) rather than a path."""
    text = os.fspath(model)
    return bool(text) and os.sep not in text and "/" not in text and not pathlib.PurePath(text).suffix


def folder(name: str) -> pathlib.Path:
    """The folder of shipped model ``name``; ValueError listing the shipped ones for another name."""
    if name not in names():
        raise ValueError(f"{name!r} is neither a path that exists nor a shipped model; shipped models: "
                         + (", ".join(names()) or "none"))
    return FOLDER / name


def resolve(model: str | os.PathLike) -> pathlib.Path:
    """``model`` as a path: a shipped model's name becomes its folder, anything else stays as given.

    Raises ValueError listing the shipped models when ``model`` is a bare name (no folder, no
    suffix) that is neither a path that exists nor a shipped model.
    """
    if is_name(model):
        return folder(os.fspath(model))
    path = pathlib.Path(model).expanduser()
    if not path.exists() and looks_like_name(model):
        folder(os.fspath(model))  # raises, naming the shipped models
    return path


def card(name: str) -> dict[str, Any]:
    """The model card of shipped model ``name`` as data (``card.json``)."""
    return json.loads((folder(name) / CARD).read_text(encoding="utf-8"))


def examples(name: str) -> list[pathlib.Path]:
    """The example inputs shipped with model ``name`` (PNG files), sorted."""
    return sorted(folder(name).glob(EXAMPLE_GLOB))


def load_pretrained(name: str, mode: str | None = None) -> Translator:
    """Shipped model ``name`` (``names()`` lists them) as a ``Translator``: uint8 images of any
    size in, translated uint8 images of the same size out.

    Raises ValueError listing the shipped models when ``name`` is not one of them.
    """
    from pix2pix_tf.deploy.translator import Translator

    return Translator.load(folder(name), mode)
