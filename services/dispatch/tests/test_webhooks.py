"""Department webhooks per Standard Webhooks: dispatch in-process with a clock the test sets,
a department's small HTTP receiver that verifies with the ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support import ADMIN, free_port

from dispatch import sample_city
from dispatch.adapters.background import Background
from dispatch.adapters.tables import WebhookDeliveryRow
from dispatch.bootstrap import create_app
from dispatch.handlers import Dispatcher, dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived, Location
from govmesh_runtime.app import Runtime

GRID_A1 = "620702001001001"
SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Department:
    """A department's receiver: verifies each delivery with the library (400 if it fails)."""

    def __init__(self) -> None:
        self.accepted: list[tuple[bytes, dict[str, str]]] = []
        self.rejected: list[str] = []
        department = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
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
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Dispatch:
    runtime: Runtime
    dispatcher: Dispatcher
    clock: Clock


@pytest.fixture
def department() -> Iterator[Department]:
    receiver = Department()
    yield receiver
    receiver.close()


@pytest.fixture
async def dispatch(tmp_path: Path, kafka_bootstrap: str, department: Department) -> AsyncIterator[Dispatch]:
    clock = Clock()
    settings = DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,  # the test sends when it has set the clock
        department_webhooks={"civil_affairs": department.url},
        webhook_secret=SECRET,
    )
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), httpx.AsyncClient(base_url="http://x", headers=ADMIN):
        yield Dispatch(app.state.runtime, app.state.dispatcher, clock)


async def department_task(dispatch: Dispatch) -> None:
    lat, lon = sample_city.centre_point(GRID_A1)
    event = CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code="civil_affairs.relief",
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
