"""One idempotent Kafka producer per process, started lazily and restarted after failures;
topic creation with each topic's record size limit; what "the broker refused this record" means."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
)
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from govmesh_contracts import TOPICS
from govmesh_runtime.logging import get_logger

log = get_logger(__name__)

# The client's own size check must not be below any topic's limit (the broker's is the one that
# counts): the largest DLQ limit, as a dead letter is the largest record the mesh writes.
MAX_REQUEST_BYTES = max(t.dlq_max_message_bytes for t in TOPICS)
# Errors about the record itself: sending it again, or later, meets the same answer.
_REFUSALS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidTopicError, InvalidTimestampError)


def record_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """The size of a one-record batch holding this record: what the producer and the broker
    compare with max.message.bytes."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers))


def is_record_refused(exc: BaseException) -> bool:
    """The broker (or the client's size check) refused this record for what it is: never publishable as is."""
    return isinstance(exc, _REFUSALS)


class ProducerHolder:
    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def get(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers,
                    client_id=self.client_id,
                    # Idempotence forces acks=all and keeps order per partition across retries.
                    enable_idempotence=True,
                    acks="all",
                    linger_ms=2,
                    request_timeout_ms=15000,
                    max_request_size=MAX_REQUEST_BYTES,
                )
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def reset(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception:  # the broker may be gone; the producer is discarded anyway
                log.warning("producer_stop_failed", exc_info=True)

    async def close(self) -> None:
        await self.reset()


async def ensure_topics(bootstrap_servers: str, *, replication_factor: int = 1) -> list[str]:
    """Create every topic of the contracts registry (and its DLQ) that does not exist yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="govmesh-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                t.name,
                t.partitions,
                replication_factor,
                topic_configs={"max.message.bytes": str(t.max_message_bytes)},
            )
            for t in TOPICS
            if t.name not in existing
        ]
        wanted += [
            NewTopic(t.dlq, 1, replication_factor, topic_configs={"max.message.bytes": str(t.dlq_max_message_bytes)})
            for t in TOPICS
            if t.dlq not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another starter
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()
