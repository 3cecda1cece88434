"""Assignment of a grid-worker task: the grid's own worker first, then the community's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerLoad:
    worker_id: str
    grid_code: str
    on_duty: bool
    open_tasks: int


def choose_worker(grid_code: str, community_workers: Sequence[WorkerLoad], max_load: int) -> WorkerLoad | None:
    """The least-loaded on-duty worker of the grid below ``max_load``; else the least-loaded
    such worker of the same community; None when nobody can take it (the centre holds it)."""
    available = [w for w in community_workers if w.on_duty and w.open_tasks < max_load]
    own = [w for w in available if w.grid_code == grid_code]
    for pool in (own, available):
        if pool:
            return min(pool, key=lambda w: (w.open_tasks, w.worker_id))
    return None
