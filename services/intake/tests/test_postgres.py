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
from intake.handlers.timeline import record_step

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


async def test_a_page_of_open311_requests_costs_the_same_few_queries_however_many_it_holds(
    client_with: Client, fresh_postgres_url: str
) -> None:
    """Not a query per request (its timeline): counted with an event listener on the real database."""
    from sqlalchemy import event

    async with client_with(database_url=fresh_postgres_url) as http:
        engine = http.app.state.runtime.db.engine.sync_engine  # type: ignore[attr-defined]
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if "outbox" not in statement:  # the outbox relay works beside the request
                statements.append(statement)

        async def queries_for_a_page() -> tuple[int, int]:
            statements.clear()
            event.listen(engine, "before_cursor_execute", count)
            try:
                answer = await http.get("/open311/v2/requests.json", params={"extensions": "true"})
            finally:
                event.remove(engine, "before_cursor_execute", count)
            assert answer.status_code == 200, answer.text
            return len(answer.json()), len(statements)

        async def create(n: int) -> None:
            for i in range(n):  # far apart: no duplicate linking
                body = {**CASE, "lat": 38.0 + n * 0.1, "lon": 99.0 + i * 0.01}
                assert (await http.post("/v1/cases", json=body)).status_code == 201

        await create(2)
        few, few_queries = await queries_for_a_page()
        await create(10)
        many, many_queries = await queries_for_a_page()
    assert (few, many) == (2, 12)
    assert many_queries == few_queries <= 3, statements  # how many match, the page, their timelines


async def test_concurrent_feedback_on_one_case_makes_one_event(client_with: Client, fresh_postgres_url: str) -> None:
    async with client_with(database_url=fresh_postgres_url) as http:
        case_id = (await http.post("/v1/cases", json={**CASE, "lat": 38.7})).json()["id"]
        runtime: Runtime = http.app.state.runtime  # type: ignore[attr-defined]
        async with runtime.uow(causation_id=str(uuid.uuid4())) as uow:  # dispatch resolved it
            await record_step(CaseResolved(case_id=uuid.UUID(case_id), resolved_at=datetime.now(UTC)), uow)
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
