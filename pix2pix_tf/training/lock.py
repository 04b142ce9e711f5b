"""One writer per run folder: an operating-system lock on ``workdir/.lock`` that dies with its process."""

from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import sys
import time
from collections.abc import Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a second writer is not detected there
    fcntl = None

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_folder_lock(workdir: pathlib.Path) -> Iterator[None]:
    """Holds ``workdir``'s lock for the duration: a second ``train`` on the same folder is refused.

    The lock is ``flock`` on an open file, so the kernel releases it when the holding process ends
    in any way (exit, crash, SIGKILL, power loss): a stale lock never blocks the next run. The file
    records who holds it, so the refusal can name the process.

    Raises:
      ValueError naming the folder and the process (pid, host, command, start time) that holds it.
    """
    path = workdir / LOCK_NAME
    with open(path, "a+", encoding="utf-8") as file:
        if fcntl is not None:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                file.seek(0)
                holder = file.read().strip() or "another process"
                raise ValueError(f"--workdir {workdir} is in use by {holder}; one writer per run folder: "
                                 "wait for it, stop it, or use another --workdir") from None
        file.seek(0)
        file.truncate()
        command = " ".join(pathlib.Path(sys.argv[0]).name.split() + sys.argv[1:]) if sys.argv else "python"
        file.write(f"process {os.getpid()} on {socket.gethostname()} ({command}), "
                   f"since {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        file.flush()
        try:
            yield
        finally:
            file.seek(0)
            file.truncate()  # released with the file; an empty record names no one
