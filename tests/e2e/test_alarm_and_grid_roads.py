"""End to end: intake, dispatch and policing as real processes on the real broker, on a
generated city. Camera alarms go in on video.alarms.v1 exactly as the video bridge writes them;
grid workers report over intake's REST.

* One alarm burst makes one case and, when the case's matter is routed to policing, exactly one
  police task (policing hears of alarms only through dispatch's routing, never directly); a
  burst whose matter is not routed to policing makes none. Repeats (the same record twice, the
  same alarm sent again) change nothing.
* The grid travels: a camera's configured grid and a grid worker's own grid place a case that
  has no point on that grid, not on the city centre.
* Police events name their case: the officer's steps show on the case's timeline in intake.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from support import ADMIN, ROOT, Service, auth_headers, produce, read_topic

import citygen
from govmesh_contracts import VideoAlarmRaised, encode, envelope_for

pytestmark = pytest.mark.e2e

INDUSTRIAL_GRID = "620702001001001"  # in the small city: industrial, police room JW620702001
ROOM = "JW620702001"
WORKER_GRID = "620702001001002"  # residential, same room
T = TypeVar("T")


@pytest.fixture(scope="module")
def mesh(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Service]]:
    base = tmp_path_factory.mktemp("alarm-roads")
    city = base / "city"
    citygen.write(citygen.generate("small", 1), city)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(base / "data"),
        "DISPATCH_CITY_DATA_DIR": str(city),
    }
    done = subprocess.run(
        [sys.executable, "-m", "policing.cli", "import-city", str(city)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    services = {name: Service(name, env, base / f"{name}.log") for name in ("intake", "dispatch", "policing")}
    try:
        for service in services.values():
            service.wait_ready()
        yield services
    finally:
        for service in services.values():
            service.terminate()


def wait_for(check: Callable[[], T | None], what: str, timeout: float = 90) -> T:
    """Poll until check() answers something; a generous bound, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.3)


def alarm(channel: str, *, at: datetime, alarm_type: str, priority: int = 1) -> VideoAlarmRaised:
    """An alarm as the video bridge writes it for a camera whose configured grid is known and
    whose position is not (no location): the grid is the only place it has."""
    return VideoAlarmRaised(
        alarm_id=uuid.uuid4(),
        channel_id=channel,
        device_id="62070200001180000001",
        grid_code=INDUSTRIAL_GRID,
        priority=priority,
        method="5",
        alarm_type=alarm_type,
        alarm_time=at,
    )


def record(event: VideoAlarmRaised) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    encoded = encode(event, envelope_for(event, source="/govmesh/video-bridge"))
    return encoded.key, encoded.value, encoded.headers


def new_channel() -> str:
    return "62070200001320" + f"{uuid.uuid4().int % 10**6:06d}"


def the_case_of(intake: str, channel: str) -> Callable[[], dict[str, Any] | None]:
    """The channel's case once dispatch has dispatched it (its timeline says so)."""

    def check() -> dict[str, Any] | None:
        page = httpx.get(f"{intake}/v1/cases", params={"channel": "video", "q": channel}, headers=ADMIN, timeout=5)
        items = page.json()["items"]
        if not items:
            return None
        case: dict[str, Any] = httpx.get(f"{intake}/v1/cases/{items[0]['id']}", headers=ADMIN, timeout=5).json()
        return case if "dispatched" in [s["kind"] for s in case["timeline"]] else None

    return check


def dispatch_tasks(dispatch: str, case_id: str) -> list[dict[str, Any]] | None:
    """The case's tasks in dispatch, once it has any."""
    response = httpx.get(f"{dispatch}/v1/cases/{case_id}", headers=ADMIN, timeout=5)
    if response.status_code != 200 or not response.json()["tasks"]:
        return None
    return list(response.json()["tasks"])


def police_tasks(policing: str, case_id: str, alarm_ids: set[str]) -> list[dict[str, Any]]:
    """Every police task for this case or for one of its alarms (whatever road it came by)."""
    tasks = httpx.get(f"{policing}/v1/tasks", params={"limit": 1000}, headers=ADMIN, timeout=5).json()
    return [t for t in tasks if t["case_id"] == case_id or t["source_ref"] in alarm_ids]


def cases_of_channel(intake: str, channel: str) -> int:
    page = httpx.get(f"{intake}/v1/cases", params={"channel": "video", "q": channel}, headers=ADMIN, timeout=5)
    return int(page.json()["total"])


@pytest.mark.exercises("video.alarms.v1", "VideoAlarmRaised", "intake")
@pytest.mark.exercises("intake.cases.v1", "CaseReceived", "dispatch")
@pytest.mark.exercises("dispatch.tasks.v1", "TaskAssigned", "policing")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskOpened", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskAccepted", "intake")
@pytest.mark.exercises("policing.police-tasks.v1", "PoliceTaskOnScene", "intake")
def test_one_alarm_burst_makes_one_police_task_and_a_burst_not_routed_to_policing_none(
    mesh: dict[str, Service], kafka_bootstrap: str
) -> None:
    intake, dispatch, policing = (mesh[name].url for name in ("intake", "dispatch", "policing"))
    t0 = datetime.now(UTC)

    # A smoke alarm: its case (safety.hazard on an industrial grid) goes to the grid worker and
    # emergency management, not to the police.
    smoke_channel = new_channel()
    smoke = [alarm(smoke_channel, at=t0 + timedelta(seconds=s), alarm_type="smoke") for s in (0, 20)]
    # An intrusion: a burst of three (security.incident → policing and the grid worker), with
    # repeats: the last record delivered twice, the first alarm sent again by the platform.
    intrusion_channel = new_channel()
    burst = [alarm(intrusion_channel, at=t0 + timedelta(seconds=s), alarm_type="intrusion") for s in (0, 15, 40)]
    resent = burst[0].model_copy(update={"alarm_time": t0 + timedelta(seconds=45)})
    records = [record(a) for a in smoke] + [record(a) for a in burst]
    records += [records[-1], record(resent)]
    asyncio.run(produce(kafka_bootstrap, "video.alarms.v1", records))

    smoke_case = wait_for(the_case_of(intake, smoke_channel), "the smoke alarm's case dispatched")
    smoke_tasks = wait_for(lambda: dispatch_tasks(dispatch, smoke_case["id"]), "the smoke case's tasks")
    assert sorted(t["target"] for t in smoke_tasks) == ["department", "grid_worker"]

    case = wait_for(the_case_of(intake, intrusion_channel), "the intrusion burst's case dispatched")
    assert case["matter_code"] == "security.incident"
    alarm_ids = {str(a.alarm_id) for a in burst}
    (task,) = wait_for(
        lambda: police_tasks(policing, case["id"], alarm_ids) or None, "the intrusion case's police task"
    )
    # The case is on the camera's grid (it had no point), so its task is in that grid's room, urgent.
    assert (task["source"], task["grid_code"], task["room_code"], task["priority"]) == (
        "dispatch",
        INDUSTRIAL_GRID,
        ROOM,
        "urgent",
    )
    targets = sorted(t["target"] for t in wait_for(lambda: dispatch_tasks(dispatch, case["id"]), "tasks"))
    assert targets == ["grid_worker", "policing"]

    # The officer's steps come back to the case's timeline: each police event names its case.
    assert httpx.post(f"{policing}/v1/tasks/{task['id']}/accept", json={}, headers=ADMIN, timeout=10).status_code == 200
    assert httpx.post(f"{policing}/v1/tasks/{task['id']}/on-scene", headers=ADMIN, timeout=10).status_code == 200

    def timeline_with_police_steps() -> list[str] | None:
        shown = httpx.get(f"{intake}/v1/cases/{case['id']}", headers=ADMIN, timeout=5).json()
        kinds = [s["kind"] for s in shown["timeline"]]
        return kinds if "police_on_scene" in kinds else None

    kinds = wait_for(timeline_with_police_steps, "the police steps on the case's timeline")
    assert kinds.count("police_task_opened") == 1
    assert kinds.index("police_task_opened") < kinds.index("police_task_accepted") < kinds.index("police_on_scene")

    # Counted once everything has gone through: one case per burst, one police task in all.
    assert cases_of_channel(intake, intrusion_channel) == 1
    assert cases_of_channel(intake, smoke_channel) == 1
    assert len(police_tasks(policing, case["id"], alarm_ids)) == 1
    assert police_tasks(policing, smoke_case["id"], {str(a.alarm_id) for a in smoke}) == []
    opened = [
        json.loads(r.value)
        for r in asyncio.run(read_topic(kafka_bootstrap, "policing.police-tasks.v1"))
        if dict(r.headers)["ce_type"] == b"gov.policing.police-task.opened"
    ]
    assert [o["case_id"] for o in opened if o["case_id"] in (case["id"], smoke_case["id"])] == [case["id"]]
    assert [o for o in opened if o["source_ref"] in alarm_ids] == []


@pytest.mark.exercises("intake.cases.v1", "CaseReceived", "dispatch")
def test_a_grid_workers_report_without_coordinates_lands_on_their_grid(mesh: dict[str, Service]) -> None:
    intake, dispatch = mesh["intake"].url, mesh["dispatch"].url
    worker = auth_headers(["cases:read", "cases:create"], places=[WORKER_GRID], subject="grid-worker-0002")
    created = httpx.post(
        f"{intake}/v1/cases",
        json={
            "matter_code": "grid.report",
            "channel": "terminal",
            "description": "Bicycles block the fire lane of building 3.",
            "reporter": {"name": "网格员", "phone": "13812345678"},
            "attributes": {"element_category": "things"},
        },
        headers=worker,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]

    def dispatched() -> dict[str, Any] | None:
        response = httpx.get(f"{dispatch}/v1/cases/{case_id}", headers=ADMIN, timeout=5)
        return dict(response.json()) if response.status_code == 200 else None

    case = wait_for(dispatched, "the worker's case dispatched")
    assert case["grid_code"] == WORKER_GRID
    assert case["level"] == "community"  # held in the grid's community, not by the city centre
    shown = httpx.get(f"{intake}/v1/cases/{case_id}", headers=worker, timeout=5).json()
    assert shown["grid_code"] == WORKER_GRID
