"""GB/T 28181 cascade: the city's bridge (lower platform, in-process) registers upward to a
second bridge running as a real process (the provincial platform), over UDP and TCP. A camera
(the Python device) registers with the city's bridge. What an operator of the upper platform
checks: the city platform is registered and online, its channels are listed, an alarm raised at
a camera arrives, a recording search reaches the camera (RecordInfo relayed), DeviceInfo names
the bridge, and a channel going offline reaches the upper platform through its catalog
subscription. A fresh upper platform (it forgot us) makes the bridge register again."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, Service, free_port, produce
from test_vb_sip import GRID, GRIDS, INSIDE
from vb_sip_client import SipDevice, catalog_item, new_ids, xml
from vb_support import Bridge, bridge_settings

from govmesh_contracts import CaseReceived, Location
from govmesh_contracts.codec import encode, envelope_for
from video_bridge.bootstrap import create_app

UPPER_ID = "62000000002000000001"  # the provincial platform (Gansu, type 200)
LOWER_ID = "62070200002000000001"  # the city's bridge (its default id)
UPPER_PASSWORD = "province-gave-this"  # noqa: S105  (a test secret)


def upper_env(tmp_path: Path, kafka: str, sip_port: int, *, consumers: bool = False) -> dict[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    grids = tmp_path / "grids.geojson"
    grids.write_text(json.dumps(GRIDS))
    data = tmp_path / "upper"
    data.mkdir(exist_ok=True)
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "GOVMESH_DATA_DIR": str(data),
        "VIDEO_BRIDGE_SIP_PORT": str(sip_port),
        "VIDEO_BRIDGE_SIP_SERVER_ID": UPPER_ID,
        "VIDEO_BRIDGE_SIP_DEVICE_PASSWORDS": json.dumps({LOWER_ID: UPPER_PASSWORD}),
        "VIDEO_BRIDGE_GRIDS_FILE": str(grids),
        # the province learns cases as every bridge does, from intake's CaseReceived on the broker
        "VIDEO_BRIDGE_CONSUMERS_ENABLED": "true" if consumers else "false",
    }


async def case_received_on_the_broker(kafka: str, point: tuple[float, float]) -> str:
    """Intake's CaseReceived for a case at ``point`` at 10:15 UTC, published on the real broker."""
    case_id = uuid.uuid4()
    event = CaseReceived(
        case_id=case_id,
        case_number="620702-20261125-000009",
        matter_code="security.incident",
        channel="api",
        description="a fight near the cameras",
        location=Location(lat=point[0], lon=point[1]),
        received_at=datetime(2026, 11, 25, 10, 15, tzinfo=UTC),
    )
    record = encode(event, envelope_for(event, source="/govmesh/intake"))
    await produce(kafka, "intake.cases.v1", [(record.key, record.value, record.headers)])
    return str(case_id)


@asynccontextmanager
async def lower_bridge(
    tmp_path: Path, kafka: str, upper_sip_port: int, transport: str, per_message: int = 1, host: str = "127.0.0.1"
) -> AsyncIterator[Bridge]:
    platform = {
        "platform_id": UPPER_ID,
        "host": host,
        "port": upper_sip_port,
        "transport": transport,
        "password": UPPER_PASSWORD,
        "keepalive_interval_s": 1.0,
        "keepalive_max_missed": 3,
    }
    data = tmp_path / "lower"
    data.mkdir(exist_ok=True)
    settings = bridge_settings(
        data,
        kafka,
        upper_platforms=[platform],
        cascade_catalog_items_per_message=per_message,  # 1: two channels, two Catalog MESSAGEs upward
        cascade_notify_interval_s=0.2,
        cascade_retry_min_s=0.2,
        cascade_retry_max_s=1.0,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport_ = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport_, base_url="http://video-bridge", headers=ADMIN) as http:
            yield Bridge(app=app, http=http, kafka=kafka)


async def eventually(check: Any, what: str, timeout: float = 60) -> Any:
    """Poll ``check`` (async, returns a truthy value when done) with a generous deadline."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s (last: {last!r})")


def answer_record_queries(device: SipDevice, seen: list[str]) -> asyncio.Task[None]:
    """The camera's NVR answers every RecordInfo query with one recording of the channel."""

    async def loop() -> None:
        while True:
            query = await device.requests.get()
            body = query.body.decode("gb18030")
            if "<CmdType>RecordInfo</CmdType>" not in body:
                continue
            sn = body.split("<SN>")[1].split("</SN>")[0]
            channel = body.split("<DeviceID>")[1].split("</DeviceID>")[0]
            seen.append(channel)
            item = (
                f"<Item><DeviceID>{channel}</DeviceID><Name>cam</Name><FilePath>/rec/{channel}/1.ps</FilePath>"
                "<StartTime>2026-11-25T18:00:00</StartTime><EndTime>2026-11-25T18:15:00</EndTime>"
                "<Secrecy>0</Secrecy><Type>time</Type></Item>"
            )
            answer = xml(
                "Response", "RecordInfo", sn, channel, f'<SumNum>1</SumNum><RecordList Num="1">{item}</RecordList>'
            )
            assert (await device.request("MESSAGE", answer)).status == 200

    return asyncio.create_task(loop())


async def camera_reports_catalog(device: SipDevice, channels: list[str]) -> None:
    _, final = await device.register()
    assert final.status == 200
    query = await device.next_request()
    sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
    lat, lon = INSIDE
    for channel in channels:
        item = catalog_item(channel, device.device_id, lat, lon)
        body = xml(
            "Response",
            "Catalog",
            sn,
            device.device_id,
            f'<SumNum>{len(channels)}</SumNum><DeviceList Num="1">{item}</DeviceList>',
        )
        assert (await device.request("MESSAGE", body)).status == 200


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_the_upper_platform_lists_the_city_channels_gets_alarms_and_recordings(
    tmp_path: Path, kafka_bootstrap: str, transport: str
) -> None:
    upper_sip = free_port()
    env = upper_env(tmp_path, kafka_bootstrap, upper_sip, consumers=True)
    upper = Service("video_bridge", env, tmp_path / "upper.log")
    try:
        upper.wait_ready()
        async with (
            httpx.AsyncClient(base_url=upper.url, headers=ADMIN, timeout=30) as province,
            lower_bridge(tmp_path, kafka_bootstrap, upper_sip, transport) as city,
        ):

            async def city_registered() -> Any:
                answer = await province.get(f"/v1/devices/{LOWER_ID}")
                return answer.status_code == 200 and answer.json()["online"] and answer.json()

            device = await eventually(city_registered, "the city platform registered with the province")
            assert (device["type_name"], device["transport"]) == ("central signalling server", transport)
            status = (await city.http.get("/v1/sip")).json()["upper_platforms"]
            assert [(s["platform_id"], s["registered"]) for s in status] == [(UPPER_ID, True)]

            nvr, channels = new_ids(2)
            async with SipDevice(nvr, city.sip.udp_port) as camera:
                await camera_reports_catalog(camera, channels)
                relayed: list[str] = []
                answering = answer_record_queries(camera, relayed)
                try:
                    # the province refreshes the city's catalog: the city's channels, in two MESSAGEs
                    asked = await province.post(f"/v1/devices/{LOWER_ID}/queries", json={"cmd_type": "Catalog"})
                    assert asked.status_code == 200, asked.text
                    assert sorted(asked.json()["channels"]) == sorted(channels)
                    listed = (await province.get("/v1/channels", params={"device_id": LOWER_ID})).json()
                    assert sorted(c["channel_id"] for c in listed["items"]) == sorted(channels)
                    assert {(c["grid_code"], c["online"]) for c in listed["items"]} == {(GRID, True)}

                    info = await province.post(f"/v1/devices/{LOWER_ID}/queries", json={"cmd_type": "DeviceInfo"})
                    assert info.status_code == 200, info.text
                    assert (info.json()["answer"]["Manufacturer"], info.json()["answer"]["Channel"]) == ("govmesh", "2")

                    # the province subscribes to the city's alarms and catalog changes
                    for kind in ("alarm", "catalog"):
                        sub = await province.post(f"/v1/devices/{LOWER_ID}/subscriptions", json={"kind": kind})
                        assert sub.status_code == 200, sub.text

                    # an alarm at a camera of the city reaches the province
                    alarm = xml(
                        "Notify",
                        "Alarm",
                        "77",
                        channels[0],
                        "<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>"
                        "<AlarmTime>2026-11-25T18:10:00</AlarmTime><AlarmDescription>intrusion</AlarmDescription>"
                        "<Info><AlarmType>2</AlarmType></Info>",
                    )
                    assert (await camera.request("MESSAGE", alarm)).status == 200

                    async def province_alarm() -> Any:
                        return (await province.get("/v1/alarms", params={"channel_id": channels[0]})).json()["items"]

                    alarms = await eventually(province_alarm, "the alarm at the province")
                    assert [(a["priority"], a["grid_code"], a["device_id"]) for a in alarms] == [(1, GRID, LOWER_ID)]

                    # so does an analytics platform's alarm (webhook) on another camera of the city
                    webhook = {
                        "event_id": str(uuid.uuid4()),
                        "channel_id": channels[1],
                        "priority": 2,
                        "alarm_type": "crowd",
                        "alarm_time": "2026-11-25T10:12:00Z",
                    }
                    assert (await city.http.post("/v1/alarms/webhook", json=webhook)).status_code == 202

                    async def province_webhook_alarm() -> Any:
                        return (await province.get("/v1/alarms", params={"channel_id": channels[1]})).json()["items"]

                    alarms = await eventually(province_webhook_alarm, "the webhook alarm at the province")
                    assert [(a["priority"], a["alarm_type"]) for a in alarms] == [(2, "crowd")]

                    # a case near the cameras reaches the province over the broker; the province searches
                    # recordings around its place and time: the camera's NVR answers, via the city
                    lat, lon = INSIDE
                    case_id = await case_received_on_the_broker(kafka_bootstrap, INSIDE)

                    async def province_searched() -> Any:
                        answer = await province.post("/v1/evidence", json={"case_id": case_id})
                        return answer if answer.status_code != 404 else None  # not learnt yet

                    evidence = await eventually(province_searched, "the province's search for the case")
                    assert evidence.status_code == 201, evidence.text
                    found = evidence.json()
                    assert found["unanswered_channel_ids"] == []
                    assert sorted((r["channel_id"], r["file_path"]) for r in found["recordings"]) == sorted(
                        (c, f"/rec/{c}/1.ps") for c in channels
                    )
                    assert sorted(relayed) == sorted(channels)

                    # a camera goes offline at the city: the province's catalog subscription tells it
                    off = catalog_item(channels[1], nvr, lat, lon, status="OFF", event="OFF")
                    change = xml(
                        "Notify", "Catalog", "78", nvr, f'<SumNum>1</SumNum><DeviceList Num="1">{off}</DeviceList>'
                    )
                    assert (await camera.request("MESSAGE", change)).status == 200

                    async def province_sees_it_offline() -> Any:
                        channel = (await province.get(f"/v1/channels/{channels[1]}")).json()
                        return channel["online"] is False and channel

                    await eventually(province_sees_it_offline, "the channel offline at the province")
                finally:
                    answering.cancel()
    finally:
        upper.terminate()
    log = (tmp_path / "upper.log").read_text()
    assert '"sip_handler_failed"' not in log


async def test_a_province_that_forgot_the_city_gets_it_registered_again(tmp_path: Path, kafka_bootstrap: str) -> None:
    """The upper platform restarts with nothing (a new database): it answers the city's keepalive
    404, and the city registers again at once; meanwhile unanswered keepalives mean it retries."""
    upper_sip = free_port()
    first = Service("video_bridge", upper_env(tmp_path / "a", kafka_bootstrap, upper_sip), tmp_path / "a.log")
    try:
        first.wait_ready()
        async with lower_bridge(tmp_path, kafka_bootstrap, upper_sip, "UDP") as city:

            async def registrations(minimum: int) -> Any:
                status = (await city.http.get("/v1/sip")).json()["upper_platforms"][0]
                return status["registered"] and status["registrations"] >= minimum and status

            await eventually(lambda: registrations(1), "registered with the first province")
            assert await asyncio.to_thread(first.terminate) == -15
            second = Service("video_bridge", upper_env(tmp_path / "b", kafka_bootstrap, upper_sip), tmp_path / "b.log")
            try:
                await asyncio.to_thread(second.wait_ready)
                await eventually(lambda: registrations(2), "registered again with the new province")
                async with httpx.AsyncClient(base_url=second.url, headers=ADMIN, timeout=30) as province:
                    device = (await province.get(f"/v1/devices/{LOWER_ID}")).json()
                    assert (device["registered"], device["online"]) == (True, True)
            finally:
                second.terminate()
    finally:
        if first.proc.poll() is None:
            first.terminate()


async def test_a_query_in_the_upper_platforms_name_from_another_host_is_refused(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    """Only the upper platform's configured address may ask for the city's catalog."""
    async with (
        lower_bridge(tmp_path, kafka_bootstrap, free_port(), "UDP", host="127.0.0.2") as city,
        SipDevice(UPPER_ID, city.sip.udp_port) as impostor,  # sends from 127.0.0.1
    ):
        answer = await impostor.request("MESSAGE", xml("Query", "Catalog", "5", LOWER_ID))
        assert answer.status == 403
        with pytest.raises(TimeoutError):
            await impostor.next_request(timeout=2)  # and no catalog follows
