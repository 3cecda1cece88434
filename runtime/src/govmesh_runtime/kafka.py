"""One idempotent Kafka producer per process, started lazily and restarted after failures;
how every client connects (``KafkaSecurity``: TLS, SASL); topic creation with each topic's
record size limit, replication factor and min ISR; what "the broker refused this record" means."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
)
from aiokafka.helpers import create_ssl_context
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from govmesh_contracts import TOPICS
from govmesh_runtime.logging import get_logger

log = get_logger(__name__)

# The client's own size check must not be below any topic's limit (the broker's is the one that
# counts): the largest DLQ limit, as a dead letter is the largest record the mesh writes.
MAX_REQUEST_BYTES = max(t.dlq_max_message_bytes for t in TOPICS)
# Errors about the record itself: sending it again, or later, meets the same answer.
_REFUSALS = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidTopicError, InvalidTimestampError)


# A dead letter waits for a person (govmesh-dlq): far longer than the broker's 7-day default.
DEFAULT_DLQ_RETENTION_MS = 90 * 24 * 3600 * 1000
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


class KafkaSettingsError(ValueError):
    """A Kafka connection setting is missing or wrong; the message names the variable."""


@dataclass(frozen=True)
class KafkaSecurity:
    """How a client connects: protocol, SASL mechanism and credentials, the CA to trust.
    The default is the development broker's plain listener."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise KafkaSettingsError(
                f"KAFKA_SECURITY_PROTOCOL: {self.protocol!r} is not one of {', '.join(SECURITY_PROTOCOLS)}"
            )
        if self.protocol.startswith("SASL_"):
            if self.sasl_mechanism not in SASL_MECHANISMS:
                raise KafkaSettingsError(
                    f"KAFKA_SASL_MECHANISM: {self.sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
                )
            if not self.username or not self.password:
                raise KafkaSettingsError(
                    f"KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD: {self.protocol} needs a user and a password"
                    " (a service reads <PREFIX>KAFKA_SASL_USERNAME / <PREFIX>KAFKA_SASL_PASSWORD, e.g."
                    " INTAKE_KAFKA_SASL_PASSWORD)"
                )
        if self.cafile and not os.path.isfile(self.cafile):
            raise KafkaSettingsError(f"KAFKA_SSL_CAFILE: {self.cafile} is not a file")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> KafkaSecurity:
        """The mesh-wide variables (tools such as govmesh-topics and govmesh-dlq; usually the admin user)."""
        env = os.environ if env is None else env
        return cls(
            protocol=env.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper(),
            sasl_mechanism=env.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512").upper(),
            username=env.get("KAFKA_SASL_USERNAME") or None,
            password=env.get("KAFKA_SASL_PASSWORD") or None,
            cafile=env.get("KAFKA_SSL_CAFILE") or None,
        )

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            # the system's CAs unless a CA file is given; the broker's name (or IP) is checked
            options["ssl_context"] = create_ssl_context(cafile=self.cafile)
        if self.protocol.startswith("SASL_"):
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.username
            options["sasl_plain_password"] = self.password
        return options


PLAINTEXT = KafkaSecurity()


def record_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    """The size of a one-record batch holding this record: what the producer and the broker
    compare with max.message.bytes."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers))


def is_record_refused(exc: BaseException) -> bool:
    """The broker (or the client's size check) refused this record for what it is: never publishable as is."""
    return isinstance(exc, _REFUSALS)


class ProducerHolder:
    def __init__(self, bootstrap_servers: str, client_id: str, security: KafkaSecurity = PLAINTEXT) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.security = security
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
                    **self.security.client_options(),
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


@dataclass(frozen=True)
class TopicLayout:
    """How the mesh's topics are created on a cluster of ``brokers`` brokers."""

    replication_factor: int
    min_insync_replicas: int
    dlq_retention_ms: int


def topic_layout(
    brokers: int,
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    dlq_retention_ms: int = DEFAULT_DLQ_RETENTION_MS,
) -> TopicLayout:
    """Defaults: RF = min(3, brokers); min ISR 2 when RF is 3 or more (acks=all then survives one
    broker down and never rests on a single copy), else 1."""
    rf = replication_factor or min(3, brokers)
    if rf > brokers:
        raise KafkaSettingsError(f"KAFKA_REPLICATION_FACTOR: {rf} but the cluster has {brokers} broker(s)")
    isr = min_insync_replicas or (2 if rf >= 3 else 1)
    if isr > rf:
        raise KafkaSettingsError(f"KAFKA_MIN_INSYNC_REPLICAS: {isr} is more than the replication factor {rf}")
    if dlq_retention_ms < 24 * 3600 * 1000 and dlq_retention_ms != -1:
        raise KafkaSettingsError("KAFKA_DLQ_RETENTION_MS: at least one day (86400000), or -1 to keep forever")
    return TopicLayout(rf, isr, dlq_retention_ms)


async def ensure_topics(
    bootstrap_servers: str,
    *,
    security: KafkaSecurity = PLAINTEXT,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    dlq_retention_ms: int = DEFAULT_DLQ_RETENTION_MS,
) -> list[str]:
    """Create every topic of the contracts registry (and its DLQ) that does not exist yet, with
    the replication factor and min ISR of ``topic_layout`` for the brokers the cluster reports.
    Existing topics are left as they are (an operator changes them with Kafka's own tools)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="govmesh-topics", **security.client_options()
    )
    await admin.start()
    try:
        brokers = len((await admin.describe_cluster())["brokers"])
        layout = topic_layout(
            brokers,
            replication_factor=replication_factor,
            min_insync_replicas=min_insync_replicas,
            dlq_retention_ms=dlq_retention_ms,
        )
        rf, isr = layout.replication_factor, str(layout.min_insync_replicas)
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                t.name,
                t.partitions,
                rf,
                topic_configs={"max.message.bytes": str(t.max_message_bytes), "min.insync.replicas": isr},
            )
            for t in TOPICS
            if t.name not in existing
        ]
        wanted += [
            NewTopic(
                t.dlq,
                1,
                rf,
                topic_configs={
                    "max.message.bytes": str(t.dlq_max_message_bytes),
                    "min.insync.replicas": isr,
                    "retention.ms": str(layout.dlq_retention_ms),
                },
            )
            for t in TOPICS
            if t.dlq not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # created concurrently by another starter
                await admin.create_topics(wanted)
        return [t.name for t in wanted]
    finally:
        await admin.close()
