"""Any record that fails to decode is dead-lettered, whatever the exception (unit: a fake producer)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from govmesh_contracts import CaseReceived, encode, envelope_for
from govmesh_runtime.consumer import ConsumerSpec, EventConsumer
from govmesh_runtime.kafka import ProducerHolder


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value, list(headers)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class FakeHolder(ProducerHolder):
    def __init__(self) -> None:
        super().__init__("127.0.0.1:1", "unit")
        self.fake = FakeProducer()

    async def get(self) -> Any:
        return self.fake


def record(value: bytes, headers: list[tuple[str, Any]], offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("intake.cases.v1", 0, offset, 0, 0, b"k", value, None, 1, len(value), headers)


def headers() -> list[tuple[str, bytes]]:
    event = CaseReceived(
        case_id=uuid.uuid4(),
        case_number="620702-20261203-000001",
        matter_code="dispute.neighbour",
        channel="api",
        description="x",
        received_at=datetime.now(UTC),
    )
    return encode(event, envelope_for(event, source="/govmesh/intake")).headers


@pytest.mark.parametrize(
    ("value", "hdrs", "reason"),
    [
        (b"[" * 50_000 + b"]" * 50_000, headers(), "recursion depth"),
        (b'{"description": "\xff"}', headers(), "utf-8"),
        (b"[1]", headers(), "payload is not a valid"),
        # a header value of the wrong type (a client library that hands over str): AttributeError today
        (b"{}", [(k, v.decode()) if k == "ce_id" else (k, v) for k, v in headers()], "AttributeError"),
    ],
)
async def test_any_record_that_fails_to_decode_is_dead_lettered(value: bytes, hdrs: Any, reason: str) -> None:
    holder = FakeHolder()
    consumer = EventConsumer(
        ConsumerSpec(name="unit", topics=("intake.cases.v1",), handlers={}),
        bootstrap_servers="127.0.0.1:1",
        uow_factory=lambda **kw: None,  # type: ignore[arg-type,return-value]
        producer=holder,
    )
    await consumer.process_batch([record(value, hdrs, offset=7)])
    assert len(holder.fake.sent) == 1
    topic, sent_value, sent_headers = holder.fake.sent[0]
    assert topic == "intake.cases.v1.dlq"
    assert sent_value == value
    found = dict(sent_headers)
    assert reason in found["dlq_reason"].decode()
    assert found["dlq_original_offset"] == b"7"
