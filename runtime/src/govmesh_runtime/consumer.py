"""The consumer loop: inbox dedupe, bounded retries, dead letters, commits after the database.

Each record is decoded against the contracts (a record that does not decode, whatever
the exception, is poison: straight to ``<topic>.dlq``). The decoded records of one partition's ``getmany`` batch
are applied in one unit of work: one inbox query for all their event ids, each new
record's inbox row and handler, one commit — so a batch costs one transaction instead
of one per record. When a handler fails, the batch is rolled back and applied again
without it: the records before it together, the failing one alone with bounded retries
(dead-lettered after ``max_retries``), the records after it together again. The inbox
row is written in the same transaction as the handler's effects, so whatever is
redelivered after a crash or a rolled-back batch is applied exactly once.
Database outages, deadlocks and serialization failures are not the message's fault: they
are retried until they pass, holding the partition. Offsets are committed only after the
records of a batch are committed to the database or acknowledged by the DLQ, partition by
partition: one partition's failure does not hold back what the others applied.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from govmesh_contracts import DecodeError, Envelope, Event, decode
from govmesh_contracts.topics import DLQ_SUFFIX
from govmesh_kit.masking import mask_personal_data
from govmesh_runtime import metrics
from govmesh_runtime.errors import is_conflict, is_outage
from govmesh_runtime.kafka import PLAINTEXT, KafkaSecurity, ProducerHolder, is_record_refused
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tracing import hop, trace_id
from govmesh_runtime.uow import UnitOfWork

log = get_logger(__name__)

Handler = Callable[[Any, UnitOfWork], Awaitable[None]]
_MAX_BACKOFF_S = 5.0


def handler_name(handler: Handler) -> str:
    """A readable name for metrics and logs, also for functools.partial handlers."""
    return str(getattr(handler, "__name__", None) or getattr(getattr(handler, "func", None), "__name__", "handler"))


@dataclass(frozen=True)
class _Item:
    """A decoded record with the handler for its event class."""

    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope
    event: Event
    handler: Handler


@contextmanager
def _bound(envelope: Envelope) -> Iterator[None]:
    """The record's ids on every log line written while it is handled."""
    structlog.contextvars.bind_contextvars(
        correlation_id=envelope.correlationid, event_id=envelope.id, trace_id=trace_id(envelope.traceparent)
    )
    try:
        yield
    finally:
        structlog.contextvars.unbind_contextvars("correlation_id", "event_id", "trace_id")


@dataclass(frozen=True)
class ConsumerSpec:
    """What a service consumes: a group name, its topics and one handler per event class."""

    name: str
    topics: tuple[str, ...]
    handlers: Mapping[type[Event], Handler]


class EventConsumer:
    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        bootstrap_servers: str,
        security: KafkaSecurity = PLAINTEXT,
        uow_factory: Callable[..., UnitOfWork],
        producer: ProducerHolder,
        max_retries: int = 3,
        retry_backoff_s: float = 0.2,
        batch_size: int = 200,
    ) -> None:
        self.spec = spec
        self._bootstrap = bootstrap_servers
        self._security = security
        self._uow_factory = uow_factory
        self._producer = producer
        self._max_retries = max_retries
        self._retry_backoff_s = retry_backoff_s
        self._batch_size = batch_size
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def ready(self) -> bool:
        return self._consumer is not None and bool(self._consumer.assignment())

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                await self._run_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer_failed", consumer=self.spec.name, error=repr(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _run_once(self) -> None:
        consumer = AIOKafkaConsumer(
            *self.spec.topics,
            bootstrap_servers=self._bootstrap,
            group_id=self.spec.name,
            client_id=self.spec.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._batch_size,
            **self._security.client_options(),
        )
        try:
            await consumer.start()
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=self._batch_size)
                done: dict[TopicPartition, int] = {}
                try:
                    for tp, records in batches.items():
                        await self.process_batch(records)
                        done[tp] = records[-1].offset + 1
                        metrics.CONSUMER_LAG.labels(self.spec.name, tp.topic, str(tp.partition)).set(
                            max((consumer.highwater(tp) or 0) - (records[-1].offset + 1), 0)
                        )
                finally:
                    # What is applied is committed, also when a later partition of the batch failed:
                    # one partition's trouble does not hold the others' offsets back.
                    if done and not self._stopping.is_set():
                        await consumer.commit(done)
        finally:
            self._consumer = None
            await consumer.stop()

    async def process_batch(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Decode a partition's records (poison to the DLQ), then apply the rest in as few transactions as can be.

        The run loop calls it for each partition of a getmany; tests drive it directly."""
        items: list[_Item] = []
        for record in records:
            try:
                envelope, event = decode(list(record.headers or ()), record.value)
            except DecodeError as exc:
                await self._dead_letter(record, f"undecodable: {exc}")
                continue
            except Exception as exc:  # any failure to decode is the record's, never the group's
                # e.g. RecursionError from deeply nested JSON, a header value that is not bytes
                await self._dead_letter(record, f"undecodable: {type(exc).__name__}: {exc}")
                continue
            handler = self.spec.handlers.get(type(event))
            if handler is None:
                metrics.EVENTS_CONSUMED.labels(self.spec.name, record.topic, "ignored").inc()
                continue
            items.append(_Item(record, envelope, event, handler))
        await self._apply_all(items)

    async def _apply_all(self, items: list[_Item]) -> None:
        """Apply items in order: together while they succeed; a failing one alone, with its retries."""
        while items:
            if len(items) == 1:
                await self._process(items[0])
                return
            failure = await self._apply_together(items)
            if failure is None:
                return
            index, exc = failure
            if index is None:  # the commit failed, not one handler: no culprit to set apart
                for item in items:
                    await self._process(item)
                return
            await self._apply_all(items[:index])  # they did not fail; the rollback undid them
            await self._process(items[index], failed_once=exc)
            items = items[index + 1 :]

    async def _apply_together(self, items: list[_Item]) -> tuple[int | None, Exception] | None:
        """One transaction for all items. None when committed; else which item failed (None: the
        commit) and why, with everything rolled back. Database outages are waited out here."""
        backoff = self._retry_backoff_s
        while True:
            failed_at: int | None = None
            started = time.perf_counter()
            outcomes: list[str] = []
            try:
                async with self._uow_factory() as uow:
                    seen = await uow.seen_many(self.spec.name, [item.envelope.id for item in items])
                    for index, item in enumerate(items):
                        failed_at = index
                        if item.envelope.id in seen:
                            outcomes.append("duplicate")
                            continue
                        seen.add(item.envelope.id)  # the same event twice in one batch: applied once
                        with _bound(item.envelope):
                            await self._apply_in(uow, item)
                        outcomes.append("processed")
                    failed_at = None
                    await uow.commit()
            except Exception as exc:
                if self._stopping.is_set():
                    raise  # shutting down: leave the offsets uncommitted, the records come again
                if is_outage(exc) or is_conflict(exc):
                    log.warning("batch_infrastructure_error", consumer=self.spec.name, error=repr(exc))
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
                if failed_at is not None:
                    metrics.HANDLER_DURATION.labels(handler_name(items[failed_at].handler), "error").observe(
                        time.perf_counter() - started
                    )
                log.info("batch_rolled_back", consumer=self.spec.name, size=len(items), failed_at=failed_at)
                return failed_at, exc
            elapsed = time.perf_counter() - started
            for item, outcome in zip(items, outcomes, strict=True):
                name = handler_name(item.handler)
                # the batch's time spread over its records: what one record cost
                metrics.HANDLER_DURATION.labels(name, "ok").observe(elapsed / len(items))
                metrics.EVENTS_CONSUMED.labels(self.spec.name, item.record.topic, outcome).inc()
                with _bound(item.envelope):  # one line per record with its trace, as when applied alone
                    log.info(
                        "event_handled",
                        handler=name,
                        type=item.envelope.type,
                        outcome=outcome,
                        batch=len(items),
                        batch_duration_ms=round(elapsed * 1000, 1),
                    )
            return None

    async def _process(self, item: _Item, *, failed_once: Exception | None = None) -> None:
        """Apply one item in its own transaction, retrying a failing handler up to max_retries
        (``failed_once``: its first attempt already failed in a batch) before dead-lettering it."""
        record, envelope, handler = item.record, item.envelope, item.handler
        name = handler_name(handler)
        with _bound(envelope):
            attempt = 0
            backoff = self._retry_backoff_s
            if failed_once is not None:
                attempt = 1
                log.warning("handler_failed", handler=name, attempt=attempt, error=repr(failed_once))
                if attempt >= self._max_retries:
                    await self._dead_letter(record, f"handler {name} failed {attempt} times: {failed_once!r}")
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    outcome = await self._apply(item)
                    elapsed = time.perf_counter() - started
                    metrics.HANDLER_DURATION.labels(name, "ok").observe(elapsed)
                    log.info(
                        "event_handled",
                        handler=name,
                        type=envelope.type,
                        outcome=outcome,
                        duration_ms=round(elapsed * 1000, 1),
                    )
                    metrics.EVENTS_CONSUMED.labels(self.spec.name, record.topic, outcome).inc()
                    return
                except Exception as exc:
                    metrics.HANDLER_DURATION.labels(name, "error").observe(time.perf_counter() - started)
                    if self._stopping.is_set():
                        raise  # shutting down: leave the offset uncommitted, the record comes again
                    if is_outage(exc) or is_conflict(exc):
                        # a deadlock or serialization failure is a concurrent transaction's doing, not the message's
                        log.warning("handler_infrastructure_error", handler=name, error=repr(exc))
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, _MAX_BACKOFF_S)
                        attempt -= 1  # an outage does not count against the message
                        continue
                    log.warning("handler_failed", handler=name, attempt=attempt, error=repr(exc))
                    if attempt >= self._max_retries:
                        await self._dead_letter(record, f"handler {name} failed {attempt} times: {exc!r}")
                        return
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)

    async def _apply(self, item: _Item) -> str:
        async with self._uow_factory() as uow:
            if await uow.seen(self.spec.name, item.envelope.id):
                return "duplicate"
            await self._apply_in(uow, item)
            await uow.commit()
            return "processed"

    async def _apply_in(self, uow: UnitOfWork, item: _Item) -> None:
        """The item's inbox row and its handler's effects, in the caller's transaction; the events
        the handler emits carry this record's correlation, causation and trace."""
        envelope = item.envelope
        with hop(f"handle {envelope.type}", envelope.traceparent, "consumer") as traceparent:
            uow.correlation_id, uow.causation_id, uow.traceparent = envelope.correlationid, envelope.id, traceparent
            uow.record_inbox(self.spec.name, envelope, item.record.topic, item.record.partition, item.record.offset)
            await item.handler(item.event, uow)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        log.error("dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset, reason=reason)
        headers = [h for h in (record.headers or ()) if not h[0].startswith("dlq_")]
        headers += [
            ("dlq_reason", mask_personal_data(reason)[:2000].encode()),  # an exception's text may quote a resident
            ("dlq_consumer", self.spec.name.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        dlq_topic = record.topic + DLQ_SUFFIX
        value = record.value
        backoff = 0.5
        # The offset is committed only after the DLQ acknowledged the record.
        while True:
            try:
                producer = await self._producer.get()
                await (await producer.send(dlq_topic, value=value, key=record.key, headers=headers))
                break
            except Exception as exc:
                if self._stopping.is_set():
                    raise
                if is_record_refused(exc) and value is not None:
                    # Too large for the DLQ topic even with its headroom (a topic created with other
                    # limits): keep the headers, which say where the original lies, not the value.
                    log.error("dlq_value_dropped", topic=record.topic, offset=record.offset, error=repr(exc))
                    headers.append(("dlq_value_dropped", f"{len(value)} bytes: {exc!r}"[:500].encode()))
                    value = None
                    await self._producer.reset()  # a refused batch leaves the idempotent sequence behind
                    continue
                log.warning("dlq_publish_failed", error=repr(exc), retry_in_s=backoff)
                await self._producer.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        metrics.DLQ_MESSAGES.labels(record.topic).inc()
        metrics.EVENTS_CONSUMED.labels(self.spec.name, record.topic, "dead_lettered").inc()
