"""A one-line progress bar on stderr, redrawn in place; silent when stderr is not a terminal.

Built in, so the suite needs nothing beyond python3, torch and numpy.
"""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, desc: str, *, enabled: bool = True, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total, self.desc, self.width = total, desc, width
        self.done, self.started = 0, time.monotonic()

    def show(self, note: str = "") -> None:
        if not self.enabled:
            return
        filled = self.width * self.done // max(1, self.total)
        line = (f"{self.desc} [{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{time.monotonic() - self.started:.0f}s {note}")
        self.stream.write("\r" + line[:118].ljust(118))
        self.stream.flush()

    def step(self, note: str = "") -> None:
        self.done += 1
        self.show(note)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
