"""The outbox relay: publishes committed outbox rows to Kafka in id order.

At least once: a row is marked sent only after Kafka acknowledged it (acks=all), so
a crash between the two publishes it again; consumers drop the duplicate by event id.
A row the broker refuses for what it is (RecordTooLarge, an invalid record) would be
refused forever and hold back every row behind it: it is parked (``parked_at`` and the
reason on the row, a metric and an alert) and the relay goes on.
With several instances of a service on one PostgreSQL database, only the instance
holding the leader lease publishes; the others stand by (SQLite is one process anyway).

The lease: a transaction-level advisory lock in a transaction the leader keeps alive with a
heartbeat, under ``idle_in_transaction_session_timeout`` = the lease. A leader that dies loses
its connection and the lock at once; one that HANGS (SIGSTOP, a stuck event loop, a frozen VM)
keeps its TCP connection, but sends no heartbeat, so the server ends its session after the
lease and a standby takes over within lease + its 2 s retry. Fencing on the old leader's side:
it publishes only while its own lease is valid by its monotonic clock (which runs on while the
process is stopped), counted from before its last heartbeat, so it stops believing it leads
before the server frees the lock. Rows it had already handed to the producer when it hung can
still reach the broker after it resumes: those are duplicates of rows the new leader publishes
(same event id), dropped by the consumers' inbox; per key they come after the originals, and a
consumer drops them, so the order of applied events is the order produced.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime import metrics, tracing
from govmesh_runtime.kafka import ProducerHolder, is_record_refused
from govmesh_runtime.logging import get_logger
from govmesh_runtime.retention import outbox_pruner, prune_once
from govmesh_runtime.tables import OutboxMessage

log = get_logger(__name__)
_MAX_BACKOFF_S = 5.0
_LOCK_KEY = 0x676F766D657368  # "govmesh": one outbox relay per service database


class LeaseLost(RuntimeError):
    """This relay no longer holds the leader lease: another may be publishing."""


class UnpublishableRow(ValueError):
    """An outbox row that cannot be made into a Kafka record."""


def _refused(outcome: object) -> bool:
    return isinstance(outcome, UnpublishableRow) or (isinstance(outcome, BaseException) and is_record_refused(outcome))


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
        lease_s: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._leader_engine = leader_engine  # PostgreSQL: elect one publishing relay per database
        self.is_leader = leader_engine is None
        self._lease_s = lease_s
        self._lease_until = float("inf") if leader_engine is None else 0.0  # time.monotonic()
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
            was_leader = False
            try:
                async with self._leader_engine.connect() as conn:
                    started = time.monotonic()
                    # Transaction-local: the pooled connection goes back without either setting.
                    await conn.execute(
                        sa.text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
                        {"ms": f"{int(self._lease_s * 1000)}ms"},
                    )
                    lock = sa.text("SELECT pg_try_advisory_xact_lock(:k)")
                    got = (await conn.execute(lock, {"k": _LOCK_KEY})).scalar()
                    if not got:
                        await conn.rollback()
                        await self._sleep_standby()
                        continue
                    self._lease_until = started + self._lease_s
                    self.is_leader = was_leader = True
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
                self._lease_until = 0.0
                if was_leader:
                    log.info("outbox_relay_standby")

    async def _watch_lock(self, conn: AsyncConnection) -> None:
        """Heartbeat the lease; return when it is lost (the server ended the session, or the
        heartbeat came too late: the process was stopped) or the relay stops."""
        while not self._stopping.is_set():
            sent = time.monotonic()
            if sent >= self._lease_until:
                log.warning("outbox_relay_lease_expired")
                return
            await asyncio.wait_for(conn.execute(sa.text("SELECT 1")), timeout=self._lease_s / 2)
            self._lease_until = sent + self._lease_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._lease_s / 4)

    def holds_lease(self) -> bool:
        """Publish only while this is true (fencing: a resumed old leader stops here)."""
        return time.monotonic() < self._lease_until

    async def _sleep_standby(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=2)

    async def _publish_loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                published = await self.publish_pending()
                self.last_error = None
                backoff = 0.1
            except LeaseLost:
                log.warning("outbox_relay_lease_lost")
                await self._producer.reset()  # what it still holds goes out now or never, not later
                return
            except Exception as exc:
                metrics.RELAY_ERRORS.inc()
                self.last_error = repr(exc)
                log.warning("outbox_publish_failed", error=repr(exc), retry_in_s=backoff)
                await self._producer.reset()
                await self._sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            if published < self._batch_size:
                await self._sleep(self._poll_interval_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)

    async def publish_pending(self) -> int:
        """Publish one batch of unsent rows; return how many were published.

        The database is not held while waiting for Kafka (on SQLite a transaction
        holds the one write lock): read, publish, then mark sent in a second transaction.
        A row the broker refuses for what it is (too large for its topic, invalid) is parked
        and the others go on; any other failure is raised after the acknowledged rows are
        marked sent, and the relay tries again."""
        await self._update_backlog_gauges()  # also (especially) while Kafka is down
        # Connect first: while Kafka is down there is no point reading a batch of rows each retry.
        producer = await self._producer.get()
        if not self.holds_lease():
            raise LeaseLost("the relay's leader lease expired")
        async with self._sessions() as session:
            rows = list(
                (
                    await session.exec(
                        select(OutboxMessage)
                        .where(col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.parked_at).is_(None))
                        .order_by(col(OutboxMessage.id))
                        .limit(self._batch_size)
                    )
                ).all()
            )
            await session.commit()
        if not rows:
            return 0
        # send() only enqueues, in id order; awaiting the futures waits for the broker's acks.
        enqueued: list[tuple[OutboxMessage, asyncio.Future[Any]]] = []
        refused: list[OutboxMessage] = []
        failed: list[BaseException] = []
        if not self.holds_lease():  # reading took too long (or the process was stopped in between)
            raise LeaseLost("the relay's leader lease expired")
        for row in rows:
            try:
                enqueued.append((row, await self._enqueue(producer, row)))
            except Exception as exc:
                if not _refused(exc):  # e.g. the connection: the rest waits for the next round, in order
                    failed.append(exc)
                    break
                refused.append(row)  # the client's own size check: sent alone below, to be sure
        outcomes = await asyncio.gather(*[future for _, future in enqueued], return_exceptions=True)
        sent: list[OutboxMessage] = []
        for (row, _), outcome in zip(enqueued, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                sent.append(row)
            elif _refused(outcome):
                refused.append(row)
            else:
                failed.append(outcome)
        parked: dict[int, str] = {}
        if refused:
            # A refused batch may have held other rows, and it left the idempotent producer's
            # sequence behind: a fresh producer, then each refused row alone, to be sure it is the row.
            await self._producer.reset()
            producer = await self._producer.get()
            for row in refused:
                try:
                    await (await self._enqueue(producer, row))
                    sent.append(row)
                except Exception as exc:
                    if not _refused(exc):
                        failed.append(exc)
                        break
                    parked[row.id or 0] = f"{type(exc).__name__}: {exc}"[:2000]
        now = datetime.now(UTC)
        async with self._sessions() as session:
            if sent:
                ids = [row.id for row in sent]
                await session.exec(sa.update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(sent_at=now))
            for row_id, reason in parked.items():
                await session.exec(
                    sa.update(OutboxMessage)
                    .where(col(OutboxMessage.id) == row_id)
                    .values(parked_at=now, park_reason=reason)
                )
            await session.commit()
        for row in sent:
            metrics.EVENTS_PUBLISHED.labels(row.topic).inc()
        for row in rows:
            if row.id in parked:
                metrics.OUTBOX_PARKED.labels(row.topic).inc()
                log.error(
                    "outbox_row_parked",
                    outbox_id=row.id,
                    event_id=row.event_id,
                    type=row.event_type,
                    topic=row.topic,
                    bytes=len(row.payload),
                    reason=parked[row.id or 0],
                )
        if refused:
            # Rows of a partition behind a refused batch fail with OutOfOrderSequenceNumber; the producer
            # is new now and they are still unsent: the next round publishes them, in order.
            failed = [exc for exc in failed if not isinstance(exc, OutOfOrderSequenceNumber)]
        if failed:
            raise failed[0]
        return len(sent) + len(parked)

    @staticmethod
    async def _enqueue(producer: AIOKafkaProducer, row: OutboxMessage) -> asyncio.Future[Any]:
        """Hand one row to the producer; the future resolves with the broker's answer. A row that
        cannot even be made into a record (e.g. text with lone surrogates) is refused like one the
        broker refuses."""
        try:
            key, value = row.key.encode(), row.payload.encode()
            headers = [(name, text.encode()) for name, text in json.loads(row.headers)]
        except ValueError as exc:  # UnicodeEncodeError, json.JSONDecodeError
            raise UnpublishableRow(f"the row is not a valid record: {exc!r}") from exc
        traceparent = next((v.decode() for name, v in headers if name == "ce_traceparent"), None)
        with tracing.send_span(row.topic, traceparent) as sent_in:
            if sent_in is not None and sent_in != traceparent:  # exporting: the plain header names the send span
                headers = [(n, sent_in.encode() if n == "traceparent" else v) for n, v in headers]
            future: asyncio.Future[Any] = await producer.send(row.topic, value=value, key=key, headers=headers)
        return future

    async def _update_backlog_gauges(self) -> None:
        async with self._sessions() as session:
            count, oldest = (
                await session.exec(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(
                        col(OutboxMessage.sent_at).is_(None), col(OutboxMessage.parked_at).is_(None)
                    )
                )
            ).one()
            parked = (await session.exec(select(func.count()).where(col(OutboxMessage.parked_at).is_not(None)))).one()
            await session.commit()
        metrics.OUTBOX_PARKED_ROWS.set(parked)
        metrics.OUTBOX_BACKLOG.set(count)
        if oldest is not None and oldest.tzinfo is None:  # an aggregate skips the column type's conversion
            oldest = oldest.replace(tzinfo=UTC)
        metrics.OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - oldest).total_seconds() if oldest else 0)

    async def prune(self, now: datetime | None = None) -> None:
        """Clear the payloads of rows sent longer than the payload retention ago; delete rows
        sent longer than the retention ago (the periodic prune job, govmesh_runtime.retention)."""
        pruner = outbox_pruner(self._retention.total_seconds(), self._payload_retention.total_seconds())
        await prune_once(self._sessions, [pruner], now)
