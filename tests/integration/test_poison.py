"""Poison never stops a group (issue 13, item 7), on the real broker and both databases.

Records that fail to decode for any reason go to the DLQ while every partition keeps
committing; an event too large for its topic is refused when written (nothing half-written);
an outbox row the broker refuses is parked while the rows behind it are published; deadlocks
and serialization failures are retried, not dead-lettered; ``govmesh-dlq replay`` refuses a
record whose key has later events applied, unless ``--force``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import REGISTRY
from sqlmodel import SQLModel, col, func, select
from support import eventually, header, read_topic

from govmesh_contracts import CaseDispatched, CaseReceived, encode, envelope_for, topic_for
from govmesh_runtime import dlq_cli
from govmesh_runtime.consumer import ConsumerSpec, EventConsumer
from govmesh_runtime.db import Database
from govmesh_runtime.errors import EventTooLarge
from govmesh_runtime.kafka import ProducerHolder, record_size
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.tables import InboxMessage, OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.tables import CaseRow
from intake.bootstrap import MIGRATIONS as INTAKE_MIGRATIONS
from intake.domain.cases import Channel
from intake.domain.commands import AcceptCase
from intake.handlers.cases import accept_case
from intake.settings import IntakeSettings

pytestmark = pytest.mark.integration

Rec = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'consumer.sqlite'}")
    async with database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    yield database
    await database.dispose()


@pytest.fixture
async def intake_db(database_url: str) -> AsyncIterator[Database]:
    """Intake's own migrations (the outbox's parking columns included) on SQLite and PostgreSQL."""
    database = Database(database_url)
    await database.migrate(INTAKE_MIGRATIONS)
    yield database
    await database.dispose()


def received(**overrides: object) -> CaseReceived:
    fields: dict[str, object] = {
        "case_id": uuid.uuid4(),
        "case_number": "620702-20261203-000001",
        "matter_code": "dispute.neighbour",
        "channel": "api",
        "description": "noise at night",
        "received_at": datetime.now(UTC),
    }
    return CaseReceived(**{**fields, **overrides})  # type: ignore[arg-type]


def record_of(event: CaseReceived) -> Rec:
    rec = encode(event, envelope_for(event, source="/govmesh/intake"))
    return rec.key, rec.value, rec.headers


async def on_received(event: CaseReceived, uow: UnitOfWork) -> None:
    uow.emit(CaseDispatched(case_id=event.case_id, handled_by="centre:620700", dispatched_at=datetime.now(UTC)))


async def dispatched(db: Database, *events: CaseReceived) -> int:
    async with db.sessions() as session:
        keys = [str(e.case_id) for e in events]
        return int(
            (
                await session.exec(
                    select(func.count()).where(
                        col(OutboxMessage.key).in_(keys), OutboxMessage.event_type == CaseDispatched.event_type
                    )
                )
            ).one()
        )


def consumer_for(bootstrap: str, topic: str, db: Database, handler: object, name: str | None = None) -> EventConsumer:
    return EventConsumer(
        ConsumerSpec(name=name or f"test-{uuid.uuid4().hex[:8]}", topics=(topic,), handlers={CaseReceived: handler}),  # type: ignore[dict-item]
        bootstrap_servers=bootstrap,
        uow_factory=lambda **kw: UnitOfWork(db.sessions, source="/govmesh/test", **kw),
        producer=ProducerHolder(bootstrap, "test"),
        max_retries=3,
        retry_backoff_s=0.05,
    )


async def stop(consumer: EventConsumer, task: asyncio.Task[None]) -> None:
    consumer.stop()
    await asyncio.wait_for(task, timeout=30)
    await consumer._producer.close()


async def produce_to(bootstrap: str, topic: str, partition: int, records: list[Rec]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers, partition=partition)
    finally:
        await producer.stop()


async def committed_and_end(bootstrap: str, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """The group's committed offsets and the partitions' end offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    records = await read_topic(bootstrap, topic)
    end: dict[int, int] = {}
    for r in records:
        end[r.partition] = max(end.get(r.partition, 0), r.offset + 1)
    return {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == topic}, end


# --- undecodable records ------------------------------------------------------------------------


async def test_records_that_fail_to_decode_for_any_reason_go_to_the_dlq_and_every_partition_commits(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    first, behind, elsewhere = received(), received(), received()
    key, _, headers = record_of(first)
    nested_array = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError, not ValueError
    nested_object = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    poison: list[Rec] = [
        (key, nested_array, headers),
        (key, nested_object, headers),
        (key, b'{"description": "\xff\xfe bad utf-8"}', headers),
        (key, b"[1, 2, 3]", headers),  # a wrong type: an array where an object is expected
        (key, b'"just a string"', [(k, v) for k, v in headers if k != "ce_type"] + [("ce_type", b"gov.unknown")]),
    ]
    # One partition: poison between good records of the same key; another partition: good records only.
    await produce_to(kafka_bootstrap, test_topic, 0, [record_of(first), *poison, (key, *record_of(behind)[1:])])
    await produce_to(kafka_bootstrap, test_topic, 1, [record_of(elsewhere)])
    consumer = consumer_for(kafka_bootstrap, test_topic, db, on_received)
    task = asyncio.create_task(consumer.run())
    try:

        async def every_partition_committed_to_its_end() -> bool:
            try:
                committed, end = await committed_and_end(kafka_bootstrap, consumer.spec.name, test_topic)
            except Exception:  # the group's coordinator may not be known yet: ask again
                return False
            return all(committed.get(p) == offset for p, offset in end.items())

        await eventually(every_partition_committed_to_its_end, timeout=60)
    finally:
        await stop(consumer, task)
    for event in (first, behind, elsewhere):
        assert await dispatched(db, event) == 1
    dead = await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=len(poison))
    assert len(dead) == len(poison)
    reasons = [header(r, "dlq_reason") or "" for r in dead]
    assert "recursion" in reasons[0] and "recursion" in reasons[1]
    assert "utf-8" in reasons[2]
    assert "gov.unknown" in reasons[4]
    assert [r.value for r in dead] == [value for _, value, _ in poison]
    assert [header(r, "dlq_original_offset") for r in dead] == ["1", "2", "3", "4", "5"]


async def test_a_poison_record_too_large_for_its_dlq_is_dead_lettered_without_its_value(
    kafka_bootstrap: str, test_topic: str, db: Database
) -> None:
    """A record just under its topic's limit: the DLQ's headers push it over the DLQ topic's (here the
    broker default) limit. Its headers go to the DLQ, saying where the original lies; the group goes on."""
    good = received()
    key, _, headers = record_of(good)
    filler = 1_048_576 - record_size(key, b"", headers) - 16
    big = b"x" * filler  # not JSON: poison
    assert record_size(key, big, headers) <= 1_048_576
    await produce_to(kafka_bootstrap, test_topic, 0, [(key, big, headers), record_of(good)])
    consumer = consumer_for(kafka_bootstrap, test_topic, db, on_received)
    task = asyncio.create_task(consumer.run())
    try:

        async def good_one_applied() -> bool:
            return await dispatched(db, good) == 1

        await eventually(good_one_applied, timeout=60)
    finally:
        await stop(consumer, task)
    dead = await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=1)
    assert len(dead) == 1
    assert dead[0].value is None
    assert header(dead[0], "dlq_original_offset") == "0"
    assert (header(dead[0], "dlq_value_dropped") or "").startswith(f"{filler} bytes")


# --- deadlocks and serialization failures -------------------------------------------------------


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_deadlocks_and_serialization_failures_are_retried_not_dead_lettered(
    kafka_bootstrap: str, test_topic: str, fresh_postgres_url: str, sqlstate: str
) -> None:
    """The handler's statement fails on PostgreSQL with the real driver error (deadlock_detected or
    serialization_failure) more often than the consumer's retry budget; it is applied in the end."""
    pg = Database(fresh_postgres_url)
    async with pg.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    failures = {"left": 5}

    async def contended(event: CaseReceived, uow: UnitOfWork) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            await uow.session.exec(  # type: ignore[call-overload]
                sa.text(f"DO $$ BEGIN RAISE EXCEPTION 'provoked' USING ERRCODE = '{sqlstate}'; END $$")
            )
        await on_received(event, uow)

    events = [received(), received()]
    await produce_to(kafka_bootstrap, test_topic, 0, [record_of(e) for e in events])
    consumer = consumer_for(kafka_bootstrap, test_topic, pg, contended)
    task = asyncio.create_task(consumer.run())
    try:

        async def both_applied() -> bool:
            return await dispatched(pg, *events) == 2

        await eventually(both_applied, timeout=60)
    finally:
        await stop(consumer, task)
        await pg.dispose()
    assert failures["left"] == 0
    assert await read_topic(kafka_bootstrap, test_topic + ".dlq", timeout=1) == []


# --- oversized events ---------------------------------------------------------------------------


async def test_an_event_larger_than_its_topic_takes_is_refused_when_written_and_nothing_is_kept(
    intake_db: Database,
) -> None:
    limit = topic_for(CaseReceived).max_message_bytes
    cmd = AcceptCase(
        matter_code="dispute.neighbour",
        description="漏" * (limit // 3 + 100),  # 3 bytes each in UTF-8: above the topic's limit
        channel=Channel.API,
        lat=38.93,
        lon=100.45,
    )
    with pytest.raises(EventTooLarge) as refused:
        async with UnitOfWork(intake_db.sessions, source="/govmesh/test") as uow:
            await accept_case(cmd, uow, settings=IntakeSettings(duplicate_window_s=0), validate=False)
            await uow.commit()
    assert refused.value.topic == "intake.cases.v1" and refused.value.limit == limit
    assert f"above the {limit:,} bytes topic intake.cases.v1 takes" in str(refused.value)
    async with intake_db.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CaseRow))).one() == 0
        assert (await session.exec(select(func.count()).select_from(OutboxMessage))).one() == 0


async def test_a_smaller_limit_from_the_settings_is_refused_below_the_topics_own(intake_db: Database) -> None:
    event = received(description="x" * 4000)
    async with UnitOfWork(intake_db.sessions, source="/govmesh/test", max_event_bytes=2048) as uow:
        with pytest.raises(EventTooLarge, match="above the 2,048 bytes"):
            uow.emit(event)
        uow.emit(received())  # a small one is fine
        await uow.commit()
    async with intake_db.sessions() as session:
        assert (await session.exec(select(func.count()).select_from(OutboxMessage))).one() == 1


# --- outbox rows the broker refuses -------------------------------------------------------------


@pytest.fixture
async def small_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic that takes records up to 10,000 bytes (max.message.bytes), with its DLQ."""
    name = f"test.small{uuid.uuid4().hex[:10]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, 1, 1, topic_configs={"max.message.bytes": "10000"}), NewTopic(name + ".dlq", 1, 1)]
        )
        yield name
    finally:
        await admin.close()


def outbox_row(topic: str, key: str, payload: str) -> OutboxMessage:
    event_id = str(uuid.uuid4())
    return OutboxMessage(
        event_id=event_id,
        event_type="gov.test.thing",
        topic=topic,
        key=key,
        headers=json.dumps([["ce_id", event_id]]),
        payload=payload,
    )


async def test_an_outbox_row_the_broker_refuses_is_parked_and_the_rows_behind_it_are_published(
    intake_db: Database, kafka_bootstrap: str, small_topic: str
) -> None:
    """Rows written before the limit was known (or for a topic whose limit was lowered): one too large
    for the broker's topic limit, one too large for the client's request size. Both are set aside."""
    key = str(uuid.uuid4())
    rows = [
        outbox_row(small_topic, key, json.dumps({"n": 1})),
        outbox_row(small_topic, key, json.dumps({"n": 2, "blob": "x" * 30_000})),  # the broker says too large
        outbox_row(small_topic, key, json.dumps({"n": 3})),
        outbox_row(small_topic, key, json.dumps({"n": 4, "blob": "y" * 1_300_000})),  # the client says too large
        outbox_row(small_topic, key, json.dumps({"n": 5})),
    ]
    async with intake_db.sessions() as session:
        for row in rows:
            session.add(row)
            await session.flush()  # in this order: ids follow it
        await session.commit()
    producer = ProducerHolder(kafka_bootstrap, "test-relay")
    relay = OutboxRelay(intake_db.sessions, producer)
    try:
        for _ in range(5):  # a bounded number of rounds: the relay must get past the refused rows
            if not await relay.publish_pending():
                break
    finally:
        await producer.close()
    published = await read_topic(kafka_bootstrap, small_topic, min_records=3)
    assert [json.loads(r.value)["n"] for r in published] == [1, 3, 5]
    async with intake_db.sessions() as session:
        stored = {
            json.loads(r.payload)["n"]: r
            for r in (await session.exec(select(OutboxMessage).where(col(OutboxMessage.topic) == small_topic))).all()
        }
    assert {n for n, r in stored.items() if r.sent_at is not None} == {1, 3, 5}
    assert {n for n, r in stored.items() if r.parked_at is not None} == {2, 4}
    assert "MessageSizeTooLarge" in (stored[2].park_reason or "")
    assert "MessageSizeTooLarge" in (stored[4].park_reason or "")
    assert REGISTRY.get_sample_value("govmesh_outbox_parked_rows") == 2
    assert REGISTRY.get_sample_value("govmesh_outbox_backlog") == 0


# --- replaying dead letters ---------------------------------------------------------------------


async def test_replay_refuses_a_dead_letter_whose_key_has_later_events_applied_unless_forced(
    kafka_bootstrap: str, test_topic: str, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = {"on": True}
    old, new = received(description="old"), received(description="new")
    lonely = received(description="lonely")  # another key, nothing after it

    async def flaky(event: CaseReceived, uow: UnitOfWork) -> None:
        if broken["on"] and event.description in ("old", "lonely"):
            raise ValueError("department directory unavailable")
        await on_received(event, uow)

    key = record_of(old)[0]
    await produce_to(kafka_bootstrap, test_topic, 0, [record_of(old), (key, *record_of(new)[1:]), record_of(lonely)])
    consumer = consumer_for(kafka_bootstrap, test_topic, db, flaky)
    task = asyncio.create_task(consumer.run())
    url = str(db.engine.url)
    try:
        await read_topic(kafka_bootstrap, test_topic + ".dlq", min_records=2)

        async def new_applied() -> bool:
            return await dispatched(db, new) == 1

        await eventually(new_applied)
        broken["on"] = False
        capsys.readouterr()
        args = ["--bootstrap-servers", kafka_bootstrap, "replay", test_topic + ".dlq", "--database-url", url]
        assert await asyncio.to_thread(dlq_cli.main, args) == 1
        out = capsys.readouterr()
        assert "replayed 1 record(s)" in out.out  # the lonely one
        assert "refused offset 0" in out.err
        assert "applied 1 later event(s) of the same key" in out.err

        async def lonely_applied() -> bool:
            return await dispatched(db, lonely) == 1

        await eventually(lonely_applied)
        assert await dispatched(db, old) == 0  # the old event never landed on the newer state

        assert await asyncio.to_thread(dlq_cli.main, [*args, "--offset", "0", "--force"]) == 0
        assert "replayed 1 record(s)" in capsys.readouterr().out

        async def old_applied_when_forced() -> bool:
            return await dispatched(db, old) == 1

        await eventually(old_applied_when_forced)
    finally:
        await stop(consumer, task)
    async with db.sessions() as session:
        inbox = (await session.exec(select(InboxMessage.event_id))).all()
    assert len(inbox) == 3


async def test_replay_of_a_dead_letter_with_nothing_after_it_finds_the_services_database_itself(
    kafka_bootstrap: str,
    tmp_path: Path,
    db: Database,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No --database-url: the consumer's name (dispatch-…) leads to the service's setting."""
    topic = f"test.replay{uuid.uuid4().hex[:8]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1), NewTopic(topic + ".dlq", 1, 1)])
    finally:
        await admin.close()
    monkeypatch.setenv("DISPATCH_DATABASE_URL", str(db.engine.url))
    old, new = received(description="old"), received(description="new")
    key = record_of(old)[0]
    name = f"dispatch-test-{uuid.uuid4().hex[:6]}"

    async def flaky(event: CaseReceived, uow: UnitOfWork) -> None:
        if event.description == "old":
            raise ValueError("no")
        await on_received(event, uow)

    await produce_to(kafka_bootstrap, topic, 0, [record_of(old), (key, *record_of(new)[1:])])
    consumer = consumer_for(kafka_bootstrap, topic, db, flaky, name=name)
    task = asyncio.create_task(consumer.run())
    try:
        await read_topic(kafka_bootstrap, topic + ".dlq", min_records=1)

        async def new_applied() -> bool:
            return await dispatched(db, new) == 1

        await eventually(new_applied)
    finally:
        await stop(consumer, task)
    capsys.readouterr()
    args = ["--bootstrap-servers", kafka_bootstrap, "replay", topic + ".dlq"]
    assert await asyncio.to_thread(dlq_cli.main, args) == 1
    assert f"{name} has applied 1 later event(s)" in capsys.readouterr().err
