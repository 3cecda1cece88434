"""End to end: dispatch as a real process on the real broker, with the sample city.

Other services are played by the test: it produces CaseReceived and CaseFeedbackGiven
as intake would, MediationTaskCompleted as mediation would, and is the department's
webhook receiver. It reads dispatch's topics and uses dispatch's REST API."""

from __future__ import annotations

import base64
import json
import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from support import ADMIN, Service, auth_headers, eventually, free_port, produce, read_topic

from dispatch import sample_city
from govmesh_contracts import (
    CaseFeedbackGiven,
    CaseReceived,
    Event,
    Location,
    MediationTaskCompleted,
    TaskOutcome,
    decode,
    encode,
    envelope_for,
)
from govmesh_runtime.roles import Role, scopes_for

pytestmark = pytest.mark.e2e

GRID = "620702001001001"
# The grid worker's terminal: cases of their grid only (issue 9).
TERMINAL = auth_headers(scopes_for([Role.GRID_WORKER]), [GRID], subject="W001")


def _database_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


class Mesh:
    """Dispatch as a process (restartable with the same database), and the test's bus access."""

    def __init__(self, bootstrap: str, tmp_path: Path, database_url: str | None, **settings: str) -> None:
        self.bootstrap = bootstrap
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "GOVMESH_DATA_DIR": str(tmp_path),
            "DISPATCH_CITY_DATA_DIR": str(sample_city.write(tmp_path / "city")),
            **{f"DISPATCH_{k.upper()}": v for k, v in settings.items()},
        }
        if database_url:
            self.env["DISPATCH_DATABASE_URL"] = database_url
        self.runs = 0
        self.dispatch = self.start()

    def start(self) -> Service:
        self.runs += 1
        service = Service("dispatch", self.env, self.tmp_path / f"dispatch-{self.runs}.log")
        service.wait_ready()
        self.dispatch = service
        return service

    def restart(self) -> Service:
        assert self.dispatch.terminate() == -15, "dispatch must exit on SIGTERM"
        return self.start()

    async def send(self, *events: Event) -> None:
        for event in events:
            record = encode(event, envelope_for(event, source="/govmesh/test"))
            await produce(self.bootstrap, record.topic, [(record.key, record.value, record.headers)])

    async def events(self, topic: str, case_id: uuid.UUID) -> list[Event]:
        records = await read_topic(self.bootstrap, topic)
        return [decode(r.headers, r.value)[1] for r in records if r.key == str(case_id).encode()]

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str] = TERMINAL) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.dispatch.url, timeout=10, headers=headers) as http:
            return await http.post(path, json=body)

    def get(self, path: str) -> Any:
        response = httpx.get(self.dispatch.url + path, timeout=10, headers=ADMIN)
        assert response.status_code == 200, response.text
        return response.json()


def new_case(matter: str, grid: str = GRID) -> CaseReceived:
    lat, lon = sample_city.centre_point(grid)
    return CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code=matter,
        channel="api",
        description="A matter for the grid.",
        location=Location(lat=lat, lon=lon),
        received_at=datetime.now(UTC),
    )


def names(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


@pytest.fixture(params=["sqlite", "postgres"])
def mesh(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Mesh]:
    mesh = Mesh(kafka_bootstrap, tmp_path, _database_url(request))
    yield mesh
    assert mesh.dispatch.terminate() == -15


@pytest.mark.exercises("intake.cases.v1", "CaseReceived", "dispatch")
@pytest.mark.exercises("mediation.task-results.v1", "MediationTaskCompleted", "dispatch")
@pytest.mark.exercises("intake.cases.v1", "CaseFeedbackGiven", "dispatch")
async def test_a_dispute_becomes_two_tasks_both_done_resolved_and_closed_on_feedback(mesh: Mesh) -> None:
    case = new_case("dispute.neighbour")
    await mesh.send(case)

    async def two_tasks() -> bool:
        return len([e for e in await mesh.events("dispatch.tasks.v1", case.case_id)]) >= 2

    await eventually(two_tasks)
    assigned = await mesh.events("dispatch.tasks.v1", case.case_id)
    assert {(e.target.value, e.assignee, e.grid_code) for e in assigned} == {  # type: ignore[attr-defined]
        ("mediation", None, GRID),
        ("grid_worker", "W001", GRID),
    }
    dispatched = (await mesh.events("dispatch.cases.v1", case.case_id))[0]
    assert (dispatched.grid_code, dispatched.handled_by) == (GRID, "centre:C620702001001")  # type: ignore[attr-defined]
    tasks = {e.target.value: e.task_id for e in assigned}  # type: ignore[attr-defined]

    # mediation reports its end on its topic; the grid worker ends hers on the terminal (REST)
    await mesh.send(
        MediationTaskCompleted(
            task_id=tasks["mediation"],
            case_id=case.case_id,
            outcome=TaskOutcome.DONE,
            summary="Agreement signed and performed.",
            completed_at=datetime.now(UTC),
        )
    )
    done = await mesh.post(
        f"/v1/tasks/{tasks['grid_worker']}/complete",
        {"outcome": "done", "summary": "Visited both households."},
    )
    assert done.status_code == 200, done.text
    # the process refuses a caller without a credential, and a worker of another grid
    async with httpx.AsyncClient(base_url=mesh.dispatch.url, timeout=10) as http:
        assert (await http.get(f"/v1/cases/{case.case_id}")).status_code == 401
        elsewhere = auth_headers(["cases:read"], ["620702001001002"])
        assert (await http.get(f"/v1/cases/{case.case_id}", headers=elsewhere)).status_code == 403

    async def resolved() -> bool:
        return "CaseResolved" in names(await mesh.events("dispatch.cases.v1", case.case_id))

    await eventually(resolved)
    view = mesh.get(f"/v1/cases/{case.case_id}")
    assert (view["status"], sorted(t["state"] for t in view["tasks"])) == ("resolved", ["done", "done"])

    await mesh.send(CaseFeedbackGiven(case_id=case.case_id, satisfaction=5, solved=True, given_at=datetime.now(UTC)))

    async def closed() -> bool:
        return "CaseClosed" in names(await mesh.events("dispatch.cases.v1", case.case_id))

    await eventually(closed)
    assert names(await mesh.events("dispatch.cases.v1", case.case_id)) == [
        "CaseDispatched",
        "CaseResolved",
        "CaseClosed",
    ]
    assert mesh.get(f"/v1/cases/{case.case_id}")["status"] == "closed"


async def test_a_case_not_solved_is_reopened_with_new_tasks(mesh: Mesh) -> None:
    case = new_case("grid.report")
    await mesh.send(case)

    async def assigned() -> bool:
        return len(await mesh.events("dispatch.tasks.v1", case.case_id)) == 1

    await eventually(assigned)
    task = (await mesh.events("dispatch.tasks.v1", case.case_id))[0]
    body = {"outcome": "done", "summary": "Reported upwards."}
    response = await mesh.post(f"/v1/tasks/{task.task_id}/complete", body)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text

    async def resolved() -> bool:
        return "CaseResolved" in names(await mesh.events("dispatch.cases.v1", case.case_id))

    await eventually(resolved)
    await mesh.send(CaseFeedbackGiven(case_id=case.case_id, satisfaction=2, solved=False, given_at=datetime.now(UTC)))

    async def reopened() -> bool:  # a second task assigned (the first's TaskCompleted is on the topic too)
        return names(await mesh.events("dispatch.tasks.v1", case.case_id)).count("TaskAssigned") == 2

    await eventually(reopened)
    assert names(await mesh.events("dispatch.cases.v1", case.case_id)) == [
        "CaseDispatched",
        "CaseResolved",
        "CaseReopened",
    ]


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    return _database_url(request)


async def test_a_late_task_escalates_one_level_per_missed_deadline_across_a_restart(
    kafka_bootstrap: str, tmp_path: Path, database: str | None
) -> None:
    # 10 s per level: far above any pause of a busy box, so the restart below always falls between
    # the first escalation and the last (with 4 s, a slow poll let all three happen before it).
    mesh = Mesh(kafka_bootstrap, tmp_path, database, sla_override_s="10", timer_scan_interval_s="0.3")
    try:
        case = new_case("grid.report")
        await mesh.send(case)

        async def escalations() -> list[str]:
            return [
                f"{e.from_level.value}>{e.to_level.value}"  # type: ignore[attr-defined]
                for e in await mesh.events("dispatch.tasks.v1", case.case_id)
                if type(e).__name__ == "TaskEscalated"
            ]

        async def first() -> bool:
            return len(await escalations()) >= 1

        await eventually(first)
        mesh.restart()  # the timers are rows: the next deadlines are kept and kept to

        async def at_the_city() -> bool:
            return len(await escalations()) >= 3

        await eventually(at_the_city, timeout=120)
        assert await escalations() == ["community>township", "township>county", "county>city"]
        restarted_log = mesh.dispatch.log.read_text()
        assert '"event": "tasks_escalated"' in restarted_log, "the restarted dispatch escalated nothing"
        case_escalations = [
            (e.from_level.value, e.to_level.value, e.centre_code)  # type: ignore[attr-defined]
            for e in await mesh.events("dispatch.cases.v1", case.case_id)
            if type(e).__name__ == "CaseEscalated"
        ]
        assert case_escalations == [
            ("community", "township", "C620702001"),
            ("township", "county", "C620702"),
            ("county", "city", "C620700"),
        ]
        view = mesh.get(f"/v1/cases/{case.case_id}")
        assert (view["level"], view["handled_by"]) == ("city", "centre:C620700")
    finally:
        mesh.dispatch.terminate()


class Department:
    """A department's webhook receiver that is down (503) until told to recover."""

    def __init__(self) -> None:
        self.up = False
        self.failed = 0
        self.received: list[tuple[bytes, dict[str, str]]] = []
        department = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not department.up:
                    department.failed += 1
                    self.send_response(503)
                else:
                    department.received.append((body, dict(self.headers.items())))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_department_webhook_that_fails_gets_the_task_after_it_recovers(
    kafka_bootstrap: str, tmp_path: Path, database: str | None
) -> None:
    department = Department()
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()  # a Standard Webhooks secret
    mesh = Mesh(
        kafka_bootstrap,
        tmp_path,
        database,
        department_webhooks=json.dumps({"civil_affairs": f"http://127.0.0.1:{department.port}/tasks"}),
        webhook_secret=secret,
        webhook_scan_interval_s="0.2",
        webhook_backoff_base_s="0.2",
        webhook_backoff_max_s="1",
    )
    try:
        case = new_case("civil_affairs.relief")
        await mesh.send(case)

        async def tried_twice() -> bool:
            return department.failed >= 2

        await eventually(tried_twice)
        mesh.restart()  # the delivery is a row: it survives the restart
        department.up = True

        async def delivered() -> bool:
            return bool(department.received)

        await eventually(delivered)
        assigned = [
            e
            for e in await mesh.events("dispatch.tasks.v1", case.case_id)
            if e.target.value == "department"  # type: ignore[attr-defined]
        ]
        assert [e.assignee for e in assigned] == ["civil_affairs"]  # type: ignore[attr-defined]
        body, headers = department.received[0]
        # the department verifies with the Standard Webhooks library, as published
        payload = Webhook(secret).verify(body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + base64.b64encode(os.urandom(32)).decode()).verify(body, headers)  # another key
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(body.replace(b"civil_affairs", b"civil_affair5"), headers)  # another body
        assert (payload["department"], payload["data"]["task_id"]) == ("civil_affairs", str(assigned[0].task_id))  # type: ignore[attr-defined]
        assert len(department.received) == 1, "delivered once, not again after success"
    finally:
        mesh.dispatch.terminate()
        department.close()
