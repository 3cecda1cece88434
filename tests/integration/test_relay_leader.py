"""Several instances of a service on one PostgreSQL database: one outbox relay publishes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from datetime import UTC, datetime

import pytest
from sqlmodel import SQLModel, col, select
from support import eventually, header, read_topic

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


# A relay in a process of its own, so the test can stop it (SIGSTOP) as a hung instance would be.
_RELAY_PROCESS = """
import asyncio, os, sys
from govmesh_runtime.db import Database
from govmesh_runtime.kafka import ProducerHolder
from govmesh_runtime.relay import OutboxRelay

async def main() -> None:
    db = Database(os.environ["RELAY_DB"])
    relay = OutboxRelay(db.sessions, ProducerHolder(os.environ["RELAY_KAFKA"], "relay-hung"), poll_interval_s=0.1,
                        leader_engine=db.engine, lease_s=float(os.environ["RELAY_LEASE_S"]))
    task = asyncio.create_task(relay.run())
    leading = None
    while True:
        if relay.is_leader != leading:
            leading = relay.is_leader
            print("STATE", "LEADER" if leading else "STANDBY", flush=True)
        await asyncio.sleep(0.05)

asyncio.run(main())
"""


async def test_a_hung_leader_loses_the_lease_and_publishes_nothing_twice_when_it_resumes(
    fresh_postgres_url: str, kafka_bootstrap: str, test_topic: str
) -> None:
    db = Database(fresh_postgres_url)
    async with db.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
    env = {**os.environ, "RELAY_DB": fresh_postgres_url, "RELAY_KAFKA": kafka_bootstrap, "RELAY_LEASE_S": "3"}
    hung = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _RELAY_PROCESS, env=env, stdout=asyncio.subprocess.PIPE
    )
    assert hung.stdout is not None
    standby = OutboxRelay(
        db.sessions, ProducerHolder(kafka_bootstrap, "relay-standby"), poll_interval_s=0.1, leader_engine=db.engine
    )
    standby_task: asyncio.Task[None] | None = None

    async def next_state() -> str:
        assert hung.stdout is not None
        while True:  # its log lines go to stdout too
            line = (await asyncio.wait_for(hung.stdout.readline(), timeout=60)).decode()
            if line.startswith("STATE "):
                return line.split()[1]

    async def emit(n: int) -> str:
        event_id = f"e{n}-{uuid.uuid4().hex[:8]}"
        async with db.sessions() as session:
            session.add(
                OutboxMessage(
                    event_id=event_id,
                    event_type="t",
                    topic=test_topic,
                    key="one-case",
                    headers=json.dumps([["ce_id", event_id]]),
                    payload=json.dumps({"n": n}),
                )
            )
            await session.commit()
        return event_id

    async def sent(event_id: str) -> bool:
        async with db.sessions() as session:
            row = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.event_id) == event_id))).one()
            return row.sent_at is not None

    try:
        assert await next_state() == "STANDBY"
        assert await next_state() == "LEADER"
        standby_task = asyncio.create_task(standby.run())
        first = await emit(1)
        await eventually(lambda: sent(first), timeout=60)
        assert not standby.is_leader

        os.kill(hung.pid, signal.SIGSTOP)  # hangs: its connection stays open, it sends nothing
        second = await emit(2)

        async def standby_took_over() -> bool:
            return standby.is_leader

        await eventually(standby_took_over, timeout=60)  # the lease is 3 s: well within
        await eventually(lambda: sent(second), timeout=60)

        os.kill(hung.pid, signal.SIGCONT)
        assert await next_state() == "STANDBY"  # it sees its lease is gone and stands by
        third = await emit(3)
        await eventually(lambda: sent(third), timeout=60)
        records = await read_topic(kafka_bootstrap, test_topic, min_records=3)
        ids = [header(r, "ce_id") for r in records]
        assert ids == [first, second, third]  # each once, in the order produced
        assert standby.is_leader
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(hung.pid, signal.SIGCONT)
            hung.kill()
        await hung.wait()
        standby.stop()
        if standby_task is not None:
            await asyncio.gather(standby_task, return_exceptions=True)
        await standby._producer.close()
        await db.dispose()
