"""Component tests: the SIP endpoint in-process over real UDP/TCP sockets, its own SQLite,
the real test broker; a Python device drives it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from support import ADMIN, eventually, read_topic
from vb_sip_client import SipDevice, catalog_item, new_ids, xml
from vb_support import Bridge

GRID = "620702001001-G01"
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
INSIDE = (38.93, 100.45)


def port(bridge: Bridge, transport: str) -> int:
    return bridge.sip.udp_port if transport == "UDP" else bridge.sip.tcp_port


async def device_state(bridge: Bridge, device_id: str) -> dict[str, Any]:
    response = await bridge.http.get(f"/v1/devices/{device_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def events_for(bridge: Bridge, topic: str, key: str, minimum: int) -> list[dict[str, Any]]:
    records = await read_topic(bridge.kafka, topic, timeout=20)
    found = [json.loads(r.value) for r in records if r.key == key.encode()]
    deadline = 20
    while len(found) < minimum and deadline > 0:
        await asyncio.sleep(0.5)
        deadline -= 1
        records = await read_topic(bridge.kafka, topic, timeout=5)
        found = [json.loads(r.value) for r in records if r.key == key.encode()]
    return found


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_register_with_digest_challenge_then_200_and_online(bridge: Bridge, transport: str) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, port(bridge, transport), transport=transport) as device:
        device.auto_answer = True
        challenge, final = await device.register()
        header = challenge.get("www-authenticate") or ""
        assert 'qop="auth"' in header and "algorithm=MD5" in header and 'realm="6207020000"' in header
        assert final.status == 200, final.encode()
        assert final.get("expires") == "3600"
        state = await device_state(bridge, device_id)
        assert (state["registered"], state["online"], state["transport"]) == (True, True, transport)
        assert state["type_name"] == "NVR"
        events = await events_for(bridge, "video.channels.v1", device_id, 1)
        assert [(e["online"], e["reason"]) for e in events] == [(True, "register")]


async def test_wrong_password_is_forbidden_and_registers_nothing(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        _, final = await device.register(password="wrong")  # noqa: S106
        assert final.status == 403
    state = await bridge.http.get(f"/v1/devices/{device_id}")
    assert state.status_code == 404


async def test_expires_zero_unregisters_and_goes_offline(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        _, final = await device.register(expires=0)
        assert final.status == 200
        state = await device_state(bridge, device_id)
        assert (state["registered"], state["online"]) == (False, False)
        assert (await device.keepalive()).status == 404  # not registered: register again


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_silent_device_goes_offline_after_three_intervals_and_keepalive_brings_it_back(
    bridge: Bridge, transport: str
) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, port(bridge, transport), transport=transport) as device:
        assert (await device.register())[1].status == 200
        assert (await device.keepalive()).status == 200
        assert await bridge.silence(2.5) == []  # silent, but not yet for three intervals
        assert (await device_state(bridge, device_id))["online"] is True
        assert await bridge.silence(1) == [device_id]
        assert (await device_state(bridge, device_id))["online"] is False
        ok = await device.keepalive(sn=2)
        assert ok.status == 200
        assert (await device_state(bridge, device_id))["online"] is True
        events = await events_for(bridge, "video.channels.v1", device_id, 3)
        assert [(e["online"], e["reason"]) for e in events] == [
            (True, "register"),
            (False, "keepalive-timeout"),
            (True, "keepalive"),
        ]


@pytest.mark.bridge_settings(keepalive_interval_s=60)
@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_catalog_split_over_messages_is_assembled_into_the_registry_with_grids(
    bridge: Bridge, transport: str
) -> None:
    assert (await bridge.http.put("/v1/grids", json=GRIDS)).status_code == 200
    device_id, channels = new_ids(3)
    async with SipDevice(device_id, port(bridge, transport), transport=transport) as device:
        assert (await device.register())[1].status == 200
        query = await device.next_request()
        assert query.method == "MESSAGE"
        assert b"<CmdType>Catalog</CmdType>" in query.body and b'encoding="GB2312"' in query.body
        sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
        lat, lon = INSIDE
        first = "".join(catalog_item(c, device_id, lat, lon) for c in channels[:2])
        second = catalog_item(channels[2], device_id, 0, 0, status="OFF")
        part1 = xml("Response", "Catalog", sn, device_id, f'<SumNum>3</SumNum><DeviceList Num="2">{first}</DeviceList>')
        part2 = xml(
            "Response", "Catalog", sn, device_id, f'<SumNum>3</SumNum><DeviceList Num="1">{second}</DeviceList>'
        )
        assert (await device.request("MESSAGE", part1)).status == 200
        listed = (await bridge.http.get("/v1/channels", params={"device_id": device_id})).json()
        assert len(listed["items"]) == 0  # not applied until all SumNum items arrived
        assert (await device.request("MESSAGE", part2)).status == 200
        listed = (await bridge.http.get("/v1/channels", params={"device_id": device_id})).json()
        assert len(listed["items"]) == 3
        by_id = {c["channel_id"]: c for c in listed["items"]}
        assert by_id[channels[0]]["grid_code"] == GRID and by_id[channels[0]]["online"] is True
        assert by_id[channels[0]]["name"].startswith("东街口")  # GB2312 decoded
        assert by_id[channels[2]]["online"] is False and by_id[channels[2]]["grid_code"] is None

        # change notifications: OFF takes a channel offline, DEL removes one
        change = catalog_item(channels[0], device_id, lat, lon, event="OFF") + catalog_item(
            channels[1], device_id, lat, lon, event="DEL"
        )
        notify = xml("Notify", "Catalog", 99, device_id, f'<SumNum>2</SumNum><DeviceList Num="2">{change}</DeviceList>')
        assert (await device.request("NOTIFY", notify)).status == 200
        listed = (await bridge.http.get("/v1/channels", params={"device_id": device_id})).json()
        assert {c["channel_id"]: (c["status"], c["online"]) for c in listed["items"]} == {
            channels[0]: ("OFF", False),
            channels[2]: ("OFF", False),
        }
        events = await events_for(bridge, "video.channels.v1", channels[0], 2)
        assert [(e["online"], e["reason"], e["grid_code"]) for e in events] == [
            (True, "catalog", GRID),
            (False, "catalog", GRID),
        ]


@pytest.mark.bridge_settings(keepalive_interval_s=60)
async def test_alarm_becomes_a_video_alarm_event_with_its_grid(bridge: Bridge) -> None:
    assert (await bridge.http.put("/v1/grids", json=GRIDS)).status_code == 200
    device_id, channels = new_ids(1)
    # the channel is the device's in the registry (an alarm from a channel of another device, or of none, is refused)
    imported = await bridge.http.post("/v1/channels/import", json=[{"channel_id": channels[0], "device_id": device_id}])
    assert imported.status_code == 200, imported.text
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        lat, lon = INSIDE
        body = xml(
            "Notify",
            "Alarm",
            7,
            channels[0],
            "<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-11-25T18:00:00</AlarmTime>"
            f"<AlarmDescription>区域入侵</AlarmDescription><Longitude>{lon}</Longitude><Latitude>{lat}</Latitude>"
            "<Info><AlarmType>2</AlarmType></Info>",
        )
        msg = device.build("MESSAGE", body)
        assert (await device.send(msg)).status == 200
        device.send_raw(msg.encode())  # a retransmission: same transaction, no second alarm
    events = await events_for(bridge, "video.alarms.v1", channels[0], 1)
    assert len(events) == 1
    alarm = events[0]
    assert (alarm["grid_code"], alarm["priority"], alarm["method"], alarm["alarm_type"]) == (GRID, 1, "5", "2")
    assert alarm["device_id"] == device_id and alarm["description"] == "区域入侵"
    assert alarm["alarm_time"].startswith("2026-11-25T10:00:00")  # UTC+8 local time → UTC


@pytest.mark.bridge_settings(keepalive_interval_s=60)
async def test_device_info_and_status_queries_are_answered_through_rest(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        await device.next_request()  # the catalog query on registration

        async def answer() -> None:
            query = await device.next_request()
            sn = query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()
            inner = (
                "<Result>OK</Result><DeviceName>NVR-东</DeviceName><Manufacturer>Dahua</Manufacturer>"
                "<Firmware>V2</Firmware>"
            )
            await device.request("MESSAGE", xml("Response", "DeviceInfo", sn, device_id, inner))

        task = asyncio.create_task(answer())
        response = await bridge.http.post(f"/v1/devices/{device_id}/queries", json={"cmd_type": "DeviceInfo"})
        await task
        assert response.status_code == 200, response.text
        assert response.json()["answer"]["Manufacturer"] == "Dahua"
        state = await device_state(bridge, device_id)
        assert (state["manufacturer"], state["firmware"], state["name"]) == ("Dahua", "V2", "NVR-东")


async def test_unknown_devices_are_refused_when_configured_so(tmp_path: Any, kafka_bootstrap: str) -> None:
    import httpx
    from vb_support import bridge_settings

    from video_bridge.bootstrap import create_app

    device_id, channels = new_ids(1)
    app = create_app(bridge_settings(tmp_path, kafka_bootstrap, admit_unknown_devices=False))
    async with app.router.lifespan_context(app):
        sip_port = app.state.sip.udp_port
        async with SipDevice(device_id, sip_port) as device:
            first = await device.request("REGISTER")
            assert first.status == 403
        known, _ = new_ids(1)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://vb", headers=ADMIN
        ) as http:
            imported = await http.post(
                "/v1/channels/import",
                json=[{"channel_id": channels[0], "device_id": known, "lat": 38.93, "lon": 100.45}],
            )
            assert imported.status_code == 200, imported.text
        async with SipDevice(known, sip_port) as device:
            assert (await device.register())[1].status == 200


async def test_bad_device_id_in_register_gets_400(bridge: Bridge) -> None:
    async with SipDevice("12345", bridge.sip.udp_port) as device:
        answer = await device.request("REGISTER")
    assert answer.status == 400
    assert "Bad device id" in answer.reason


async def test_a_device_that_keeps_alive_stays_online_past_three_intervals(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        for sn in range(6):  # a keepalive every 0.9 intervals: 5.4 intervals in all
            assert (await device.keepalive(sn=sn)).status == 200
            assert await bridge.silence(0.9) == []
        state = await device_state(bridge, device_id)
        assert state["online"] is True
        assert state["last_seen_at"] is not None  # batched keepalives reach the database
    events = await events_for(bridge, "video.channels.v1", device_id, 1)
    assert [(e["online"], e["reason"]) for e in events] == [(True, "register")]


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_a_keepalive_right_behind_an_unregister_is_handled_after_it(bridge: Bridge, transport: str) -> None:
    """Keepalives of online devices are answered without a task; one that arrives while an
    earlier message of the device is still waiting to be handled waits its turn: here the
    device is unregistered first, so its keepalive gets 404, not a 200 that keeps it alive.
    (Over TCP both arrive in one read, before the unregister's task has run.)"""
    device_id, _ = new_ids()
    async with SipDevice(device_id, port(bridge, transport), transport=transport) as device:
        assert (await device.register())[1].status == 200
        assert (await device.keepalive()).status == 200  # online and answered at once
        contact = ("contact", f"<sip:{device_id}@127.0.0.1:{device.local_port}>")
        challenge = await device.request("REGISTER", headers=[contact, ("expires", "0")])
        unregister = device.authorized_register(challenge, expires=0)
        keepalive = device.keepalive_message(sn=2)
        answers = await device.send_together(unregister, keepalive)
        assert [a.status for a in answers] == [200, 404]
        state = await device_state(bridge, device_id)
        assert (state["registered"], state["online"]) == (False, False)


async def test_a_retransmitted_keepalive_gets_the_same_answer(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        message = device.keepalive_message()
        first = await device.send(message)
        device.send_raw(message.encode())  # as a device does when the 200 is lost

        async def answered_twice() -> bool:
            return sum(r.call_id == message.call_id for r in device.responses) == 2

        await eventually(answered_twice, timeout=30)
        again = [r for r in device.responses if r.call_id == message.call_id][-1]
        assert first.status == 200
        assert again.encode() == first.encode()  # same To tag: the same transaction, answered once


@pytest.mark.bridge_settings(assembly_timeout_s=0.3, liveness_check_interval_s=0.1)  # the check expires it
async def test_a_catalog_that_never_reaches_its_sumnum_is_applied_with_what_arrived(bridge: Bridge) -> None:
    device_id, channels = new_ids(2)
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        await device.next_request()
        items = "".join(catalog_item(c, device_id, *INSIDE) for c in channels)
        body = xml("Response", "Catalog", 1, device_id, f'<SumNum>5</SumNum><DeviceList Num="2">{items}</DeviceList>')
        assert (await device.request("MESSAGE", body)).status == 200

        async def applied() -> bool:
            listed = (await bridge.http.get("/v1/channels", params={"device_id": device_id})).json()
            return bool(len(listed["items"]) == 2)

        await eventually(applied, timeout=30)
