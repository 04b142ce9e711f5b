"""Small files written whole or not at all, and a failed write that names its file and leaves nothing."""

from __future__ import annotations

import errno

import pytest

from pix2pix_tf import files


def test_a_write_that_fails_names_the_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    """translate writes each image this way: on a full disk the hidden temporary file (each run's
    name is its own) was left behind for good, holding the space."""
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def full(source, destination):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full)
    with pytest.raises(OSError, match=f"writing {target}: No space left on device") as raised:
        files.write_bytes_atomically(target, b"new picture")
    assert files.is_disk_full(raised.value)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.png"] and target.read_bytes() == b"old"

    def interrupted(source, destination):  # Ctrl-C, or SIGTERM as the commands raise it
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.write_bytes_atomically(target, b"new picture")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.png"]
    monkeypatch.undo()
    files.write_bytes_atomically(target, b"new picture")
    assert target.read_bytes() == b"new picture" and len(list(tmp_path.iterdir())) == 1


def test_tensorflow_decorations_are_taken_off_an_error_message():
    import tensorflow as tf

    error = tf.errors.ResourceExhaustedError(
        None, None, "{{function_node __wrapped__WriteFile_device_/job:localhost}} ev/00002_output.png; "
                    "No space left on device [Op:WriteFile]\nmore lines")
    assert files.op_error_text(error) == "ev/00002_output.png; No space left on device"
    assert files.is_disk_full(error) and not files.is_disk_full(ValueError("No space left on device"))


def test_a_name_that_is_not_utf8_is_printable_in_any_utf8_stream():
    import os

    latin1 = os.fsdecode(b"data/caf\xe9.png")  # as Python holds it: data/caf\udce9.png
    assert files.printable(latin1) == "data/caf\\xe9.png"
    assert files.printable(latin1).encode("utf-8") and files.printable("data/é.png") == "data/é.png"
