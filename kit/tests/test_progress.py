"""Progress of long command-line work: one redrawn line on a terminal, plain lines in a log."""

from __future__ import annotations

import io

from govmesh_kit.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_with_counts_rate_and_eta() -> None:
    out, clock = Terminal(), Clock()
    meter = Progress("elements", total=9_200_000, stream=out, clock=clock)
    clock.now += 10
    meter.update(1_000_000)
    clock.now += 10
    meter.update(2_000_000)
    text = out.getvalue()
    assert text.count("\r") == 2 and "\n" not in text  # redrawn in place
    assert "elements: 2,000,000 / 9,200,000 rows (21.7 %), 100,000 rows/s, ETA 1 min 12 s" in text
    meter.finish(9_200_000)
    assert "elements: 9,200,000 rows in 20 s (460,000 rows/s)" in out.getvalue()


def test_in_a_log_plain_lines_come_every_interval_and_the_eta_from_the_fraction_read() -> None:
    out, clock = io.StringIO(), Clock()
    meter = Progress("dispatch elements", stream=out, clock=clock)  # total unknown: bytes read say how far
    clock.now += 1
    meter.update(50_000, fraction=0.1)  # within the 5 s interval: nothing
    assert out.getvalue() == ""
    clock.now += 9
    meter.update(500_000, fraction=0.25)
    meter.finish(2_000_000)
    lines = out.getvalue().splitlines()
    assert lines == [
        "dispatch elements: 500,000 rows (25.0 %), 50,000 rows/s, ETA 30 s",
        "dispatch elements: 2,000,000 rows in 10 s (200,000 rows/s)",
    ]
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
