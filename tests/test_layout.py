"""The package's layout is its pipeline: imports point down it, each module says its one concern,
and the public API resolves."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

import pix2pix_tf

PACKAGE = pathlib.Path(pix2pix_tf.__file__).parent

# What each stage may not import (directly, anywhere in its modules, functions included).
FORBIDDEN = {
    "config": {"data", "models", "training", "evaluation", "deploy", "cli", "run_folder", "images", "speed",
               "hardware"},
    "hardware": {"config", "data", "models", "training", "evaluation", "deploy", "cli", "run_folder", "images",
                 "speed"},
    "images": {"data", "models", "training", "evaluation", "deploy", "cli", "run_folder", "speed"},
    "data": {"models", "training", "evaluation", "deploy", "cli", "run_folder", "speed"},
    "models": {"data", "training", "evaluation", "deploy", "cli", "run_folder", "speed"},
    "run_folder": {"data", "training", "evaluation", "deploy", "cli", "speed"},
    "training": {"deploy", "cli", "speed"},
    "deploy": {"training", "evaluation", "cli", "speed"},
    "evaluation": {"training", "cli", "speed"},
}


def _modules() -> list[pathlib.Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if "__pycache__" not in path.parts)


def _stage(path: pathlib.Path) -> str:
    return path.relative_to(PACKAGE).with_suffix("").parts[0]


def _imported_stages(path: pathlib.Path) -> set[str]:
    """The first component under pix2pix_tf of every import in the file (module level or not)."""
    stages = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pix2pix_tf":
            parts = node.module.split(".")
            stages.update([parts[1]] if len(parts) > 1 else [alias.name for alias in node.names])
        elif isinstance(node, ast.Import):
            stages.update(alias.name.split(".")[1] for alias in node.names
                          if alias.name.startswith("pix2pix_tf."))
    return stages


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_point_down_the_pipeline(path):
    forbidden = FORBIDDEN.get(_stage(path), set()) & _imported_stages(path)
    assert not forbidden, f"{path.relative_to(PACKAGE)} imports {sorted(forbidden)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_opens_with_a_line_naming_its_concern(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring.splitlines()[0]) > 20, f"{path.relative_to(PACKAGE)} has no opening line"


def test_the_stages_are_subpackages_and_nothing_else_sits_at_the_top():
    top = sorted(path.stem for path in PACKAGE.glob("*.py"))
    assert top == ["__init__", "__main__", "config", "hardware", "images", "palettes", "progress", "run_folder", "speed"]
    assert sorted(path.name for path in PACKAGE.iterdir() if (path / "__init__.py").exists()) == [
        "cli", "data", "deploy", "evaluation", "models", "training"]


def test_no_module_hand_builds_the_choice_error():
    """One helper (config.check_choice) words every 'X is not valid; choose one of' error."""
    writers = [str(path.relative_to(PACKAGE)) for path in _modules() if "choose one of" in path.read_text()]
    assert writers == ["config.py"]


def test_the_run_folder_file_names_are_spelled_once():
    spelled = [str(path.relative_to(PACKAGE)) for path in _modules()
               if any(f'"{name}"' in path.read_text() for name in ("validation.csv", "best.json", "tensorboard"))]
    assert spelled == ["run_folder.py"]


@pytest.mark.parametrize("name", pix2pix_tf.__all__)
def test_the_public_api_resolves(name):
    value = getattr(pix2pix_tf, name)
    assert getattr(value, "__doc__", None), name
    module = importlib.import_module(pix2pix_tf._EXPORTS[name])
    assert getattr(module, name) is value
