"""Bounded tables: sent outbox rows, inbox rows (and a service's own, e.g. intake's idempotency
keys) are deleted once older than their retention, by a periodic job every instance runs.

Why the inbox may forget an event at all, and when: a consumer sees an event again only while
its record is still in the topic (a redelivery after a crash, a group reset to the earliest
offset, a rebalance): at most the topic's retention after it was produced, hence after it was
first applied. So an inbox row kept at least ``GOVMESH_TOPIC_RETENTION_S`` (the brokers'
``retention.ms``, Kafka's default seven days) still drops every redelivery of a record the
broker can still deliver; a shorter inbox retention is refused at start (``ServiceSettings``).
A relay that publishes a row again (it died between Kafka's ack and marking the row sent) does
so within its lease after the instance comes back, far inside that window. Dead letters were
never applied, so replaying them needs no inbox row.

Deletes go in batches by primary key, so neither SQLite's one writer nor a PostgreSQL table
is held for long, and several instances pruning at once only delete the same rows twice."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime import metrics
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tables import InboxMessage, OutboxMessage

log = get_logger(__name__)

_BATCH = 5000

# One pruning step: (sessions, now) -> rows deleted.
Pruner = Callable[[async_sessionmaker[AsyncSession], datetime], Awaitable[int]]


async def delete_older_than(
    sessions: async_sessionmaker[AsyncSession],
    table: sa.Table,
    stamp: sa.ColumnElement[Any],
    cutoff: datetime,
    *,
    where: Sequence[sa.ColumnElement[bool]] = (),
    batch: int = _BATCH,
) -> int:
    """Delete the rows whose ``stamp`` is before ``cutoff`` (and ``where``), ``batch`` rows per
    transaction; return how many."""
    (key,) = table.primary_key.columns
    total = 0
    while True:
        async with sessions() as session:
            chosen = sa.select(key).where(stamp < cutoff, *where).order_by(key).limit(batch)
            result = await session.exec(sa.delete(table).where(key.in_(chosen.scalar_subquery())))
            await session.commit()
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch:
            return total
        await asyncio.sleep(0)  # let requests in between batches


def inbox_pruner(retention_s: float) -> Pruner:
    async def prune_inbox(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
        table = InboxMessage.__table__  # type: ignore[attr-defined]
        return await delete_older_than(sessions, table, table.c.processed_at, now - timedelta(seconds=retention_s))

    return prune_inbox


def outbox_pruner(retention_s: float, payload_retention_s: float) -> Pruner:
    """Sent rows: the payload (it may name a resident) is cleared after ``payload_retention_s``,
    the row (id, type, topic, times: tracing) deleted after ``retention_s``. Unsent and parked
    rows are never pruned."""

    async def prune_outbox(sessions: async_sessionmaker[AsyncSession], now: datetime) -> int:
        table = OutboxMessage.__table__  # type: ignore[attr-defined]
        async with sessions() as session:
            await session.exec(
                sa.update(table)
                .where(
                    table.c.sent_at.is_not(None),
                    table.c.sent_at < now - timedelta(seconds=payload_retention_s),
                    table.c.payload != "",
                )
                .values(payload="")
            )
            await session.commit()
        return await delete_older_than(
            sessions,
            table,
            table.c.sent_at,
            now - timedelta(seconds=retention_s),
            where=[table.c.sent_at.is_not(None)],
        )

    return prune_outbox


async def prune_once(
    sessions: async_sessionmaker[AsyncSession], pruners: Sequence[Pruner], now: datetime | None = None
) -> dict[str, int]:
    """One round of every pruner; a failing one is logged and the others still run."""
    now = now or datetime.now(UTC)
    deleted: dict[str, int] = {}
    for pruner in pruners:
        name = getattr(pruner, "__name__", "prune")
        try:
            deleted[name] = await pruner(sessions, now)
        except Exception:
            log.warning("prune_failed", pruner=name, exc_info=True)
            continue
        metrics.ROWS_PRUNED.labels(name.removeprefix("prune_")).inc(deleted[name])
    if any(deleted.values()):
        log.info("tables_pruned", **deleted)
    return deleted
