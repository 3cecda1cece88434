"""Several instances of a service on one PostgreSQL database: one outbox relay publishes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import SQLModel, col, select
from support import eventually

from govmesh_contracts import CaseDispatched
from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.relay import OutboxRelay
from govmesh_runtime.tables import OutboxMessage
from govmesh_runtime.uow import UnitOfWork

pytestmark = pytest.mark.integration


async def test_one_relay_leads_and_another_takes_over_when_it_goes(
    fresh_postgres_url: str, kafka_bootstrap: str
) -> None:
    db = Database(fresh_postgres_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    relays = [
        OutboxRelay(
            db.sessions, ProducerHolder(kafka_bootstrap, f"relay-{n}"), poll_interval_s=0.1, leader_engine=db.engine
        )
        for n in range(2)
    ]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]

    async def emit() -> str:
        async with UnitOfWork(db.sessions, source="/govmesh/test") as uow:
            event = CaseDispatched(case_id=uuid.uuid4(), handled_by="centre:620700", dispatched_at=datetime.now(UTC))
            envelope = uow.emit(event)
            await uow.commit()
        return envelope.id

    async def sent(event_id: str) -> bool:
        async with db.sessions() as session:
            row = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.event_id) == event_id))).one()
            return row.sent_at is not None

    try:

        async def one_leader() -> bool:
            return sum(r.is_leader for r in relays) == 1

        await eventually(one_leader)
        first = await emit()
        await eventually(lambda: sent(first))
        await asyncio.sleep(1)  # both had time to try: still one leader
        assert sum(r.is_leader for r in relays) == 1

        leader = next(i for i, r in enumerate(relays) if r.is_leader)
        relays[leader].stop()
        await asyncio.wait_for(tasks[leader], timeout=30)
        standby = relays[1 - leader]

        async def standby_took_over() -> bool:
            return standby.is_leader

        await eventually(standby_took_over)
        second = await emit()
        await eventually(lambda: sent(second))
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for relay in relays:
            await relay._producer.close()
        await db.dispose()
