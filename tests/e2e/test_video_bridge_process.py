"""End to end: video-bridge as a real process (SQLite and PostgreSQL) with its SIP endpoint,
a Python GB/T 28181 device over UDP, the real broker. Registration, catalog, alarm → events;
a restart keeps registrations and liveness (no device is marked offline by a restart)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from support import ADMIN, ROOT, Service, free_port, read_topic

sys.path.insert(0, str(ROOT / "services/video-bridge/tests"))
from vb_sip_client import SipDevice, catalog_item, new_ids, xml

pytestmark = pytest.mark.e2e

GRID = "620702001001-E2E"
GRIDS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"grid_code": GRID},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.44, 38.92], [100.46, 38.92], [100.46, 38.94], [100.44, 38.94], [100.44, 38.92]]],
            },
        }
    ],
}


@pytest.fixture(params=["sqlite", "postgres"])
def env(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    grids = tmp_path / "grids.geojson"
    grids.write_text(json.dumps(GRIDS))
    values = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
        "VIDEO_BRIDGE_SIP_PORT": str(free_port()),
        "VIDEO_BRIDGE_GRIDS_FILE": str(grids),
        "VIDEO_BRIDGE_KEEPALIVE_INTERVAL_S": "60",
    }
    if request.param == "postgres":
        values["VIDEO_BRIDGE_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
    return values


def start(env: dict[str, str], log: Path) -> Service:
    service = Service("video_bridge", env, log)
    service.wait_ready()
    return service


def stop(service: Service) -> None:
    assert service.terminate() == -15, "video-bridge must exit on SIGTERM, not be killed"
    text = service.log.read_text()
    assert '"event": "sip_stopped"' in text and '"event": "service_stopped"' in text


def test_a_device_registers_reports_alarms_and_survives_a_restart(env: dict[str, str], tmp_path: Path) -> None:
    sip_port = int(env["VIDEO_BRIDGE_SIP_PORT"])
    device_id, channels = new_ids(2)
    device_port = free_udp_port()  # the device keeps its address across the bridge's restart
    service = start(env, tmp_path / "video-bridge-1.log")
    try:
        asyncio.run(_device_session(sip_port, device_id, channels, device_port))
        listed = httpx.get(
            service.url + "/v1/channels", params={"device_id": device_id}, headers=ADMIN, timeout=10
        ).json()
        assert len(listed["items"]) == 2
        assert {c["grid_code"] for c in listed["items"]} == {GRID}
        assert all(c["online"] for c in listed["items"])
    finally:
        stop(service)

    service = start(env, tmp_path / "video-bridge-2.log")
    try:
        device = httpx.get(f"{service.url}/v1/devices/{device_id}", headers=ADMIN, timeout=10).json()
        assert (device["registered"], device["online"], device["channel_count"]) == (True, True, 2)
        # the device keeps alive without registering again
        answer = asyncio.run(_keepalive(sip_port, device_id, device_port))
        assert answer == 200
    finally:
        stop(service)

    alarms = asyncio.run(_events(env["KAFKA_BOOTSTRAP_SERVERS"], "video.alarms.v1", channels[0], 1))
    assert [(a["device_id"], a["grid_code"], a["priority"]) for a in alarms] == [(device_id, GRID, 3)]
    status = asyncio.run(_events(env["KAFKA_BOOTSTRAP_SERVERS"], "video.channels.v1", channels[1], 1))
    assert [(s["online"], s["reason"], s["grid_code"]) for s in status] == [(True, "catalog", GRID)]


async def _device_session(port: int, device_id: str, channels: list[str], device_port: int) -> None:
    async with SipDevice(device_id, port, local_port=device_port) as device:
        _, final = await device.register()
        assert final.status == 200
        query = await device.next_request()
        sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
        for channel in channels:
            item = catalog_item(channel, device_id, 38.93, 100.45)
            body = xml(
                "Response", "Catalog", sn, device_id, f'<SumNum>2</SumNum><DeviceList Num="1">{item}</DeviceList>'
            )
            assert (await device.request("MESSAGE", body)).status == 200
        assert (await device.keepalive()).status == 200
        alarm = xml(
            "Notify",
            "Alarm",
            str(uuid.uuid4().int % 10_000),
            channels[0],
            "<AlarmPriority>3</AlarmPriority><AlarmMethod>2</AlarmMethod><AlarmTime>2026-11-25T18:10:00</AlarmTime>"
            "<AlarmDescription>tamper</AlarmDescription><Info><AlarmType>1</AlarmType></Info>",
        )
        assert (await device.request("MESSAGE", alarm)).status == 200


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _keepalive(port: int, device_id: str, device_port: int) -> int | None:
    async with SipDevice(device_id, port, local_port=device_port) as device:
        return (await device.keepalive()).status


async def _events(bootstrap: str, topic: str, key: str, minimum: int) -> list[dict[str, object]]:
    for _ in range(40):
        records = await read_topic(bootstrap, topic, timeout=5)
        found = [json.loads(r.value) for r in records if r.key == key.encode()]
        if len(found) >= minimum:
            return found
        await asyncio.sleep(0.5)
    return found
