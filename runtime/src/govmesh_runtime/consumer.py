"""The consumer loop: inbox dedupe, bounded retries, dead letters, commits after the database.

For each record: decode it against the contracts (a record that does not decode is
poison: straight to ``<topic>.dlq``); open a unit of work; skip it if the inbox has
its event id; else record it in the inbox, run the handler and commit — all in one
transaction. A handler that keeps failing is dead-lettered after ``max_retries``.
Database outages are not the message's fault: they are retried until the database
is back, holding the partition. Offsets are committed only after the records of a
batch are committed to the database or acknowledged by the DLQ.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from govmesh_contracts import DecodeError, Event, decode
from govmesh_contracts.topics import DLQ_SUFFIX
from govmesh_runtime import metrics
from govmesh_runtime.errors import is_outage
from govmesh_runtime.kafka import ProducerHolder
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
        uow_factory: Callable[..., UnitOfWork],
        producer: ProducerHolder,
        max_retries: int = 3,
        retry_backoff_s: float = 0.2,
        batch_size: int = 200,
    ) -> None:
        self.spec = spec
        self._bootstrap = bootstrap_servers
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
                for tp, records in batches.items():
                    for record in records:
                        await self._process(record)
                    metrics.CONSUMER_LAG.labels(self.spec.name, tp.topic, str(tp.partition)).set(
                        max((consumer.highwater(tp) or 0) - (records[-1].offset + 1), 0)
                    )
                if batches:
                    await consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
        finally:
            self._consumer = None
            await consumer.stop()

    async def _process(self, record: ConsumerRecord[bytes, bytes]) -> None:
        headers = list(record.headers or ())
        try:
            envelope, event = decode(headers, record.value)
        except DecodeError as exc:
            await self._dead_letter(record, f"undecodable: {exc}")
            return
        handler = self.spec.handlers.get(type(event))
        if handler is None:
            metrics.EVENTS_CONSUMED.labels(self.spec.name, record.topic, "ignored").inc()
            return
        structlog.contextvars.bind_contextvars(
            correlation_id=envelope.correlationid, event_id=envelope.id, trace_id=trace_id(envelope.traceparent)
        )
        name = handler_name(handler)
        try:
            attempt = 0
            backoff = self._retry_backoff_s
            while True:
                attempt += 1
                started = time.perf_counter()
                try:
                    outcome = await self._apply(handler, envelope, event, record)
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
                    if is_outage(exc):
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
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id", "event_id", "trace_id")

    async def _apply(self, handler: Handler, envelope: Any, event: Event, record: ConsumerRecord[bytes, bytes]) -> str:
        with hop(f"handle {envelope.type}", envelope.traceparent, "consumer") as traceparent:
            return await self._apply_in_hop(handler, envelope, event, record, traceparent)

    async def _apply_in_hop(
        self, handler: Handler, envelope: Any, event: Event, record: ConsumerRecord[bytes, bytes], traceparent: str
    ) -> str:
        async with self._uow_factory(
            correlation_id=envelope.correlationid, causation_id=envelope.id, traceparent=traceparent
        ) as uow:
            if await uow.seen(self.spec.name, envelope.id):
                return "duplicate"
            uow.record_inbox(self.spec.name, envelope, record.topic, record.partition, record.offset)
            await handler(event, uow)
            await uow.commit()
            return "processed"

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        log.error("dead_lettered", topic=record.topic, partition=record.partition, offset=record.offset, reason=reason)
        headers = [h for h in (record.headers or ()) if not h[0].startswith("dlq_")]
        headers += [
            ("dlq_reason", reason[:2000].encode()),
            ("dlq_consumer", self.spec.name.encode()),
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
        ]
        dlq_topic = record.topic + DLQ_SUFFIX
        backoff = 0.5
        # The offset is committed only after the DLQ acknowledged the record.
        while True:
            try:
                producer = await self._producer.get()
                await (await producer.send(dlq_topic, value=record.value, key=record.key, headers=headers))
                break
            except Exception as exc:
                if self._stopping.is_set():
                    raise
                log.warning("dlq_publish_failed", error=repr(exc), retry_in_s=backoff)
                await self._producer.reset()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
        metrics.DLQ_MESSAGES.labels(record.topic).inc()
        metrics.EVENTS_CONSUMED.labels(self.spec.name, record.topic, "dead_lettered").inc()
