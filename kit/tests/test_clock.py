"""The one clock: the system's, or one that tests set and move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govmesh_kit.clock import Clock, SettableClock, system_clock

T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_the_system_clock_is_aware_utc() -> None:
    now = system_clock()
    assert now.tzinfo is UTC


def test_a_settable_clock_moves_only_when_told() -> None:
    clock = SettableClock(T0)
    assert clock() == clock() == T0
    assert clock.advance(timedelta(days=31)) == T0 + timedelta(days=31)
    clock.advance(seconds=30)
    assert clock() == T0 + timedelta(days=31, seconds=30)
    clock.set(T0)
    assert clock() == T0


def test_a_settable_clock_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="aware"):
        SettableClock(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        SettableClock(T0).set(datetime(2026, 1, 1))


def test_functions_and_settable_clocks_are_clocks() -> None:
    clocks: list[Clock] = [system_clock, SettableClock(T0), lambda: T0]
    assert all(clock().tzinfo is not None for clock in clocks)
