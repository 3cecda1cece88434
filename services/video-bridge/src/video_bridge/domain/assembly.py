"""Answers split over several messages (catalog, record lists), assembled by SumNum."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Pending(Generic[T]):
    total: int
    started: float
    items: dict[str, T] = field(default_factory=dict)


class Assembler(Generic[T]):
    """Collects the parts of one answer, keyed by (device, SN); items are deduplicated
    by their own key (a retransmitted part adds nothing). ``add`` returns the whole
    answer once SumNum items arrived, else None; ``expire`` drops answers that never completed."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._pending: dict[tuple[str, str], _Pending[T]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: tuple[str, str], total: int, items: list[tuple[str, T]], now: float) -> list[T] | None:
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(total=total, started=now)
        pending.total = max(pending.total, total)
        for item_key, item in items:
            pending.items[item_key] = item
        if len(pending.items) >= pending.total:
            del self._pending[key]
            return list(pending.items.values())
        return None

    def expire(self, now: float) -> list[tuple[tuple[str, str], list[T]]]:
        """The incomplete answers older than the timeout, removed, with what had arrived."""
        old = [key for key, p in self._pending.items() if now - p.started > self.timeout_s]
        return [(key, list(self._pending.pop(key).items.values())) for key in old]
