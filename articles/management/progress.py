"""A one-line progress indicator for long management commands.

It writes to stderr, and only when stderr is a terminal: cron mail, CI logs and
`--json` pipes get no carriage-return noise. Services report progress through a plain
callable `progress(label, done, total)`, so they stay free of any output concern.
"""

from __future__ import annotations

import time


class Progress:
    """Callable as `progress(label, done, total)`; `close()` clears the line."""

    def __init__(self, stream, *, enabled: bool | None = None, interval: float = 0.1):
        self.stream = stream
        self.enabled = bool(stream.isatty()) if enabled is None else enabled
        self.interval = interval
        self._last = 0.0
        self._width = 0

    def __call__(self, label: str, done: int, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        finished = total is not None and done >= total
        if not finished and now - self._last < self.interval:
            return
        self._last = now
        if total:
            share = min(done / total, 1.0)
            bar = "#" * round(share * 24)
            line = f"{label} [{bar:<24}] {share:4.0%}"
        else:
            line = f"{label} {done}"
        self._write("\r" + line.ljust(self._width))
        self._width = len(line)

    def close(self) -> None:
        if self.enabled and self._width:
            self._write("\r" + " " * self._width + "\r")
            self._width = 0

    def _write(self, text: str) -> None:
        # Django's OutputWrapper would colour stderr red and add a newline.
        self.stream.write(text, style_func=lambda s: s, ending="")
        self.stream.flush()
