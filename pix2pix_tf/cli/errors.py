"""How every pix2pix-tf command reports a user's mistake: one line, no traceback, an exit code."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, NoReturn

from absl import logging


def fail(command: str, message: object, exit_code: int = 2) -> NoReturn:
    """Prints ``pix2pix-tf COMMAND: error: MESSAGE`` to stderr and exits."""
    print(f"pix2pix-tf {command}: error: {message}", file=sys.stderr)
    sys.exit(exit_code)


@contextlib.contextmanager
def reported_errors(command: str, exit_code: int = 2) -> Iterator[None]:
    """Turns ValueError/OSError (bad flags, files, data) into ``fail``; Ctrl-C exits 130 quietly.

    The traceback is still logged at debug level (``--verbosity=1`` shows it).
    """
    try:
        yield
    except (ValueError, OSError) as error:
        logging.debug("details", exc_info=True)
        fail(command, error, exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
