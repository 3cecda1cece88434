"""Periodic jobs: one loop for every "every N seconds, do this" of the services.

A round that fails is logged and counted (``govmesh_job_runs_total{job, outcome}``) and the loop
goes on at the next interval: a database hiccup does not end the job. A round that returns a
true value (e.g. a full batch of due rows) is followed by another one at once, so a backlog is
drained without waiting an interval per batch. The first round comes after one interval, not at
start: a test driving the work itself (with a long interval) never races the loop, and a fleet
restarting together does not hit the database at once (``jitter`` spreads the rounds further).

Work from tables, not memory: a job that stops (shutdown, crash) loses nothing, the next round
finds the rows again; with several instances, claim rows with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from govmesh_runtime import metrics
from govmesh_runtime.logging import get_logger

log = get_logger(__name__)

Work = Callable[[], Awaitable[object]]


async def every(
    interval_s: float,
    work: Work,
    *,
    name: str | None = None,
    stopping: asyncio.Event | None = None,
    jitter: float = 0.0,
) -> None:
    """Run ``work`` every ``interval_s`` until ``stopping`` is set (or the task is cancelled).

    ``jitter``: each pause is ``interval_s`` times a random factor in [1 - jitter, 1]."""
    job = name or getattr(work, "__name__", "job")
    stopping = stopping or asyncio.Event()
    again = False
    while not stopping.is_set():
        if not again:
            pause = interval_s * random.uniform(1.0 - jitter, 1.0) if jitter else interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=pause)
            if stopping.is_set():
                return
        try:
            again = bool(await work())
            metrics.JOB_RUNS.labels(job, "ok").inc()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            metrics.JOB_RUNS.labels(job, "error").inc()
            log.warning("job_failed", job=job, error=repr(exc))
            again = False


def periodic(
    interval_s: float, work: Callable[[Any], Awaitable[object]], *, name: str | None = None, jitter: float = 0.0
) -> Callable[[Any], Coroutine[Any, Any, None]]:
    """A background job for ``create_app(background=[...])``: ``work(runtime)`` every ``interval_s``."""
    job = name or getattr(work, "__name__", "job")

    async def run(runtime: Any) -> None:
        await every(interval_s, lambda: work(runtime), name=job, jitter=jitter)

    run.__name__ = str(job)
    return run
