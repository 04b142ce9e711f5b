"""Writing and reading the package's small files: text replaced atomically, JSON read with an error
that names the file."""

from __future__ import annotations

import json
import os
from typing import Any


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to a temporary file beside ``path``, then renames it over ``path``: a crash
    never leaves half a file."""
    temp_path = f"{os.fspath(path)}.tmp"
    with open(temp_path, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temp_path, path)


def read_json(path: str | os.PathLike) -> Any:
    """The JSON in ``path``; ValueError naming the file when it is not JSON (truncated, edited)."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{os.fspath(path)} is not valid JSON ({error}); restore or delete it") from error
