"""Progress of long work at the command line (imports of the full city, the 9.2 M elements).

On a terminal one line is redrawn in place a few times a second; otherwise (a log, a pipe,
CI) a plain line is printed every ``interval_s`` and at the end, so logs stay readable:

    elements: 1,250,000 / 9,200,000 rows (13.6 %), 41,300 rows/s, ETA 3 min 12 s

Standard library only: the runtime's commands and ``bench/citygen`` (which depends on nothing else) share it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """``update(done)`` as work goes on (cheap: it prints at most every interval), ``finish(done)`` once.

    ``total`` (when known) gives the percentage and the ETA; otherwise ``update`` may pass the
    ``fraction`` done (e.g. bytes of a file read) and the ETA comes from it."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        unit: str = "rows",
        stream: TextIO | None = None,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval_s = interval_s if interval_s is not None else (0.25 if self.tty else 5.0)
        self.clock = clock
        self.started = clock()
        self._last = self.started

    def line(self, done: int, fraction: float | None = None) -> str:
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        if fraction is None and self.total:
            fraction = done / self.total
        text = f"{self.what}: {done:,}"
        if self.total is not None:
            text += f" / {self.total:,}"
        text += f" {self.unit}"
        if fraction is not None:
            text += f" ({100 * min(fraction, 1.0):.1f} %)"
        text += f", {rate:,.0f} {self.unit}/s"
        if fraction is not None and 0 < fraction < 1 and elapsed > 0:
            text += f", ETA {duration(elapsed * (1 - fraction) / fraction)}"
        return text

    def update(self, done: int, fraction: float | None = None) -> None:
        now = self.clock()
        if now - self._last < self.interval_s:
            return
        self._last = now
        if self.tty:
            self.stream.write("\r" + self.line(done, fraction) + "\x1b[K")
        else:
            self.stream.write(self.line(done, fraction) + "\n")
        self.stream.flush()

    def finish(self, done: int) -> None:
        elapsed = self.clock() - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.what}: {done:,} {self.unit} in {duration(elapsed)} ({rate:,.0f} {self.unit}/s)"
        self.stream.write(("\r" + text + "\x1b[K\n") if self.tty else text + "\n")
        self.stream.flush()


class Stages:
    """Progress of an import made of stages (admin units, grids, workers; grids then channels):
    call it with ``(what, done, total)`` as each stage goes on; a stage's meter starts on its
    first call and prints its last line when ``done`` reaches ``total``."""

    def __init__(
        self, prefix: str, unit: str = "rows", stream: TextIO | None = None, interval_s: float | None = None
    ) -> None:
        self.prefix, self.unit, self.stream, self.interval_s = prefix, unit, stream, interval_s
        self._meters: dict[str, Progress] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        meter = self._meters.get(what)
        if meter is None:
            meter = self._meters[what] = Progress(
                f"{self.prefix} {what}", total=total, unit=self.unit, stream=self.stream, interval_s=self.interval_s
            )
        if done >= total:
            meter.finish(done)
        else:
            meter.update(done)
