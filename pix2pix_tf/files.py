"""Files and what is said about them: bytes and text replaced atomically, JSON read with an error
that names the file, names and TensorFlow's I/O errors as a person reads them."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import uuid
from typing import Any

# TensorFlow's words around an op's own message: "{{function_node __wrapped__DecodeImage_device_...}} "
# before it, " [Op:DecodeImage] name:" after it.
_OP_DETAILS = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:\w+\]( name:.*)?$")


def write_bytes_atomically(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` (a name of its own: two writers never
    share one), then renames it over ``path``: a crash never leaves half a file, and a failed
    write (a full disk) removes its temporary file. OSError names ``path``."""
    path = os.fspath(path)
    folder, name = os.path.split(path)
    temp_path = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(temp_path, "xb") as file:
            file.write(data)
        os.replace(temp_path, path)
    except BaseException as error:  # a full disk, and Ctrl-C or SIGTERM mid-write too: each name is new, none may stay
        with contextlib.suppress(OSError):
            os.remove(temp_path)
        if isinstance(error, OSError):
            raise OSError(error.errno, f"writing {path}: {error.strerror or error}") from error
        raise


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """``write_bytes_atomically`` of ``text`` in UTF-8."""
    write_bytes_atomically(path, text.encode("utf-8"))


def printable(path: str | os.PathLike) -> str:
    """``path`` for messages and logs: a name that is not UTF-8 (``caf\\udce9.png`` to Python) as
    ``caf\\xe9.png``, which any UTF-8 stream takes; other names unchanged."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (an OSError, or a TensorFlow op's error) says the disk or quota is full."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return type(error).__module__.startswith("tensorflow") and "No space left on device" in str(error)


def op_error_text(error: BaseException) -> str:
    """The first line of an error's message without TensorFlow's op details (``{{function_node
    ...}}``, `` [Op:SaveV2]``): what a person needs, e.g. ``PATH; No space left on device``, or the
    decoder's own words for an image it cannot read; the error's type when that leaves nothing."""
    message = (getattr(error, "message", None) or str(error)).strip()
    first = message.splitlines()[0] if message else ""
    return _OP_DETAILS.sub("", first).strip() or type(error).__name__


def read_json(path: str | os.PathLike) -> Any:
    """The JSON in ``path``; ValueError naming the file when it is not JSON (truncated, edited)."""
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{os.fspath(path)} is not valid JSON ({error}); restore or delete it") from error
