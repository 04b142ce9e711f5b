"""The package's layout is its pipeline: imports point down it, each module says its one concern,
and the public API resolves."""

from __future__ import annotations

import ast
import importlib
import pathlib

import pytest

import pix2pix_tf

PACKAGE = pathlib.Path(pix2pix_tf.__file__).parent

# The pipeline, upstream first: a module imports from its own stage and from stages above it, never
# from one below (data never imports models, models never training or kernels, deploy never
# training). A new top-level module or subpackage takes its place here.
PIPELINE = [
    {"files", "palettes", "hardware", "progress"},  # leaves: no pix2pix_tf imports
    {"config"},
    {"images"},
    {"data"},
    {"models"},
    {"kernels"},  # speed kernels for the models' layers, chosen by the train step
    {"run_folder"},
    {"deploy"},
    {"evaluation"},
    {"training"},
    {"speed"},
    {"cli"},
]
RANK = {stage: rank for rank, stages in enumerate(PIPELINE) for stage in stages}


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
    stage = _stage(path)
    if stage in ("__init__", "__main__"):  # the package's entry points
        return
    imported = {other for other in _imported_stages(path) - {stage} if other in RANK}  # (not __version__)
    upstream = {other for other in imported if RANK[other] >= RANK[stage]}
    assert not upstream, f"{path.relative_to(PACKAGE)} ({stage}) imports {sorted(upstream)}, further down the pipeline"


def test_every_stage_has_its_place_in_the_pipeline():
    stages = {_stage(path) for path in _modules()} - {"__init__", "__main__"}
    assert stages <= set(RANK), f"place {sorted(stages - set(RANK))} in PIPELINE"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_every_module_opens_with_a_line_naming_its_concern(path):
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring and len(docstring.splitlines()[0]) > 20, f"{path.relative_to(PACKAGE)} has no opening line"


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
    module, attribute = pix2pix_tf._EXPORTS[name]
    assert getattr(importlib.import_module(module), attribute) is value


def test_the_tests_mirror_the_package():
    """tests/<stage>/ holds the tests of pix2pix_tf/<stage>/; what spans stages sits in tests/."""
    tests = pathlib.Path(__file__).parent
    folders = sorted(path.name for path in tests.iterdir() if path.is_dir() and not path.name.startswith((".", "_")))
    assert folders and all((PACKAGE / folder / "__init__.py").exists() for folder in folders), folders
