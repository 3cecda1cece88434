"""Store, outbox and inbox on both backends: embedded SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from sqlmodel import col, func, select
from support import header, read_topic

from govmesh_contracts import CaseDispatched, CaseReceived, Envelope, decode, encode, envelope_for
from govmesh_runtime.consumer import ConsumerSpec, EventConsumer
from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.tables import InboxMessage, OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.tables import CaseRow
from intake.bootstrap import MIGRATIONS as INTAKE_MIGRATIONS
from intake.domain.cases import Channel
from intake.domain.commands import AcceptCase
from intake.handlers.cases import Outcome, accept_case
from intake.settings import IntakeSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def intake_db(database_url: str) -> AsyncIterator[Database]:
    db = Database(database_url)
    await db.migrate(INTAKE_MIGRATIONS)
    yield db
    await db.dispose()


def uow_factory(db: Database, **kwargs: object) -> UnitOfWork:
    return UnitOfWork(db.sessions, source="/govmesh/test", **kwargs)  # type: ignore[arg-type]


async def accept(cmd: AcceptCase, uow: UnitOfWork, centre_code: str = "620702") -> tuple[uuid.UUID, bool]:
    """Intake's handler as the store suite drives it: validation and duplicate linking off
    (they have their own tests), so every call is a plain write."""
    settings = IntakeSettings(centre_code=centre_code, duplicate_window_s=0)
    accepted = await accept_case(cmd, uow, settings=settings, validate=False)
    return accepted.case_id, accepted.outcome == Outcome.CREATED


def a_case(**overrides: object) -> AcceptCase:
    fields: dict[str, object] = {
        "matter_code": "dispute.neighbour",
        "description": "Water leaks from the flat above.",
        "channel": Channel.API,
        "lat": 38.93,
        "lon": 100.45,
    }
    return AcceptCase(**{**fields, **overrides})  # type: ignore[arg-type]


async def count(db: Database, table: type, *where: object) -> int:
    async with db.sessions() as session:
        stmt = select(func.count()).select_from(table)
        for clause in where:
            stmt = stmt.where(clause)  # type: ignore[arg-type]
        return int((await session.exec(stmt)).one())


async def table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_intake_migrations_create_every_table(intake_db: Database) -> None:
    expected = {"cases", "case_timeline", "case_number_sequences", "idempotency_keys", "outbox", "inbox"}
    assert expected <= await table_names(intake_db)


async def test_case_and_its_event_commit_together(intake_db: Database) -> None:
    async with uow_factory(intake_db) as uow:
        case_id, created = await accept(a_case(), uow, "620702")
        await uow.commit()
    assert created
    async with intake_db.sessions() as session:
        case = await session.get(CaseRow, case_id)
        rows = (await session.exec(select(OutboxMessage).where(OutboxMessage.key == str(case_id)))).all()
    assert case is not None and case.status == "received"
    assert case.received_at.tzinfo is not None
    assert len(rows) == 1
    row = rows[0]
    assert row.topic == "intake.cases.v1" and row.sent_at is None
    headers = [(name, value.encode()) for name, value in json.loads(row.headers)]
    envelope, event = decode(headers, row.payload.encode())
    assert envelope.id == row.event_id
    assert isinstance(event, CaseReceived) and event.case_id == case_id and event.case_number == case.case_number


async def test_a_failed_transaction_leaves_neither_case_nor_event(intake_db: Database) -> None:
    before_cases, before_outbox = await count(intake_db, CaseRow), await count(intake_db, OutboxMessage)
    with pytest.raises(RuntimeError, match="crash"):
        async with uow_factory(intake_db) as uow:
            await accept(a_case(), uow, "620702")
            raise RuntimeError("crash before commit")
    assert await count(intake_db, CaseRow) == before_cases
    assert await count(intake_db, OutboxMessage) == before_outbox


async def test_case_numbers_are_unique_and_sequential_under_concurrency(intake_db: Database) -> None:
    centre = f"{uuid.uuid4().int % 10**6:06d}"

    async def one() -> uuid.UUID:
        for _ in range(20):  # SQLite may report a busy database under contention; retry as the API would
            try:
                async with uow_factory(intake_db) as uow:
                    case_id, _ = await accept(a_case(), uow, centre)
                    await uow.commit()
                    return case_id
            except sa.exc.OperationalError:
                await asyncio.sleep(0.05)
        raise AssertionError("could not create a case")

    ids = await asyncio.gather(*(one() for _ in range(15)))
    async with intake_db.sessions() as session:
        numbers = sorted((await session.exec(select(CaseRow.case_number).where(col(CaseRow.id).in_(ids)))).all())
    day = datetime.now(UTC).strftime("%Y%m%d")
    assert numbers == [f"{centre}-{day}-{n:06d}" for n in range(1, 16)]


async def test_idempotency_key_returns_the_first_case(intake_db: Database) -> None:
    key = f"key-{uuid.uuid4()}"
    async with uow_factory(intake_db) as uow:
        first, created_first = await accept(a_case(idempotency_key=key), uow, "620702")
        await uow.commit()
    async with uow_factory(intake_db) as uow:
        second, created_second = await accept(a_case(idempotency_key=key), uow, "620702")
        await uow.commit()
    assert (created_first, created_second) == (True, False)
    assert first == second
    assert await count(intake_db, OutboxMessage, col(OutboxMessage.key) == str(first)) == 1


def _received(case_id: uuid.UUID | None = None) -> CaseReceived:
    return CaseReceived(
        case_id=case_id or uuid.uuid4(),
        case_number="620702-20261125-000001",
        matter_code="dispute.neighbour",
        channel="api",
        description="leak",
        received_at=datetime.now(UTC),
    )


async def test_an_event_delivered_twice_is_applied_once(intake_db: Database) -> None:
    """The inbox: a redelivery of the same event id changes nothing, in a later batch or in the same one."""
    event = _received()
    envelope: Envelope = envelope_for(event, source="/govmesh/intake")

    async def handler(e: CaseReceived, uow: UnitOfWork) -> None:
        uow.emit(CaseDispatched(case_id=e.case_id, handled_by="centre:620700", dispatched_at=datetime.now(UTC)))

    spec = ConsumerSpec(name=f"test-{uuid.uuid4().hex[:8]}", topics=(), handlers={CaseReceived: handler})  # type: ignore[dict-item]
    consumer = EventConsumer(
        spec,
        bootstrap_servers="127.0.0.1:1",  # never contacted: batches are driven directly
        uow_factory=lambda **kw: uow_factory(intake_db, **kw),
        producer=ProducerHolder("127.0.0.1:1", "unused"),
    )
    rec = encode(event, envelope)

    def delivery(offset: int) -> ConsumerRecord[bytes, bytes]:
        return ConsumerRecord(
            "intake.cases.v1", 0, offset, 0, 0, rec.key, rec.value, None, len(rec.key), len(rec.value), rec.headers
        )

    await consumer.process_batch([delivery(42)])
    await consumer.process_batch([delivery(43), delivery(44)])
    assert await count(intake_db, OutboxMessage, col(OutboxMessage.key) == str(event.case_id)) == 1
    assert await count(intake_db, InboxMessage, col(InboxMessage.event_id) == envelope.id) == 1


async def test_relay_publishes_in_order_and_marks_sent(intake_db: Database, kafka_bootstrap: str) -> None:
    case_id = uuid.uuid4()
    event_ids = []
    for _ in range(10):  # ten events of one aggregate: one key, one partition, order must hold
        async with uow_factory(intake_db) as uow:
            event_ids.append(uow.emit(_received(case_id)).id)
            await uow.commit()
    producer = ProducerHolder(kafka_bootstrap, "test-relay")
    relay = OutboxRelay(intake_db.sessions, producer)
    try:
        while await relay.publish_pending():
            pass
    finally:
        await producer.close()
    assert await count(intake_db, OutboxMessage, col(OutboxMessage.sent_at).is_(None)) == 0
    records = [r for r in await read_topic(kafka_bootstrap, "intake.cases.v1") if r.key == str(case_id).encode()]
    assert [header(r, "ce_id") for r in records] == event_ids
    assert len({r.partition for r in records}) == 1
