"""The outbox relay: publishes committed outbox rows to Kafka in id order.

At least once: a row is marked sent only after Kafka acknowledged it (acks=all), so
a crash between the two publishes it again; consumers drop the duplicate by event id.
With several instances of a service on one PostgreSQL database, only the instance
holding a session-level advisory lock publishes; the others stand by and take over
when its connection goes (SQLite is one process anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime import metrics
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tables import OutboxMessage

log = get_logger(__name__)
_MAX_BACKOFF_S = 5.0
_LOCK_KEY = 0x676F766D657368  # "govmesh": one outbox relay per service database


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        producer: ProducerHolder,
        *,
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        retention_s: float = 7 * 24 * 3600,
        payload_retention_s: float = 24 * 3600,
        leader_engine: AsyncEngine | None = None,
    ) -> None:
        self._sessions = sessions
        self._leader_engine = leader_engine  # PostgreSQL: elect one publishing relay per database
        self.is_leader = leader_engine is None
        self._producer = producer
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retention = timedelta(seconds=retention_s)
        # A sent event's payload (it may name a resident) is kept only this long; the row (its id,
        # type, topic, times) stays until _retention for tracing.
        self._payload_retention = timedelta(seconds=payload_retention_s)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self.last_error: str | None = None

    def notify(self) -> None:
        """Called after a commit that wrote outbox rows: publish now instead of at the next poll."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def run(self) -> None:
        if self._leader_engine is None:
            await self._publish_loop()
            return
        while not self._stopping.is_set():
            try:
                async with self._leader_engine.connect() as conn:
                    got = (await conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})).scalar()
                    if not got:
                        await self._sleep_standby()
                        continue
                    self.is_leader = True
                    log.info("outbox_relay_leader")
                    watch = asyncio.create_task(self._watch_lock(conn))
                    loop = asyncio.create_task(self._publish_loop())
                    await asyncio.wait({watch, loop}, return_when=asyncio.FIRST_COMPLETED)
                    for task in (watch, loop):
                        task.cancel()
                    await asyncio.gather(watch, loop, return_exceptions=True)
            except Exception as exc:
                log.warning("outbox_relay_lock_failed", error=repr(exc))
                await self._sleep_standby()
            finally:
                self.is_leader = False

    async def _watch_lock(self, conn: AsyncConnection) -> None:
        """Return when the lock's connection is gone (the lock with it) or the relay stops."""
        while not self._stopping.is_set():
            await conn.execute(sa.text("SELECT 1"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=2)

    async def _sleep_standby(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=2)

    async def _publish_loop(self) -> None:
        backoff = 0.1
        last_prune = datetime.min.replace(tzinfo=UTC)
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                published = await self.publish_pending()
                self.last_error = None
                backoff = 0.1
            except Exception as exc:
                metrics.RELAY_ERRORS.inc()
                self.last_error = repr(exc)
                log.warning("outbox_publish_failed", error=repr(exc), retry_in_s=backoff)
                await self._producer.reset()
                await self._sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            if datetime.now(UTC) - last_prune > timedelta(hours=1):
                last_prune = datetime.now(UTC)
                await self.prune()
            if published < self._batch_size:
                await self._sleep(self._poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; return how many were published.

        The database is not held while waiting for Kafka (on SQLite a transaction
        holds the one write lock): read, publish, then mark sent in a second transaction."""
        await self._update_backlog_gauges()  # also (especially) while Kafka is down
        # Connect first: while Kafka is down there is no point reading a batch of rows each retry.
        producer = await self._producer.get()
        async with self._sessions() as session:
            rows = list(
                (
                    await session.exec(
                        select(OutboxMessage)
                        .where(col(OutboxMessage.sent_at).is_(None))
                        .order_by(col(OutboxMessage.id))
                        .limit(self._batch_size)
                    )
                ).all()
            )
            await session.commit()
        if not rows:
            return 0
        # send() only enqueues; awaiting the futures waits for the broker's acks.
        futures = [
            await producer.send(
                row.topic,
                value=row.payload.encode(),
                key=row.key.encode(),
                headers=[(name, value.encode()) for name, value in json.loads(row.headers)],
            )
            for row in rows
        ]
        await asyncio.gather(*futures)
        async with self._sessions() as session:
            ids = [row.id for row in rows]
            await session.exec(
                sa.update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(sent_at=datetime.now(UTC))
            )
            await session.commit()
        for row in rows:
            metrics.EVENTS_PUBLISHED.labels(row.topic).inc()
        return len(rows)

    async def _update_backlog_gauges(self) -> None:
        async with self._sessions() as session:
            count, oldest = (
                await session.exec(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(col(OutboxMessage.sent_at).is_(None))
                )
            ).one()
            await session.commit()
        metrics.OUTBOX_BACKLOG.set(count)
        if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the column type's conversion
            oldest = oldest.replace(tzinfo=UTC)
        metrics.OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)

    async def prune(self) -> None:
        """Clear the payloads of rows sent longer than the payload retention ago; delete rows
        sent longer than the retention ago (hourly, from the publish loop)."""
        now = datetime.now(UTC)
        try:
            async with self._sessions() as session:
                await session.exec(
                    sa.update(OutboxMessage)
                    .where(
                        col(OutboxMessage.sent_at).is_not(None),
                        col(OutboxMessage.sent_at) < now - self._payload_retention,
                        col(OutboxMessage.payload) != "",
                    )
                    .values(payload="")
                )
                await session.exec(
                    sa.delete(OutboxMessage).where(
                        col(OutboxMessage.sent_at).is_not(None),
                        col(OutboxMessage.sent_at) < now - self._retention,
                    )
                )
                await session.commit()
        except Exception:
            log.warning("outbox_prune_failed", exc_info=True)
