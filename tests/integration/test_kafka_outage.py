"""A case accepted while Kafka is down is published once Kafka is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from mesh_fixtures import kafka_script
from prometheus_client import REGISTRY
from sqlmodel import select
from support import eventually, header, read_topic

from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.tables import OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from intake.bootstrap import MIGRATIONS
from intake.domain.cases import Channel
from intake.domain.commands import AcceptCase
from intake.handlers.cases import accept_case
from intake.settings import IntakeSettings

pytestmark = pytest.mark.integration


async def test_case_accepted_while_kafka_is_down_is_published_when_it_is_back(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite'}")
    await db.migrate(MIGRATIONS)
    producer = ProducerHolder(kafka_bootstrap, "test-outage")
    relay = OutboxRelay(db.sessions, producer, poll_interval_s=0.2)
    await asyncio.to_thread(kafka_script, "stop")
    relay_task = asyncio.create_task(relay.run())
    try:
        async with UnitOfWork(db.sessions, source="/govmesh/intake", on_commit=relay.notify) as uow:
            accepted = await accept_case(
                AcceptCase(matter_code="safety.hazard", description="gas smell", channel=Channel.HOTLINE, address="x"),
                uow,
                settings=IntakeSettings(),
                validate=False,
            )
            case_id = accepted.case_id
            await uow.commit()

        async def relay_saw_the_outage() -> bool:
            return relay.last_error is not None

        await eventually(relay_saw_the_outage)
        async with db.sessions() as session:
            assert (await session.exec(select(OutboxMessage))).one().sent_at is None

        # What the "outbox stuck" alert watches keeps moving while Kafka is away (the relay's
        # first failed round may have counted before the case was committed: wait for the next).
        async def backlog_counted() -> bool:
            return REGISTRY.get_sample_value("govmesh_outbox_backlog") == 1

        await eventually(backlog_counted, timeout=15)
        age = REGISTRY.get_sample_value("govmesh_outbox_oldest_unsent_age_seconds")
        assert age is not None and age > 0
    finally:
        await asyncio.to_thread(kafka_script, "start")

    try:

        async def marked_sent() -> bool:
            async with db.sessions() as session:
                return (await session.exec(select(OutboxMessage))).one().sent_at is not None

        await eventually(marked_sent, timeout=90)
    finally:
        relay.stop()
        await asyncio.wait_for(relay_task, timeout=30)
        await producer.close()
        await db.dispose()
    records = [r for r in await read_topic(kafka_bootstrap, "intake.cases.v1") if r.key == str(case_id).encode()]
    assert len(records) == 1
    assert header(records[0], "ce_type") == "gov.intake.case.received"
