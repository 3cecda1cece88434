"""The use-case registry and its runner: injection by name, one transaction per command, the
domain's refusals answered as HTTP once, metrics per use case, subscriptions derived."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from prometheus_client import REGISTRY
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_contracts import (
    CaseReceived,
    MediationTaskCompleted,
    PolicingTaskCompleted,
    TaskAssigned,
    topic_for,
)
from govmesh_kit.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from govmesh_runtime import jobs, places
from govmesh_runtime.app import UseCasesDep, create_app
from govmesh_runtime.auth import Keyring, Principal
from govmesh_runtime.db import Database
from govmesh_runtime.settings import ServiceSettings
from govmesh_runtime.uow import UnitOfWork
from govmesh_runtime.usecases import Registry, Runner

NOON = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'uc.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE notes (text VARCHAR NOT NULL)"))
    yield database
    await database.dispose()


def runner_for(registry: Registry, db: Database, **provided: object) -> Runner:
    use_cases = registry.bind(settings="the settings", clock=lambda: NOON, **provided)
    return Runner(use_cases, lambda: UnitOfWork(db.sessions, source="/govmesh/test"))


async def notes(db: Database) -> list[str]:
    async with db.sessions() as session:
        return list((await session.execute(sa.text("SELECT text FROM notes"))).scalars())


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_handler_gets_the_message_and_what_it_names(db: Database) -> None:
    registry = Registry("test")
    seen: dict[str, object] = {}
    greeter = object()

    @registry.command
    async def write_note(
        text: str,
        uow: UnitOfWork,
        session: AsyncSession,
        now: datetime,
        settings: str,
        actor: Principal,
        greeter: object,
    ) -> str:
        seen.update(uow=uow, session=session, now=now, settings=settings, actor=actor, greeter=greeter)
        return f"{text} by {actor.subject}"

    caller = Principal(subject="clerk-7", scopes=frozenset(), places=())
    result = await runner_for(registry, db, greeter=greeter).run(write_note, "hello", actor=caller)

    assert result == "hello by clerk-7"
    assert isinstance(seen["uow"], UnitOfWork)
    assert seen["session"] is not None
    assert (seen["now"], seen["settings"], seen["actor"], seen["greeter"]) == (NOON, "the settings", caller, greeter)


async def test_keyword_arguments_of_run_fill_the_parameters_they_name(db: Database) -> None:
    registry = Registry("test")

    @registry.command
    async def route(session: AsyncSession, task_id: uuid.UUID, room_code: str, limit: int = 5) -> tuple[str, int]:
        return f"{task_id}->{room_code}", limit

    task_id = uuid.uuid4()
    assert await runner_for(registry, db).run(route, task_id=task_id, room_code="PR-1") == (f"{task_id}->PR-1", 5)


async def test_the_runner_commits_on_success_and_rolls_back_when_the_handler_raises(db: Database) -> None:
    registry = Registry("test")

    @registry.command
    async def add(text: str, session: AsyncSession) -> None:
        await session.execute(sa.text("INSERT INTO notes (text) VALUES (:t)"), {"t": text})

    @registry.command
    async def add_then_refuse(text: str, session: AsyncSession) -> None:
        await session.execute(sa.text("INSERT INTO notes (text) VALUES (:t)"), {"t": text})
        raise Conflict("no second note")

    runner = runner_for(registry, db)
    await runner.run(add, "kept")
    with pytest.raises(Conflict):
        await runner.run(add_then_refuse, "undone")
    assert await notes(db) == ["kept"]


async def test_an_unregistered_handler_is_refused(db: Database) -> None:
    async def stray(session: AsyncSession) -> None: ...

    with pytest.raises(LookupError, match="not a registered command"):
        await runner_for(Registry("test"), db).run(stray)


async def test_each_run_is_counted_once_by_outcome(db: Database) -> None:
    registry = Registry("test")

    @registry.command
    async def counted_case(outcome: str) -> None:
        if outcome == "refused":
            raise NotFound("no such thing")
        if outcome == "error":
            raise RuntimeError("a bug")

    runner = runner_for(registry, db)
    before = {
        o: count("govmesh_use_cases_total", use_case="counted_case", outcome=o) for o in ("ok", "refused", "error")
    }
    await runner.run(counted_case, "ok")
    with pytest.raises(NotFound):
        await runner.run(counted_case, "refused")
    with pytest.raises(RuntimeError):
        await runner.run(counted_case, "error")
    for outcome in ("ok", "refused", "error"):
        assert count("govmesh_use_cases_total", use_case="counted_case", outcome=outcome) == before[outcome] + 1
    assert count("govmesh_handler_duration_seconds_count", handler="counted_case", outcome="error") >= 2


def test_consumer_specs_are_derived_from_the_reactions_with_their_topics_and_groups() -> None:
    registry = Registry("test")

    async def on_received(event: CaseReceived, uow: UnitOfWork) -> None: ...

    async def on_result(event: MediationTaskCompleted | PolicingTaskCompleted, session: AsyncSession) -> None: ...

    registry.reaction("test-cases", CaseReceived, on_received)
    registry.reacts_to(MediationTaskCompleted, PolicingTaskCompleted, group="test-results")(on_result)

    specs = registry.bind().consumer_specs()

    assert [s.name for s in specs] == ["test-cases", "test-results"]
    assert specs[0].topics == (topic_for(CaseReceived).name,)
    assert specs[1].topics == (topic_for(MediationTaskCompleted).name, topic_for(PolicingTaskCompleted).name)
    assert set(specs[1].handlers) == {MediationTaskCompleted, PolicingTaskCompleted}
    assert getattr(specs[0].handlers[CaseReceived], "__name__", None) == "on_received"  # the consumer's metric label


async def test_a_reaction_gets_the_consumers_unit_of_work_and_its_dependencies(db: Database) -> None:
    registry = Registry("test")
    got: list[object] = []

    async def on_assigned(event: TaskAssigned, uow: UnitOfWork, now: datetime, grids: str) -> None:
        got.extend([event, uow, now, grids])

    registry.reaction("test-tasks", TaskAssigned, on_assigned)
    [spec] = registry.bind(clock=lambda: NOON, grids="the grid index").consumer_specs()
    event = object()
    async with UnitOfWork(db.sessions, source="/govmesh/test") as uow:
        await spec.handlers[TaskAssigned](event, uow)
    assert got == [event, uow, NOON, "the grid index"]


def test_a_reaction_naming_what_nothing_injects_stops_the_service_at_bind() -> None:
    registry = Registry("test")

    async def on_assigned(event: TaskAssigned, uow: UnitOfWork, grids: object) -> None: ...

    registry.reaction("test-tasks", TaskAssigned, on_assigned)
    with pytest.raises(TypeError, match=r"needs \['grids'\]"):
        registry.bind()


def test_one_group_reacts_to_an_event_once() -> None:
    registry = Registry("test")

    async def a(event: CaseReceived) -> None: ...

    registry.reaction("test-cases", CaseReceived, a)
    with pytest.raises(ValueError, match="already reacts"):
        registry.reaction("test-cases", CaseReceived, a)


@pytest.mark.parametrize(
    ("error", "status", "detail"),
    [
        (NotFound("task 1 not found"), 404, "task 1 not found"),
        (Conflict("the task is closed"), 409, "the task is closed"),
        (
            Invalid("room PR-9 not found", field="room_code"),
            422,
            [{"loc": ["body", "room_code"], "msg": "room PR-9 not found", "type": "value_error"}],  # errors[]
        ),
        (Invalid("not on duty"), 422, "not on duty"),
        (Forbidden("not your task"), 403, "not your task"),
        (DomainError("no"), 400, "no"),
    ],
)
async def test_each_domain_error_is_answered_with_its_status_through_the_apps_http_errors(
    tmp_path: Path, error: DomainError, status: int, detail: object
) -> None:
    registry = Registry("test")

    @registry.command
    async def refuse(session: AsyncSession) -> None:
        raise error

    router = APIRouter()

    @router.post("/refuse")
    async def refuse_route(use_cases: UseCasesDep) -> None:
        await use_cases.run(refuse)

    settings = ServiceSettings(
        service_name="uc", data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1", keyring=tmp_path / "k.json"
    )
    app = create_app(
        settings=settings, title="t", description="t", version="0", routers=[router], use_cases=registry.bind()
    )
    async with app.router.lifespan_context(app):
        token = Keyring.load(settings.keyring_path(), development=True).issue_token("t", [], [])
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post("/refuse", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if isinstance(detail, list):  # a field error: RFC 9457's errors[] names the field and the reason
        assert [{k: e[k] for k in ("loc", "msg", "type")} for e in problem["errors"]] == detail
        assert "room_code" in problem["detail"]
    else:
        assert problem["detail"] == detail


def test_create_app_subscribes_to_what_the_registry_reacts_to(tmp_path: Path) -> None:
    registry = Registry("test")

    async def on_received(event: CaseReceived) -> None: ...

    registry.reaction("test-cases", CaseReceived, on_received)
    settings = ServiceSettings(service_name="uc", data_dir=tmp_path, kafka_bootstrap_servers="127.0.0.1:1")
    app = create_app(settings=settings, title="t", description="t", version="0", routers=[], use_cases=registry.bind())
    assert [(s.name, s.topics) for s in app.state.consumer_specs] == [("test-cases", (topic_for(CaseReceived).name,))]


async def test_a_periodic_job_survives_a_failing_round_drains_a_backlog_and_stops() -> None:
    rounds: list[str] = []
    stopping = asyncio.Event()
    script = iter(["fail", "busy", "idle", "idle"])

    async def work() -> bool:
        step = next(script)
        rounds.append(step)
        if step == "fail":
            raise RuntimeError("database hiccup")
        if len(rounds) == 4:
            stopping.set()
        return step == "busy"

    failed_before = count("govmesh_job_runs_total", job="scripted", outcome="error")
    await asyncio.wait_for(jobs.every(0.001, work, name="scripted", stopping=stopping), timeout=30)
    assert rounds == ["fail", "busy", "idle", "idle"]
    assert count("govmesh_job_runs_total", job="scripted", outcome="error") == failed_before + 1


async def test_the_place_filter_keeps_a_bound_caller_to_their_places_and_hides_unplaced_rows(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(sa.text("CREATE TABLE placed (code VARCHAR)"))
        await conn.execute(sa.text("INSERT INTO placed VALUES ('6207'), ('620702001'), ('6208'), ('62_7'), (NULL)"))
    code = sa.column("code")

    async def visible(principal: Principal) -> list[str | None]:
        query = sa.select(code).select_from(sa.table("placed")).where(places.in_places(code, principal))
        async with db.sessions() as session:
            return sorted((await session.execute(query)).scalars(), key=str)

    bound = Principal(subject="w", scopes=frozenset(), places=("6207",))
    unbound = Principal(subject="c", scopes=frozenset(), places=())
    assert await visible(bound) == ["6207", "620702001"]  # '62_7' is no wildcard, NULL is in no place
    assert len(await visible(unbound)) == 5
