"""End to end on the real broker: cameras and cases (issue 15, items 4 and 5).

- A dead camera is a case: a channel offline longer than the bridge's threshold opens one
  maintenance case (设备故障) at intake, routed by dispatch to the department that keeps the
  cameras; no second case while it stays offline, also across a restart of the bridge; when it
  is back the case is resolved with a note.
- Evidence follows the case: a camera alarm becomes a case at intake; the bridge learns the case
  from CaseReceived and searches recordings around its place and time by itself.

The bridge, intake and dispatch run in-process with their consumers and outbox relays on the
real Kafka (SQLite each); a Python GB/T 28181 device registers and answers RecordInfo. The
bridge's clock (liveness, faults, evidence) is one the test moves, so an hour's outage passes
without waiting for it."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support import ADMIN, ROOT, eventually, read_topic

sys.path.insert(0, str(ROOT / "services/video-bridge/tests"))
from vb_sip_client import SipDevice, catalog_item, new_ids, xml
from vb_support import MovableClock

from dispatch import sample_city
from dispatch.bootstrap import create_app as create_dispatch
from dispatch.settings import DispatchSettings
from intake.bootstrap import create_app as create_intake
from intake.settings import IntakeSettings
from video_bridge.bootstrap import create_app as create_bridge
from video_bridge.case_work import CaseWork
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_server import SipServer

pytestmark = pytest.mark.e2e

GRID = "620702001001001"
FAULT_AFTER_S = 3600.0


async def _client(stack: AsyncExitStack, app: FastAPI, name: str) -> httpx.AsyncClient:
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url=f"http://{name}", headers=ADMIN)
    )


@dataclass
class Mesh:
    kafka: str
    tmp_path: Path
    bridge_database_url: str  # empty: SQLite
    intake: httpx.AsyncClient
    dispatch: httpx.AsyncClient
    clock: MovableClock
    stack: AsyncExitStack
    bridge_app: FastAPI | None = None
    bridge: httpx.AsyncClient | None = None
    bridge_stack: AsyncExitStack | None = None

    async def start_bridge(self) -> None:
        """(Re)start the bridge on the same database: its SIP endpoint gets a new port."""
        settings = VideoBridgeSettings(
            data_dir=self.tmp_path / "bridge",
            kafka_bootstrap_servers=self.kafka,
            sip_port=0,
            keepalive_interval_s=60,
            liveness_check_interval_s=3600,  # the test checks liveness when it has moved the clock
            case_work_interval_s=3600,  # and faults and evidence likewise
            fault_after_s=FAULT_AFTER_S,
            evidence_radius_m=100,
            query_timeout_s=30,
            **({"database_url": self.bridge_database_url} if self.bridge_database_url else {}),
        )
        (self.tmp_path / "bridge").mkdir(exist_ok=True)
        app = create_bridge(settings)
        stack = AsyncExitStack()
        self.bridge = await _client(stack, app, "video-bridge")
        self.bridge_app, self.bridge_stack = app, stack
        self.sip.clock = self.clock
        self.work.clock = self.clock

    async def stop_bridge(self) -> None:
        assert self.bridge_stack is not None
        await self.bridge_stack.aclose()
        self.bridge_app = self.bridge = self.bridge_stack = None

    @property
    def sip(self) -> SipServer:
        assert self.bridge_app is not None
        sip: SipServer = self.bridge_app.state.sip
        return sip

    @property
    def work(self) -> CaseWork:
        assert self.bridge_app is not None
        work: CaseWork = self.bridge_app.state.case_work
        return work


@pytest.fixture(params=["sqlite", "postgres"])
async def mesh(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    """Intake and dispatch on SQLite; the bridge on SQLite or PostgreSQL (its fault and evidence
    queries lock rows: SKIP LOCKED on PostgreSQL)."""
    bridge_url = request.getfixturevalue("fresh_postgres_url") if request.param == "postgres" else ""
    dispatch_app = create_dispatch(
        DispatchSettings(
            data_dir=tmp_path,
            kafka_bootstrap_servers=kafka_bootstrap,
            city_data_dir=str(sample_city.write(tmp_path / "city")),
            timer_scan_interval_s=3600,
        )
    )
    intake_app = create_intake(IntakeSettings(data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap))
    async with AsyncExitStack() as stack:
        dispatch = await _client(stack, dispatch_app, "dispatch")
        intake = await _client(stack, intake_app, "intake")
        mesh = Mesh(kafka_bootstrap, tmp_path, bridge_url, intake, dispatch, MovableClock(), stack)
        await mesh.start_bridge()
        try:
            yield mesh
        finally:
            if mesh.bridge_stack is not None:
                await mesh.stop_bridge()


def _point() -> tuple[float, float]:
    """A point of the sample city's grid, a little apart for each test (other tests' cases are
    near the centre, and the bridge learns every case on the broker)."""
    lat, lon = sample_city.centre_point(GRID)
    return lat + secrets.randbelow(400) * 1e-5, lon + secrets.randbelow(400) * 1e-5


async def _register_with_channel(device: SipDevice, channel: str, lat: float, lon: float) -> None:
    """Register and answer the bridge's Catalog query with one channel, ON."""
    assert (await device.register())[1].status == 200
    query = await device.next_request()
    sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
    inner = f'<SumNum>1</SumNum><DeviceList Num="1">{catalog_item(channel, device.device_id, lat, lon)}</DeviceList>'
    assert (await device.request("MESSAGE", xml("Response", "Catalog", sn, device.device_id, inner))).status == 200


async def _channel(mesh: Mesh, channel: str) -> dict[str, Any]:
    assert mesh.bridge is not None
    response = await mesh.bridge.get(f"/v1/channels/{channel}")
    return dict(response.json()) if response.status_code == 200 else {}


async def _fault_cases(mesh: Mesh, channel: str) -> list[dict[str, Any]]:
    """Intake's maintenance cases of the channel (its id is in their description)."""
    found = await mesh.intake.get("/v1/cases", params={"matter_code": "video.device_fault", "q": channel})
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


async def _until(check: Any, timeout: float = 60) -> None:
    await eventually(check, timeout=timeout, interval=0.3)


@pytest.mark.exercises("video.faults.v1", "ChannelFaultOpened", "intake")
@pytest.mark.exercises("video.faults.v1", "ChannelFaultCleared", "intake")
@pytest.mark.exercises("intake.cases.v1", "CaseClearedAtSource", "dispatch")
async def test_a_dead_camera_opens_one_maintenance_case_that_resolves_when_it_is_back(mesh: Mesh) -> None:
    device_id, [channel] = new_ids(1)
    lat, lon = _point()
    async with SipDevice(device_id, mesh.sip.udp_port) as device:
        await _register_with_channel(device, channel, lat, lon)

        async def online() -> bool:
            return (await _channel(mesh, channel)).get("online") is True

        await _until(online)
    # the device falls silent: offline after three missed keepalives, a fault only after the threshold
    mesh.clock.advance(4 * 60)
    assert device_id in await mesh.sip.check_liveness()
    assert (await _channel(mesh, channel))["online"] is False
    assert await mesh.work.check_faults() == ([], [])  # offline, not yet for long
    mesh.clock.advance(FAULT_AFTER_S)
    assert await mesh.work.check_faults() == ([channel], [])
    cases: list[dict[str, Any]] = []

    async def one_case() -> bool:
        nonlocal cases
        cases = await _fault_cases(mesh, channel)
        return len(cases) == 1

    await _until(one_case)
    case_id = cases[0]["id"]
    tasks: list[dict[str, Any]] = []

    async def routed() -> bool:
        nonlocal tasks
        response = await mesh.dispatch.get(f"/v1/cases/{case_id}")
        tasks = response.json()["tasks"] if response.status_code == 200 else []
        return len(tasks) == 1

    await _until(routed)
    assert (tasks[0]["target"], tasks[0]["department"]) == ("department", "video_maintenance")

    # still offline an hour later, and after a restart of the bridge: no second case
    mesh.clock.advance(FAULT_AFTER_S)
    assert await mesh.work.check_faults() == ([], [])
    await mesh.stop_bridge()
    await mesh.start_bridge()
    mesh.clock.advance(FAULT_AFTER_S)
    assert await mesh.work.check_faults() == ([], [])
    faults = await read_topic(mesh.kafka, "video.faults.v1")  # the case above came from it: it is published
    assert [json.loads(r.value)["channel_id"] for r in faults].count(channel) == 1

    # the camera is back: the fault clears, the case resolves with the note, the department's task is cancelled
    async with SipDevice(device_id, mesh.sip.udp_port) as device:
        device.auto_answer = True
        assert (await device.register())[1].status == 200
        assert (await _channel(mesh, channel))["online"] is True
        assert await mesh.work.check_faults() == ([], [channel])
    assert await mesh.work.check_faults() == ([], [])
    case: dict[str, Any] = {}

    async def resolved() -> bool:
        nonlocal case
        case = (await mesh.intake.get(f"/v1/cases/{case_id}")).json()
        kinds = {step["kind"] for step in case["timeline"]}  # the task's end comes on its own topic
        return bool(case["status"] == "resolved" and "task_cancelled" in kinds)

    await _until(resolved)
    kinds = {step["kind"]: step for step in case["timeline"]}
    assert f"camera {channel} back online" in kinds["cleared_at_source"]["note"]
    assert kinds["resolved"]["note"].startswith(f"cleared at source: camera {channel} back online")
    assert len(await _fault_cases(mesh, channel)) == 1
    task = (await mesh.dispatch.get(f"/v1/cases/{case_id}")).json()["tasks"][0]
    assert task["state"] == "cancelled"


@pytest.mark.exercises("intake.cases.v1", "CaseReceived", "video-bridge")
async def test_a_camera_alarms_case_gets_the_recordings_around_its_place_and_time(mesh: Mesh) -> None:
    assert mesh.bridge is not None
    device_id, [channel] = new_ids(1)
    lat, lon = _point()
    async with SipDevice(device_id, mesh.sip.udp_port) as device:
        await _register_with_channel(device, channel, lat, lon)

        async def online() -> bool:
            return (await _channel(mesh, channel)).get("online") is True

        await _until(online)
        alarm = {"event_id": str(uuid.uuid4()), "channel_id": channel, "priority": 3, "alarm_type": "loitering"}
        alarm |= {"description": "someone lingers", "alarm_time": "2026-11-25T10:00:00Z"}
        assert (await mesh.bridge.post("/v1/alarms/webhook", json=alarm)).status_code == 202
        cases: list[dict[str, Any]] = []

        async def alarm_case() -> bool:
            nonlocal cases
            found = await mesh.intake.get("/v1/cases", params={"channel": "video", "q": channel})
            cases = [c for c in found.json()["items"] if c["matter_code"] != "video.device_fault"]
            return len(cases) == 1

        await _until(alarm_case)
        case_id = cases[0]["id"]

        async def learnt() -> bool:  # the bridge consumed the case's CaseReceived
            searched = await mesh.work.search_due_evidence()
            return searched == 0 and await _known(mesh, case_id)

        await _until(learnt)
        asked: list[str] = []

        async def answer_record_queries() -> None:
            while True:
                query = await device.next_request(timeout=60)
                body = query.body.decode("gb2312")
                if "<CmdType>RecordInfo</CmdType>" not in body:
                    continue
                target = body.split("<DeviceID>")[1].split("</DeviceID>")[0]
                sn = body.split("<SN>")[1].split("</SN>")[0]
                asked.append(target)
                item = (
                    f"<Item><DeviceID>{target}</DeviceID><Name>rec</Name><FilePath>/r/{target}/alarm</FilePath>"
                    f"<StartTime>2026-11-25T18:00:00</StartTime><EndTime>2026-11-25T18:10:00</EndTime>"
                    f"<Type>alarm</Type></Item>"
                )
                inner = f'<SumNum>1</SumNum><RecordList Num="1">{item}</RecordList>'
                await device.request("MESSAGE", xml("Response", "RecordInfo", sn, target, inner))

        answering = asyncio.create_task(answer_record_queries())
        try:
            mesh.clock.advance(3600)  # the window after the case has passed: the bridge searches by itself
            assert await mesh.work.search_due_evidence() >= 1
        finally:
            answering.cancel()
    assert channel in asked
    evidence: list[dict[str, Any]] = []

    async def published() -> bool:  # the outbox relay publishes after the commit
        nonlocal evidence
        records = await read_topic(mesh.kafka, "video.evidence.v1")
        evidence = [json.loads(r.value) for r in records if r.key == case_id.encode()]
        return len(evidence) > 0

    await _until(published)
    assert len(evidence) == 1
    assert evidence[0]["requested_by"] == "video-bridge" and evidence[0]["channel_ids"] == [channel]
    assert [r["file_path"] for r in evidence[0]["recordings"]] == [f"/r/{channel}/alarm"]
    assert (evidence[0]["page"], evidence[0]["page_count"]) == (1, 1)

    async def on_timeline() -> bool:
        case = (await mesh.intake.get(f"/v1/cases/{case_id}")).json()
        return any(step["kind"] == "evidence_attached" for step in case["timeline"])

    await _until(on_timeline)
    assert await mesh.work.search_due_evidence() == 0  # searched once


async def _known(mesh: Mesh, case_id: str) -> bool:
    from video_bridge.adapters.tables import KnownCaseRow

    assert mesh.bridge_app is not None
    async with mesh.bridge_app.state.runtime.db.sessions() as session:
        case = await session.get(KnownCaseRow, uuid.UUID(case_id))
    return case is not None and case.evidence_due_at is not None
