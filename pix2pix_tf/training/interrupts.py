"""Stopping a training run cleanly on Ctrl-C (SIGINT) or SIGTERM (pre-emption, ``kill``, job schedulers)."""

from __future__ import annotations

import os
import signal
import threading

from absl import logging

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequests:
    """While active, the first SIGINT or SIGTERM only sets ``requested``; a second one exits at once.

    The training loop checks ``requested`` after each step, then saves a checkpoint and returns,
    so an interrupted run loses at most the step in flight. Outside the main thread (where
    Python cannot install signal handlers) it does nothing and Ctrl-C raises KeyboardInterrupt.
    """

    def __init__(self):
        self.requested: str | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, number: int, frame) -> None:
        del frame
        name = signal.Signals(number).name
        if self.requested:
            logging.warning("%s again: exiting now, without a checkpoint", name)
            os._exit(128 + number)
        self.requested = name
        logging.warning("%s: finishing the current step, then saving a checkpoint (send it again to exit now)", name)

    def __enter__(self) -> StopRequests:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()
