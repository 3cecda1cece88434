"""Time, injected: code that needs "now" takes a ``Clock`` so that tests move time instead of
waiting for it. Every clock answers a timezone-aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Called with no argument, answers the current time (aware, UTC). A plain function fits."""

    def __call__(self) -> datetime: ...


def system_clock() -> datetime:
    """The machine's clock, in UTC."""
    return datetime.now(UTC)


class SettableClock:
    """A clock that stands still until set or moved (tests, replays)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = system_clock() if now is None else _aware(now)

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = _aware(now)

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move forward by ``delta`` and/or ``timedelta(**parts)`` (``hours=2``); answers the new time."""
        self.now += (delta or timedelta()) + timedelta(**parts)
        return self.now


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("the clock needs an aware datetime")
    return now
