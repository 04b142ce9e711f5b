"""How every pix2pix-tf command reports a user's mistake: one line, no traceback, an exit code."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator, NoReturn

from absl import logging

from pix2pix_tf import files


def fail(command: str, message: object, exit_code: int = 2) -> NoReturn:
    """Prints ``pix2pix-tf COMMAND: error: MESSAGE`` to stderr and exits."""
    print(f"pix2pix-tf {command}: error: {message}", file=sys.stderr)
    sys.exit(exit_code)


class _Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by the handler ``reported_errors`` installs)."""


def _terminate(signum, frame) -> None:
    raise _Terminated


@contextlib.contextmanager
def reported_errors(command: str, exit_code: int = 2) -> Iterator[None]:
    """Turns ValueError/OSError (bad flags, files, data) and a full disk into ``fail``; Ctrl-C exits
    130 quietly; SIGTERM exits 143 with one line saying the command stopped before it finished
    (commands that handle SIGTERM themselves, as training does, install their own handler inside).

    The traceback is still logged at debug level (``--verbosity=1`` shows it).
    """
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        yield
    except Exception as error:  # noqa: BLE001 - what is not a user's mistake is raised again below
        if files.is_disk_full(error):  # an OSError, or a TensorFlow op writing a file
            logging.debug("details", exc_info=True)
            fail(command, f"the disk is full ({files.op_error_text(error)}); free space there and run the "
                          "same command again", exit_code)
        if not isinstance(error, (ValueError, OSError)):
            raise
        logging.debug("details", exc_info=True)
        fail(command, error, exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except _Terminated:
        fail(command, "stopped by SIGTERM before it finished; run the same command again", 128 + signal.SIGTERM)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
