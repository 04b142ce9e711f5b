"""A one-line progress display: step, losses, images/s and ETA."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


class Progress:
    """Redraws one line on a terminal; prints a line per update otherwise (logs, CI)."""

    def __init__(self, total_steps: int, start_step: int, batch_size: int, stream: TextIO | None = None,
                 label: str = "step", unit: str = "img/s"):
        """``label`` names what is counted ("step", "frame"), ``unit`` its rate times ``batch_size``."""
        self.total_steps = total_steps
        self.batch_size = batch_size
        self.label, self.unit = label, unit
        self.stream = stream or sys.stdout
        self.interactive = self.stream.isatty()
        self._last_time = time.perf_counter()
        self._last_step = start_step

    def update(self, step: int, values: dict[str, float]) -> str:
        now = time.perf_counter()
        steps_per_second = (step - self._last_step) / max(now - self._last_time, 1e-9)
        self._last_time, self._last_step = now, step
        fraction = min(step / self.total_steps, 1.0) if self.total_steps else 0.0
        bar = "=" * int(20 * fraction)
        remaining = max(self.total_steps - step, 0) / steps_per_second if steps_per_second else 0.0
        losses = " ".join(f"{name} {value:.3f}" for name, value in values.items())
        line = (
            f"{self.label} {step}/{self.total_steps or '?'} [{bar:<20}] {100 * fraction:3.0f}% | "
            + (f"{losses} | " if losses else "")
            + f"{steps_per_second * self.batch_size:.1f} {self.unit} | ETA "
            + (format_duration(remaining) if self.total_steps else "?")
        )
        if self.interactive:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        return line

    def close(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
