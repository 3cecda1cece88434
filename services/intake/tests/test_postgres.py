"""The queries that differ most between backends — search, duplicates, Open311 filters, the
migrations — on PostgreSQL too (the other component tests run on SQLite)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import col, select

from govmesh_contracts import CaseFeedbackGiven, CaseResolved
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage
from intake.handlers import record_case_resolved

Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]
CASE: dict[str, Any] = {
    "matter_code": "dispute.neighbour",
    "description": "Leak_100% in 3 单元",
    "lat": 38.93,
    "lon": 100.45,
}


async def test_search_duplicates_and_open311_on_postgresql(client_with: Client, fresh_postgres_url: str) -> None:
    async with client_with(database_url=fresh_postgres_url) as http:
        first = (await http.post("/v1/cases", json=CASE)).json()
        assert first["outcome"] == "created", first
        linked = (await http.post("/v1/cases", json={**CASE, "lat": 38.9302})).json()
        assert (linked["outcome"], linked["id"]) == ("linked", first["id"])
        other = (await http.post("/v1/cases", json={**CASE, "description": "Noise", "lat": 38.5, "lon": 99.9})).json()

        async def numbers(**params: str) -> list[str]:
            response = await http.get("/v1/cases", params=params)
            assert response.status_code == 200, response.text
            return [c["case_number"] for c in response.json()["items"]]

        assert await numbers(q="leak_100%") == [first["case_number"]]  # LIKE wildcards are literal
        assert await numbers(q="100%x") == []
        assert await numbers(q="单元") == [first["case_number"]]
        assert await numbers(bbox="99.8,38.4,100.0,38.6") == [other["case_number"]]
        root = await http.get("/open311/v2/requests.json", params={"status": "open"})
        assert sorted(r["service_request_id"] for r in root.json()) == sorted(
            [first["case_number"], other["case_number"]]
        )


async def test_concurrent_posts_with_one_idempotency_key_make_one_case(
    client_with: Client, fresh_postgres_url: str
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    async with client_with(database_url=fresh_postgres_url) as http:
        answers = await asyncio.gather(*(http.post("/v1/cases", json=CASE, headers=key) for _ in range(4)))
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [a.text for a in answers]
        assert len({a.json()["id"] for a in answers}) == 1
        assert (await http.get("/v1/cases")).json()["total"] == 1


async def test_concurrent_feedback_on_one_case_makes_one_event(client_with: Client, fresh_postgres_url: str) -> None:
    async with client_with(database_url=fresh_postgres_url) as http:
        case_id = (await http.post("/v1/cases", json={**CASE, "lat": 38.7})).json()["id"]
        runtime: Runtime = http.app.state.runtime  # type: ignore[attr-defined]
        async with runtime.uow(causation_id=str(uuid.uuid4())) as uow:  # dispatch resolved it
            await record_case_resolved(CaseResolved(case_id=uuid.UUID(case_id), resolved_at=datetime.now(UTC)), uow)
            await uow.commit()
        body = {"satisfaction": 5, "solved": True}
        answers = await asyncio.gather(*(http.post(f"/v1/cases/{case_id}/feedback", json=body) for _ in range(4)))
        assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text for a in answers]
        async with runtime.db.sessions() as session:
            given = (
                await session.exec(
                    select(OutboxMessage).where(col(OutboxMessage.event_type) == CaseFeedbackGiven.event_type)
                )
            ).all()
        assert len(given) == 1
        timeline = (await http.get(f"/v1/cases/{case_id}")).json()["timeline"]
        assert [s["kind"] for s in timeline].count("feedback") == 1
