"""The consumer loop on the real broker: duplicates, poison messages, failing handlers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlmodel import SQLModel, col, func, select
from support import eventually, header, produce, read_topic

from govmesh_contracts import CaseDispatched, CaseReceived, encode, envelope_for
from govmesh_runtime import dlq_cli
from govmesh_runtime.consumer import ConsumerSpec, EventConsumer
from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.tables import InboxMessage, OutboxMessage
from govmesh_runtime.uow import UnitOfWork

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'consumer.sqlite'}")
    async with database.engine.begin() as conn:  # the runtime's own tables: outbox and inbox
        await conn.run_sync(SQLModel.metadata.create_all)
    yield database
    await database.dispose()


def received() -> CaseReceived:
    return CaseReceived(
        case_id=uuid.uuid4(),
        case_number="620702-20261125-000007",
        matter_code="dispute.neighbour",
        channel="api",
        description="noise at night",
        received_at=datetime.now(UTC),
    )


def record_of(event: CaseReceived) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    rec = encode(event, envelope_for(event, source="/govmesh/intake"))
    return rec.key, rec.value, rec.headers


async def on_received(event: CaseReceived, uow: UnitOfWork) -> None:
    """The consumer's effect, observable in its own outbox: one CaseDispatched per case."""
    uow.emit(CaseDispatched(case_id=event.case_id, handled_by="centre:620700", dispatched_at=datetime.now(UTC)))


async def run_consumer(
    bootstrap: str, topic: str, db: Database, handler: object = on_received
) -> tuple[EventConsumer, asyncio.Task[None], ProducerHolder]:
    producer = ProducerHolder(bootstrap, "test")
    consumer = EventConsumer(
        ConsumerSpec(name=f"test-{uuid.uuid4().hex[:8]}", topics=(topic,), handlers={CaseReceived: handler}),  # type: ignore[dict-item]
        bootstrap_servers=bootstrap,
        uow_factory=lambda **kw: UnitOfWork(db.sessions, source="/govmesh/test", **kw),
        producer=producer,
        max_retries=3,
        retry_backoff_s=0.05,
    )
    return consumer, asyncio.create_task(consumer.run()), producer


async def stop(consumer: EventConsumer, task: asyncio.Task[None], producer: ProducerHolder) -> None:
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)
    await producer.close()


async def dispatched(db: Database, *events: CaseReceived) -> int:
    async with db.sessions() as session:
        ids = [e.case_id for e in events]
        keys = [str(case_id) for case_id in ids]
        return (
            await session.exec(
                select(func.count()).where(
                    col(OutboxMessage.key).in_(keys), OutboxMessage.event_type == CaseDispatched.event_type
                )
            )
        ).one()


async def test_a_record_delivered_twice_is_applied_once(kafka_bootstrap: str, test_topic: str, db: Database) -> None:
    event = received()
    await produce(kafka_bootstrap, test_topic, [record_of(event)] * 2)  # same ce_id twice
    consumer, task, producer = await run_consumer(kafka_bootstrap, test_topic, db)
    labels = {"consumer": consumer.spec.name, "topic": test_topic}
    try:

        async def second_copy_seen_as_duplicate() -> bool:
            return REGISTRY.get_sample_value("govmesh_events_consumed_total", {**labels, "outcome": "duplicate"}) == 1

        await eventually(second_copy_seen_as_duplicate)
    finally:
        await stop(consumer, task, producer)
    assert REGISTRY.get_sample_value("govmesh_events_consumed_total", {**labels, "outcome": "processed"}) == 1
    assert await dispatched(db, event) == 1
    async with db.sessions() as session:
        inbox = (await session.exec(select(InboxMessage))).all()
    assert len(inbox) == 1


async def test_poison_messages_go_to_the_dlq_and_the_partition_moves_on(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    good = received()
    key, value, headers = record_of(good)
    bad_payload = [(k, v) for k, v in headers]  # valid envelope, payload misses required fields
    await produce(
        kafka_bootstrap,
        test_topic,
        [
            (key, b"\x00not json at all", []),  # no CloudEvents headers
            (key, b'{"case_id": "not-a-uuid"}', bad_payload),
            (key, value, headers),
        ],
    )
    consumer, task, producer = await run_consumer(kafka_bootstrap, test_topic, db)
    try:

        async def good_one_applied() -> bool:
            return await dispatched(db, good) == 1

        await eventually(good_one_applied)
    finally:
        await stop(consumer, task, producer)
    dead = await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=2)
    assert len(dead) == 2
    reasons = [header(r, "dlq_reason") or "" for r in dead]
    assert "ce_specversion" in reasons[0]
    assert "payload is not a valid gov.intake.case.received" in reasons[1]
    assert [header(r, "dlq_original_topic") for r in dead] == [test_topic, test_topic]
    assert dead[0].value == b"\x00not json at all"


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    attempts: list[uuid.UUID] = []

    async def broken(event: CaseReceived, uow: UnitOfWork) -> None:
        attempts.append(event.case_id)
        if event.case_number.endswith("000007"):
            raise ValueError("grid registry says no")
        await on_received(event, uow)

    poison, after = received(), received().model_copy(update={"case_number": "620702-20261125-000008"})
    _, after_value, after_headers = record_of(after)
    # Same key, same partition: the record behind the poison one must wait for it and then go on.
    await produce(kafka_bootstrap, test_topic, [record_of(poison), (record_of(poison)[0], after_value, after_headers)])
    consumer, task, producer = await run_consumer(kafka_bootstrap, test_topic, db, handler=broken)
    try:

        async def next_one_applied() -> bool:
            return await dispatched(db, after) == 1

        await eventually(next_one_applied)
    finally:
        await stop(consumer, task, producer)
    assert attempts.count(poison.case_id) == 3
    assert await dispatched(db, poison) == 0
    dead = await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=1)
    assert len(dead) == 1
    assert "failed 3 times" in (header(dead[0], "dlq_reason") or "")
    assert "grid registry says no" in (header(dead[0], "dlq_reason") or "")


async def test_a_dead_letter_is_listed_and_replayed_once_the_fault_is_fixed(
    kafka_bootstrap: str, test_topic: str, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = {"on": True}

    async def flaky(event: CaseReceived, uow: UnitOfWork) -> None:
        if broken["on"]:
            raise ValueError("department directory unavailable")
        await on_received(event, uow)

    event = received()
    await produce(kafka_bootstrap, test_topic, [record_of(event)])
    consumer, task, producer = await run_consumer(kafka_bootstrap, test_topic, db, handler=flaky)
    try:
        await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=1)
        assert await dispatched(db, event) == 0

        # An operator lists the DLQ, fixes the cause and replays.
        assert (
            await asyncio.to_thread(dlq_cli.main, ["--bootstrap-servers", kafka_bootstrap, "list", test_topic + ".dlq"])
            == 0
        )
        listed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert len(listed) == 1
        assert listed[0]["id"] == header((await read_topic(kafka_bootstrap, test_topic))[0], "ce_id")
        assert "department directory unavailable" in listed[0]["reason"]
        broken["on"] = False
        assert (
            await asyncio.to_thread(
                dlq_cli.main, ["--bootstrap-servers", kafka_bootstrap, "replay", test_topic + ".dlq"]
            )
            == 0
        )

        async def replayed_and_applied() -> bool:
            return await dispatched(db, event) == 1

        await eventually(replayed_and_applied)
    finally:
        await stop(consumer, task, producer)
    replayed = await read_topic(kafka_bootstrap, test_topic, min_records=2)
    assert [header(r, "ce_id") for r in replayed] == [header(replayed[0], "ce_id")] * 2
    assert all(header(r, "dlq_reason") is None for r in replayed)


def numbered(n: int) -> CaseReceived:
    return received().model_copy(update={"case_number": f"620702-20261125-{n:06d}"})


def same_partition(events: list[CaseReceived]) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """One key for all: one partition, so the records come in one batch and in this order."""
    key = record_of(events[0])[0]
    return [(key, value, headers) for _, value, headers in map(record_of, events)]


async def inbox_rows(db: Database, consumer: str) -> int:
    async with db.sessions() as session:
        return (await session.exec(select(func.count()).where(col(InboxMessage.consumer) == consumer))).one()


async def test_a_batch_is_applied_in_fewer_transactions_than_records(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    events = [numbered(n) for n in range(1, 21)]
    await produce(kafka_bootstrap, test_topic, same_partition(events))
    units = 0

    def counting_uow(**kw: object) -> UnitOfWork:
        nonlocal units
        units += 1
        return UnitOfWork(db.sessions, source="/govmesh/test", **kw)  # type: ignore[arg-type]

    producer = ProducerHolder(kafka_bootstrap, "test")
    consumer = EventConsumer(
        ConsumerSpec(name=f"test-{uuid.uuid4().hex[:8]}", topics=(test_topic,), handlers={CaseReceived: on_received}),  # type: ignore[dict-item]
        bootstrap_servers=kafka_bootstrap,
        uow_factory=counting_uow,
        producer=producer,
    )
    task = asyncio.create_task(consumer.run())
    try:

        async def all_applied() -> bool:
            return await dispatched(db, *events) == len(events)

        await eventually(all_applied)
    finally:
        await stop(consumer, task, producer)
    assert units < len(events)
    assert await inbox_rows(db, consumer.spec.name) == len(events)


async def test_a_poison_record_in_a_batch_is_dead_lettered_alone_and_the_others_applied_once(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    events = [numbered(n) for n in range(1, 7)]
    poison = events[2]
    calls: list[uuid.UUID] = []

    async def broken(event: CaseReceived, uow: UnitOfWork) -> None:
        calls.append(event.case_id)
        if event.case_id == poison.case_id:
            raise ValueError("grid registry says no")
        await on_received(event, uow)

    await produce(kafka_bootstrap, test_topic, same_partition(events))
    consumer, task, producer = await run_consumer(kafka_bootstrap, test_topic, db, handler=broken)
    try:
        dead = await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=1)

        async def the_others_applied() -> bool:
            return await dispatched(db, *events) == len(events) - 1

        await eventually(the_others_applied)
    finally:
        await stop(consumer, task, producer)
    assert len(dead) == 1
    assert header(dead[0], "ce_id") == header(
        next(r for r in await read_topic(kafka_bootstrap, test_topic) if r.value == record_of(poison)[1]), "ce_id"
    )
    assert "failed 3 times" in (header(dead[0], "dlq_reason") or "")
    assert calls.count(poison.case_id) == 3  # max_retries, the batch's attempt included
    for event in events:
        assert await dispatched(db, event) == (0 if event is poison else 1)
    assert await inbox_rows(db, consumer.spec.name) == len(events) - 1


@pytest.mark.parametrize("where", ["in a handler", "after the database commit"])
async def test_a_crash_mid_batch_is_redelivered_and_each_record_applied_once(
    kafka_bootstrap: str, test_topic: str, db: Database, where: str
) -> None:
    """The process dies while applying a batch (before its transaction commits), or after the
    commit but before the offsets are committed: a new consumer of the group gets the batch
    again and each record's effects exist exactly once."""
    events = [numbered(n) for n in range(1, 9)]
    await produce(kafka_bootstrap, test_topic, same_partition(events))
    name = f"test-{uuid.uuid4().hex[:8]}"
    crashed = asyncio.Event()
    consumers: list[EventConsumer] = []

    def crash() -> None:
        if not crashed.is_set():
            crashed.set()
            consumers[-1].stop()  # from here on, as if the process were killed: nothing more is committed
            raise RuntimeError("killed")

    async def dying(event: CaseReceived, uow: UnitOfWork) -> None:
        await on_received(event, uow)
        if where == "in a handler" and event.case_id == events[4].case_id:
            crash()

    def uow_factory(**kw: object) -> UnitOfWork:
        on_commit = crash if where == "after the database commit" else None
        return UnitOfWork(db.sessions, source="/govmesh/test", on_commit=on_commit, **kw)  # type: ignore[arg-type]

    def start() -> tuple[EventConsumer, asyncio.Task[None], ProducerHolder]:
        producer = ProducerHolder(kafka_bootstrap, "test")
        consumer = EventConsumer(
            ConsumerSpec(name=name, topics=(test_topic,), handlers={CaseReceived: dying}),  # type: ignore[dict-item]
            bootstrap_servers=kafka_bootstrap,
            uow_factory=uow_factory,
            producer=producer,
        )
        consumers.append(consumer)
        return consumer, asyncio.create_task(consumer.run()), producer

    first = start()
    await asyncio.wait_for(crashed.wait(), timeout=30)
    await stop(*first)
    if where == "in a handler":
        assert await dispatched(db, events[4]) == 0  # its batch was rolled back
    second = start()
    try:

        async def all_applied() -> bool:
            return await dispatched(db, *events) == len(events)

        await eventually(all_applied)
    finally:
        await stop(*second)
    for event in events:
        assert await dispatched(db, event) == 1
    assert await inbox_rows(db, name) == len(events)
