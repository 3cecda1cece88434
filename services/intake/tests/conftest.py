"""Intake's test fixtures: the app in-process (ASGI) on its own SQLite database, helpers to
deliver events through the real consumer path (decode, inbox dedupe, handler, commit)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord
from sqlmodel import col, select
from support import ADMIN, eventually, produce

from govmesh_contracts import Event, encode, envelope_for
from govmesh_runtime.app import Runtime
from govmesh_runtime.consumer import EventConsumer
from govmesh_runtime.tables import InboxMessage, OutboxMessage
from intake.bootstrap import create_app
from intake.entrypoints.consumers import consumer_specs
from intake.settings import IntakeSettings


def make_settings(tmp_path: Path, kafka_bootstrap: str, **overrides: Any) -> IntakeSettings:
    return IntakeSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        **overrides,
    )


@pytest.fixture
def settings(tmp_path: Path, kafka_bootstrap: str) -> IntakeSettings:
    return make_settings(tmp_path, kafka_bootstrap)


@asynccontextmanager
async def running(settings: IntakeSettings, headers: dict[str, str] = ADMIN) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process; its client sends ``headers`` (every scope, everywhere, by default)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake", headers=headers) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture
def credential() -> dict[str, Any]:
    """What the ``client`` fixture sends on every request (a module may override it)."""
    return {"headers": ADMIN}


@pytest.fixture
async def client(settings: IntakeSettings, credential: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with running(settings, headers=credential.get("headers", {})) as http:
        http.params = httpx.QueryParams(credential.get("params", {}))
        yield http


Client = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def client_with(tmp_path: Path, kafka_bootstrap: str) -> Client:
    """Another intake in-process, with settings overridden: ``async with client_with(x=1) as http``."""

    def _client(**overrides: Any) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return running(make_settings(tmp_path / "other", kafka_bootstrap, **overrides))

    return _client


def runtime_of(client: httpx.AsyncClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


@pytest.fixture
def runtime(client: httpx.AsyncClient) -> Runtime:
    return runtime_of(client)


Outbox = Callable[..., Awaitable[list[OutboxMessage]]]


@pytest.fixture
def outbox(runtime: Runtime) -> Outbox:
    """The outbox messages written so far, optionally of one event type."""

    async def _outbox(event_type: str | None = None) -> list[OutboxMessage]:
        async with runtime.db.sessions() as session:
            query = select(OutboxMessage).order_by(col(OutboxMessage.id))
            if event_type:
                query = query.where(col(OutboxMessage.event_type) == event_type)
            return list((await session.exec(query)).all())

    return _outbox


Deliver = Callable[..., Awaitable[None]]


@pytest.fixture
async def deliver(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, settings: IntakeSettings
) -> AsyncIterator[Deliver]:
    """Deliver events to intake's consumers. By default as the broker would: encoded records through
    the real consumer loop's processing (decode, inbox dedupe, handler, commit). A test parametrized
    with ``@pytest.mark.parametrize("deliver", ["broker"], indirect=True)`` publishes them on the real
    Kafka instead, with intake's real consumer loops running (in a group of their own), and each call
    returns once the event is applied (in the inbox). Returns nothing."""
    runtime = runtime_of(client)
    if getattr(request, "param", "in_process") == "broker":
        async with _consumers_on_the_broker(runtime, settings) as on_broker:
            yield on_broker
        return
    consumers = {
        topic: EventConsumer(
            spec,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            uow_factory=runtime.uow,
            producer=runtime.producer,
            max_retries=1,
        )
        for spec in consumer_specs(settings)
        for topic in spec.topics
    }
    offsets: dict[str, int] = {}

    async def _deliver(event: Event, *, times: int = 1) -> None:
        """``times`` > 1 redelivers the very same record (same event id), as Kafka may."""
        record = encode(event, envelope_for(event, source="/govmesh/test"))
        for _ in range(times):
            offset = offsets[record.topic] = offsets.get(record.topic, -1) + 1
            kafka_record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
                record.topic,
                0,
                offset,
                0,
                0,
                record.key,
                record.value,
                None,
                len(record.key),
                len(record.value),
                record.headers,
            )
            await consumers[record.topic].process_batch([kafka_record])

    yield _deliver


@asynccontextmanager
async def _consumers_on_the_broker(runtime: Runtime, settings: IntakeSettings) -> AsyncIterator[Deliver]:
    group = uuid.uuid4().hex[:8]  # a group of its own: no other intake of the session shares its partitions
    consumers = [
        EventConsumer(
            dataclasses.replace(spec, name=f"{spec.name}-{group}"),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            uow_factory=runtime.uow,
            producer=runtime.producer,
        )
        for spec in consumer_specs(settings)
    ]
    tasks = [asyncio.create_task(c.run()) for c in consumers]

    async def _deliver(event: Event, *, times: int = 1) -> None:
        record = encode(event, envelope_for(event, source="/govmesh/test"))
        await produce(
            settings.kafka_bootstrap_servers, record.topic, [(record.key, record.value, record.headers)] * times
        )
        event_id = dict(record.headers)["ce_id"].decode()

        async def applied() -> bool:
            async with runtime.db.sessions() as session:
                query = select(InboxMessage).where(col(InboxMessage.event_id) == event_id)
                return (await session.exec(query)).first() is not None

        await eventually(applied, timeout=120)  # a fresh group first reads the topics' backlog

    try:
        yield _deliver
    finally:
        for c in consumers:
            c.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
