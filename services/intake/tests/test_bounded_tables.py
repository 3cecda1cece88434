"""Bounded tables (issue 16 item 5): the prune job deletes inbox rows, sent outbox rows and
Idempotency-Keys older than their retention, on SQLite and PostgreSQL; what is younger, and
every unsent or parked outbox row, stays; the inbox's retention cannot go below the topics'."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import col, select
from support import eventually

from govmesh_contracts import CaseDispatched
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import InboxMessage, OutboxMessage
from intake.adapters.tables import IdempotencyKeyRow
from intake.settings import IntakeSettings

DAY = 24 * 3600
Deliver = Callable[..., Awaitable[None]]
CASE: dict[str, Any] = {"matter_code": "dispute.neighbour", "description": "Water leaks", "lat": 38.93, "lon": 100.45}


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str, database_url: str) -> IntakeSettings:
    # The job runs every fraction of a second here; what it may delete is only what the test ages.
    return IntakeSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        database_url=database_url,
        duplicate_window_s=0,
        prune_interval_s=0.2,
        topic_retention_s=7 * DAY,
        inbox_retention_s=10 * DAY,
        outbox_retention_s=3 * DAY,
        idempotency_key_retention_s=2 * DAY,
    )


async def test_the_prune_job_keeps_each_table_within_its_retention(
    client: httpx.AsyncClient, runtime: Runtime, deliver: Deliver
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(4)]
    cases = []
    for key in keys:
        answer = await client.post("/v1/cases", json=CASE, headers={"Idempotency-Key": key})
        assert answer.status_code == 201, answer.text
        cases.append(uuid.UUID(answer.json()["id"]))
    for case_id in cases:
        await deliver(CaseDispatched(case_id=case_id, handled_by="centre:620700", dispatched_at=datetime.now(UTC)))

    async def all_sent() -> bool:
        async with runtime.db.sessions() as session:
            unsent = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.sent_at).is_(None)))).all()
            return not unsent

    await eventually(all_sent, timeout=60)
    now = datetime.now(UTC)
    async with runtime.db.sessions() as session:
        inbox = list((await session.exec(select(InboxMessage).order_by(col(InboxMessage.id)))).all())
        outbox = list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())
        assert len(inbox) == 4 and len(outbox) == 4
        # Two of each beyond their retention, two inside it (one just inside).
        for row, age in zip(inbox, [11 * DAY, 30 * DAY, 9 * DAY, 0], strict=True):
            row.processed_at = now - timedelta(seconds=age)
        for row, age in zip(outbox, [4 * DAY, 40 * DAY, 2 * DAY, 0], strict=True):
            row.sent_at = now - timedelta(seconds=age)
        # An unsent and a parked row, however old, are never pruned.
        for n, parked in enumerate([None, now - timedelta(days=50)]):
            session.add(
                OutboxMessage(
                    event_id=f"old-{n}",
                    event_type="t",
                    topic="intake.cases.v1",
                    key="k",
                    headers="[]",
                    payload="{}",
                    created_at=now - timedelta(days=60),
                    parked_at=parked,
                    park_reason="test" if parked else None,
                )
            )
        for key, age in zip(keys, [3 * DAY, 20 * DAY, DAY, 0], strict=True):
            await session.exec(
                sa.update(IdempotencyKeyRow)
                .where(col(IdempotencyKeyRow.key) == key)
                .values(created_at=now - timedelta(seconds=age))
            )
        await session.commit()
        kept_inbox = {inbox[2].event_id, inbox[3].event_id}
        kept_outbox = {outbox[2].event_id, outbox[3].event_id, "old-0", "old-1"}

    async def pruned() -> bool:
        async with runtime.db.sessions() as session:
            ids = set((await session.exec(select(InboxMessage.event_id))).all())
            sent = set((await session.exec(select(OutboxMessage.event_id))).all())
            stored = set((await session.exec(select(IdempotencyKeyRow.key))).all())
        assert kept_inbox <= ids and kept_outbox <= sent and {keys[2], keys[3]} <= stored  # never too much
        return ids == kept_inbox and sent == kept_outbox and stored == {keys[2], keys[3]}

    await eventually(pruned, timeout=60)
    # A key inside its retention still answers the retry; the first key's cases are untouched.
    retry = await client.post("/v1/cases", json=CASE, headers={"Idempotency-Key": keys[2]})
    assert (retry.status_code, retry.json()["outcome"], retry.json()["id"]) == (200, "retried", str(cases[2]))
    assert (await client.get(f"/v1/cases/{cases[0]}")).status_code == 200


def test_the_inbox_cannot_forget_sooner_than_the_topics_can_redeliver(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="GOVMESH_INBOX_RETENTION_S"):
        IntakeSettings(data_dir=tmp_path, topic_retention_s=7 * DAY, inbox_retention_s=DAY)
    with pytest.raises(ValidationError, match="idempotency_key_retention_s"):
        IntakeSettings(data_dir=tmp_path, idempotency_key_retention_s=60)
