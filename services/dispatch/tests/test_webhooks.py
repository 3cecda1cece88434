"""Department webhooks per Standard Webhooks: dispatch in-process with a clock the test sets,
a department's small HTTP receiver that verifies with the ``standardwebhooks`` library."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support import ADMIN, auth_headers, eventually, free_port

from dispatch import sample_city
from dispatch.adapters import metrics
from dispatch.adapters.background import Background
from dispatch.adapters.tables import WebhookDeliveryRow
from dispatch.bootstrap import create_app
from dispatch.handlers import Dispatcher, dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived, Location
from govmesh_kit.clock import SettableClock
from govmesh_runtime.app import Runtime

GRID_A1 = "620702001001001"
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Department:
    """A department's receiver: verifies each delivery with the library (400 if it fails).
    ``mode``: ok; down (503); hang (no answer until ``release`` is set)."""

    def __init__(self) -> None:
        self.accepted: list[tuple[bytes, dict[str, str]]] = []
        self.rejected: list[str] = []
        self.mode = "ok"
        self.release = threading.Event()
        self.hung = 0
        department = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                if department.mode == "hang":
                    department.hung += 1
                    department.release.wait(timeout=60)
                if department.mode == "down":
                    self.send_response(503)
                    self.end_headers()
                    return
                try:
                    Webhook(SECRET).verify(body, headers)
                except WebhookVerificationError as exc:
                    department.rejected.append(str(exc))
                    self.send_response(400)
                else:
                    department.accepted.append((body, headers))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.url = f"http://127.0.0.1:{free_port()}/tasks"
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        # A listen backlog of 5 (socketserver's default) resets connections when the senders
        # post many deliveries at once on a busy box: a department's server takes them all.
        server_class = type("DepartmentServer", (ThreadingHTTPServer,), {"request_queue_size": 256})
        self.server = server_class(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Dispatch:
    runtime: Runtime
    dispatcher: Dispatcher
    clock: SettableClock
    http: httpx.AsyncClient


@pytest.fixture
def department() -> Iterator[Department]:
    receiver = Department()
    yield receiver
    receiver.close()


@asynccontextmanager
async def dispatch_app(tmp_path: Path, kafka: str, clock: SettableClock, **settings: Any) -> AsyncIterator[Dispatch]:
    config = DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,  # the test sends when it has set the clock
        webhook_secret=SECRET,
        **settings,
    )
    app = create_app(config, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://x", headers=ADMIN) as http,
    ):
        yield Dispatch(app.state.runtime, app.state.dispatcher, clock, http)


@pytest.fixture
async def dispatch(tmp_path: Path, kafka_bootstrap: str, department: Department) -> AsyncIterator[Dispatch]:
    hooks = {"civil_affairs": department.url}
    async with dispatch_app(tmp_path, kafka_bootstrap, SettableClock(), department_webhooks=hooks) as app:
        yield app


async def department_task(dispatch: Dispatch, matter: str = "civil_affairs.relief") -> None:
    lat, lon = sample_city.centre_point(GRID_A1)
    event = CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code=matter,
        channel="api",
        description="Relief for a family in need.",
        location=Location(lat=lat, lon=lon),
        received_at=dispatch.clock(),
    )
    async with dispatch.runtime.uow() as uow:
        await dispatch_case_on_received(event, uow, dispatcher=dispatch.dispatcher)
        await uow.commit()


async def send(dispatch: Dispatch) -> None:
    background = Background(dispatch.runtime, dispatch.dispatcher)
    try:
        await background.deliver_webhooks()
    finally:
        await background.stop()


async def test_a_department_verifies_a_delivery_with_the_standard_webhooks_library(
    dispatch: Dispatch, department: Department
) -> None:
    await department_task(dispatch)
    await send(dispatch)
    assert department.rejected == []
    [(body, headers)] = department.accepted
    async with dispatch.runtime.db.sessions() as session:
        [row] = (await session.exec(select(WebhookDeliveryRow))).all()
    assert headers["webhook-id"] == str(row.id)  # the delivery's id: the same on a retry, to dedupe by
    assert int(headers["webhook-timestamp"]) == int(dispatch.clock().timestamp())
    assert headers["webhook-signature"].startswith("v1,")
    assert json.loads(body)["department"] == "civil_affairs"
    assert "X-Govmesh-Signature" not in headers  # the old scheme is gone


async def test_a_delivery_signed_outside_the_tolerance_is_rejected_as_a_replay(
    dispatch: Dispatch, department: Department
) -> None:
    dispatch.clock.now = datetime.now(UTC) - timedelta(minutes=10)  # what a replay of an old delivery carries
    await department_task(dispatch)
    await send(dispatch)
    assert department.accepted == []
    assert department.rejected == ["Message timestamp too old"]
    async with dispatch.runtime.db.sessions() as session:
        [row] = (await session.exec(select(WebhookDeliveryRow))).all()
    assert (row.delivered_at, row.attempts, row.last_error) == (None, 1, "HTTP 400")


def test_the_webhook_secret_has_no_usable_default_outside_development() -> None:
    hooks = {"civil_affairs": "https://civil.example/tasks"}
    with pytest.raises(ValueError, match="DISPATCH_WEBHOOK_SECRET is required"):
        DispatchSettings(environment="production", department_webhooks=hooks)
    with pytest.raises(ValueError, match="whsec_"):
        DispatchSettings(environment="production", department_webhooks=hooks, webhook_secret="change-me")  # noqa: S106
    with pytest.raises(ValueError, match="24 to 64"):
        DispatchSettings(webhook_secret="whsec_" + base64.b64encode(b"short").decode())
    assert DispatchSettings(environment="production", department_webhooks=hooks, webhook_secret=SECRET)
    development = DispatchSettings(department_webhooks=hooks)
    assert development.signing_secret().startswith("whsec_")  # random per process, not a shared default
    assert development.signing_secret() != DispatchSettings(department_webhooks=hooks).signing_secret()


# --- concurrency and parking (issue 13, item 8) --------------------------------------------------


async def test_an_unreachable_department_does_not_hold_up_the_others(tmp_path: Path, kafka_bootstrap: str) -> None:
    stuck, other = Department(), Department()
    stuck.mode = "hang"
    hooks = {"civil_affairs": stuck.url, "legal_services": other.url}
    clock = SettableClock()
    try:
        async with dispatch_app(
            tmp_path, kafka_bootstrap, clock, department_webhooks=hooks, webhook_timeout_s=120
        ) as dispatch:
            await department_task(dispatch, "civil_affairs.relief")  # first in line
            clock.now += timedelta(seconds=1)
            await department_task(dispatch, "legal.consultation")
            background = Background(dispatch.runtime, dispatch.dispatcher)
            round_ = asyncio.create_task(background.deliver_webhooks())

            async def both_sent() -> bool:
                return stuck.hung == 1 and len(other.accepted) == 1

            # the other's delivery is not queued behind the stuck one (which waits for 60 s)
            await eventually(both_sent, timeout=30)
            assert not round_.done()
            stuck.release.set()
            await round_
            await background.stop()
    finally:
        stuck.close()
        other.close()


async def test_a_delivery_that_keeps_failing_is_parked_listed_and_resent_by_an_operator(
    dispatch: Dispatch, department: Department
) -> None:
    department.mode = "down"
    dispatch.dispatcher.settings.webhook_max_attempts = 2
    await department_task(dispatch)
    await send(dispatch)
    dispatch.clock.now += timedelta(minutes=10)  # past the backoff
    await send(dispatch)
    dispatch.clock.now += timedelta(minutes=10)
    await send(dispatch)  # parked: not tried a third time
    assert department.accepted == [] and department.rejected == []
    assert metrics.WEBHOOK_PARKED._value.get() == 1  # the gauge an alert watches

    operator = auth_headers(["tasks:manage"], subject="operator-li")
    parked = await dispatch.http.get("/v1/webhooks/deliveries", params={"state": "parked"}, headers=operator)
    assert parked.status_code == 200, parked.text
    [row] = parked.json()
    assert (row["department"], row["attempts"], row["state"], row["last_error"]) == (
        "civil_affairs",
        2,
        "parked",
        "HTTP 503",
    )
    worker = auth_headers(["tasks:work", "cases:read"], subject="W001")
    refused = await dispatch.http.post(f"/v1/webhooks/deliveries/{row['id']}/resend", headers=worker)
    assert refused.status_code == 403 and "tasks:manage" in refused.text

    department.mode = "ok"
    dispatch.clock.now = datetime.now(UTC)  # signed now, or the department refuses it as too new
    resent = await dispatch.http.post(f"/v1/webhooks/deliveries/{row['id']}/resend", headers=operator)
    assert resent.status_code == 200, resent.text
    assert (resent.json()["state"], resent.json()["attempts"]) == ("pending", 0)
    again = await dispatch.http.post(f"/v1/webhooks/deliveries/{row['id']}/resend", headers=operator)
    assert again.status_code == 409
    await send(dispatch)
    assert [h["webhook-id"] for _, h in department.accepted] == [row["id"]]
    delivered = await dispatch.http.get("/v1/webhooks/deliveries", params={"state": "delivered"}, headers=operator)
    assert [d["id"] for d in delivered.json()] == [row["id"]]
    page = await dispatch.http.get("/v1/audit", params={"resource": "webhook_delivery", "action": "change"})
    entries = page.json()["items"]
    assert [(a["subject"], a["resource_id"]) for a in entries] == [("operator-li", row["id"])]


async def test_two_senders_on_one_postgresql_database_post_each_delivery_once(
    tmp_path: Path, kafka_bootstrap: str, fresh_postgres_url: str, department: Department
) -> None:
    hooks = {"civil_affairs": department.url}
    clock = SettableClock()
    slow_box = {"webhook_timeout_s": 120}  # no attempt may fail on a busy machine: a retry would post twice
    async with (
        dispatch_app(
            tmp_path / "a",
            kafka_bootstrap,
            clock,
            department_webhooks=hooks,
            database_url=fresh_postgres_url,
            **slow_box,
        ) as one,
        dispatch_app(
            tmp_path / "b",
            kafka_bootstrap,
            clock,
            department_webhooks=hooks,
            database_url=fresh_postgres_url,
            **slow_box,
        ) as two,
    ):
        for _ in range(30):
            await department_task(one)
        senders = [Background(app.runtime, app.dispatcher) for app in (one, two)]
        await asyncio.gather(*(sender.deliver_webhooks() for sender in senders))
        for sender in senders:
            await sender.stop()
        async with one.runtime.db.sessions() as session:
            rows = (await session.exec(select(WebhookDeliveryRow))).all()
    ids = [h["webhook-id"] for _, h in department.accepted]
    assert len(rows) == 30 and all(r.delivered_at is not None and r.attempts == 1 for r in rows)
    assert sorted(ids) == sorted(str(r.id) for r in rows)  # every delivery posted exactly once
