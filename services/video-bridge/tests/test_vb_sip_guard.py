"""Attacks on the SIP endpoint, each played by a Python device over real sockets (another
loopback address, 127.0.0.2, plays another host): a device proves who it is on every
message, and one source cannot exhaust what the others need."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from typing import Any

import pytest
from vb_sip_client import SipDevice, catalog_item, new_ids, xml
from vb_support import Bridge

from video_bridge.domain.digest import expected_response, parse_authorization
from video_bridge.domain.sip import SipMessage

ROGUE = "127.0.0.2"  # another host on this machine (Linux answers the whole 127/8)


async def device_state(bridge: Bridge, device_id: str) -> dict[str, Any]:
    response = await bridge.http.get(f"/v1/devices/{device_id}")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def import_channels(bridge: Bridge, device_id: str, channels: list[str]) -> None:
    body = [{"channel_id": c, "device_id": device_id, "lat": 38.93, "lon": 100.45} for c in channels]
    response = await bridge.http.post("/v1/channels/import", json=body)
    assert response.status_code == 200, response.text


def alarm_body(channel_id: str, sn: int = 7) -> bytes:
    return xml(
        "Notify",
        "Alarm",
        sn,
        channel_id,
        "<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod><AlarmTime>2026-11-25T18:00:00</AlarmTime>"
        "<AlarmDescription>区域入侵</AlarmDescription><Longitude>100.45</Longitude><Latitude>38.93</Latitude>",
    )


async def alarms_of(bridge: Bridge, channel_id: str) -> list[dict[str, Any]]:
    response = await bridge.http.get("/v1/alarms", params={"channel_id": channel_id})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


# --- item 1: devices prove who they are ------------------------------------------------------


async def test_a_spoofed_alarm_from_another_host_is_refused_and_raises_nothing(bridge: Bridge) -> None:
    device_id, channels = new_ids(1)
    await import_channels(bridge, device_id, channels)
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        assert (await camera.register())[1].status == 200
        async with SipDevice(device_id, bridge.sip.udp_port, local_host=ROGUE) as rogue:
            answer = await rogue.request("MESSAGE", alarm_body(channels[0]))
            assert (answer.status, answer.reason) == (403, "Not the registered address")
            notify = await rogue.request("NOTIFY", alarm_body(channels[0], sn=8))
            assert notify.status == 403
        # the camera itself is heard
        assert (await camera.request("MESSAGE", alarm_body(channels[0], sn=9))).status == 200
    alarms = await alarms_of(bridge, channels[0])
    assert len(alarms) == 1  # the camera's, not the rogue's


async def test_a_spoofed_keepalive_does_not_move_the_camera(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        assert (await camera.register())[1].status == 200
        assert (await camera.keepalive()).status == 200
        async with SipDevice(device_id, bridge.sip.udp_port, local_host=ROGUE) as rogue:
            assert (await rogue.keepalive(sn=2)).status == 403
            assert (await rogue.keepalive(sn=3)).status == 403  # and again (no fast path for it)
        # same host, another port (another socket) is another address too
        async with SipDevice(device_id, bridge.sip.udp_port) as other_port:
            assert (await other_port.keepalive(sn=4)).status == 403
        await bridge.sip.flush_seen()
        state = await device_state(bridge, device_id)
        assert (state["transport"], state["host"], state["port"]) == ("UDP", "127.0.0.1", camera.local_port)
        assert (await camera.keepalive(sn=5)).status == 200


async def test_a_device_that_moved_registers_again_and_is_heard_from_its_new_address(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as before:
        assert (await before.register())[1].status == 200
    async with SipDevice(device_id, bridge.sip.udp_port) as after:  # NAT rebinding: a new port
        assert (await after.keepalive()).status == 403
        assert (await after.register())[1].status == 200
        assert (await after.keepalive(sn=2)).status == 200
        state = await device_state(bridge, device_id)
        assert state["port"] == after.local_port


@pytest.mark.bridge_settings(catalog_on_register=False)
async def test_a_catalog_notify_cannot_delete_or_move_another_devices_channels(bridge: Bridge) -> None:
    owner_id, channels = new_ids(2)
    rogue_id, _ = new_ids()
    await import_channels(bridge, owner_id, channels)
    async with SipDevice(owner_id, bridge.sip.udp_port) as owner, SipDevice(rogue_id, bridge.sip.udp_port) as rogue:
        assert (await owner.register())[1].status == 200
        assert (await rogue.register())[1].status == 200
        items = catalog_item(channels[0], rogue_id, 0.0, 0.0, event="DEL") + catalog_item(
            channels[1], rogue_id, 0.0, 0.0, event="ADD"
        )
        body = xml("Notify", "Catalog", 11, rogue_id, f'<SumNum>2</SumNum><DeviceList Num="2">{items}</DeviceList>')
        assert (await rogue.request("NOTIFY", body)).status == 200  # taken, but not for another's channels
        # nor an alarm on them
        assert (await rogue.request("MESSAGE", alarm_body(channels[0]))).status == 403
    for channel in channels:
        response = await bridge.http.get(f"/v1/channels/{channel}")
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["device_id"] == owner_id and found["lat"] == 38.93, found
    assert await alarms_of(bridge, channels[0]) == []


def sn_of(query: SipMessage) -> str:
    return query.body.split(b"<SN>")[1].split(b"</SN>")[0].decode()


@pytest.mark.bridge_settings(catalog_on_register=False)
async def test_a_query_answer_from_another_device_is_not_taken_and_sns_are_unpredictable(bridge: Bridge) -> None:
    target_id, _ = new_ids()
    rogue_id, _ = new_ids()
    async with SipDevice(target_id, bridge.sip.udp_port) as target, SipDevice(rogue_id, bridge.sip.udp_port) as rogue:
        assert (await target.register())[1].status == 200
        assert (await rogue.register())[1].status == 200

        async def answers() -> None:
            query = await target.next_request()
            sn = sn_of(query)  # the worst case: the rogue knows the SN
            forged = "<Result>OK</Result><DeviceName>planted</DeviceName><Manufacturer>Rogue</Manufacturer>"
            assert (await rogue.request("MESSAGE", xml("Response", "DeviceInfo", sn, target_id, forged))).status == 200
            real = "<Result>OK</Result><DeviceName>NVR-东</DeviceName><Manufacturer>Dahua</Manufacturer>"
            assert (await target.request("MESSAGE", xml("Response", "DeviceInfo", sn, target_id, real))).status == 200

        task = asyncio.create_task(answers())
        response = await bridge.http.post(f"/v1/devices/{target_id}/queries", json={"cmd_type": "DeviceInfo"})
        await task
        assert response.status_code == 200, response.text
        assert response.json()["answer"]["Manufacturer"] == "Dahua"
        assert (await device_state(bridge, target_id))["manufacturer"] == "Dahua"

        # the SNs of successive queries cannot be guessed from one another
        sns = []
        for _ in range(4):
            asking = asyncio.create_task(bridge.sip.send_query(target_id, "DeviceStatus", wait=False))
            sns.append(int(sn_of(await target.next_request())))
            await asking
        steps = {b - a for a, b in itertools.pairwise(sns)}
        assert steps != {1} and len(set(sns)) == 4, sns


async def test_a_replayed_register_is_challenged_not_taken(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        challenge = await camera.request("REGISTER", headers=[("expires", "3600")])
        assert challenge.status == 401
        sniffed = camera.authorized_register(challenge, expires=3600)
        assert (await camera.send(sniffed)).status == 200
        authorization = sniffed.get("authorization") or ""
        # from another host, in a new transaction (the digest covers neither Call-ID nor CSeq)
        async with SipDevice(device_id, bridge.sip.udp_port, local_host=ROGUE) as rogue:
            replay = rogue.build("REGISTER", headers=[("expires", "3600"), ("authorization", authorization)])
            answer = await rogue.send(replay)
            assert answer.status == 401 and "stale=true" in (answer.get("www-authenticate") or "")
        # and from the camera's own address (same nonce, same nc)
        again = camera.build("REGISTER", headers=[("expires", "3600"), ("authorization", authorization)])
        assert (await camera.send(again)).status == 401
        state = await device_state(bridge, device_id)
        assert (state["host"], state["port"]) == ("127.0.0.1", camera.local_port)


async def test_the_digest_uri_must_be_the_request_uri(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        challenge = await camera.request("REGISTER", headers=[("expires", "3600")])
        params = parse_authorization(challenge.get("www-authenticate") or "")
        uri = "sip:34020000002000000001@3402000000"  # credentials made for another server
        response = expected_response(
            username=device_id,
            realm=params["realm"],
            password=camera.password,
            method="REGISTER",
            uri=uri,
            nonce=params["nonce"],
            qop="auth",
            nc="00000001",
            cnonce="abcd",
        )
        auth = (
            f'Digest username="{device_id}", realm="{params["realm"]}", nonce="{params["nonce"]}", uri="{uri}", '
            f'response="{response}", algorithm=MD5, cnonce="abcd", qop=auth, nc=00000001'
        )
        answer = await camera.send(camera.build("REGISTER", headers=[("expires", "3600"), ("authorization", auth)]))
        assert answer.status == 403
    assert (await bridge.http.get(f"/v1/devices/{device_id}")).status_code == 404


@pytest.mark.bridge_settings(sip_lockout_failures=3, sip_lockout_s=3600)
async def test_repeated_failures_lock_the_device_out_even_with_the_right_password(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as guesser:
        for _ in range(3):
            assert (await guesser.register(password="guess-again"))[1].status == 403  # noqa: S106
        locked = await guesser.request("REGISTER", headers=[("expires", "3600")])
        assert (locked.status, locked.reason) == (403, "Locked out")
    # the device is locked wherever it comes from, and the guessing source for any device
    async with SipDevice(device_id, bridge.sip.udp_port, local_host=ROGUE) as elsewhere:
        assert (await elsewhere.request("REGISTER", headers=[("expires", "3600")])).reason == "Locked out"
    other_id, _ = new_ids()
    async with SipDevice(other_id, bridge.sip.udp_port) as same_source:
        assert (await same_source.request("REGISTER", headers=[("expires", "3600")])).reason == "Locked out"
    assert (await bridge.http.get(f"/v1/devices/{device_id}")).status_code == 404


@pytest.mark.bridge_settings(sip_challenge_rate=0.01, sip_challenge_burst=5)
async def test_challenges_to_one_source_are_rate_limited(bridge: Bridge) -> None:
    def register_30_devices() -> int:
        """30 unauthenticated REGISTERs from one source; how many were challenged."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ROGUE, 0))
            sock.settimeout(3)
            local = sock.getsockname()[1]
            for n in range(30):
                device_id, _ = new_ids()
                sock.sendto(register_without_credentials(device_id, local, n), ("127.0.0.1", bridge.sip.udp_port))
            challenges = 0
            try:
                while True:
                    if b" 401 " in sock.recv(65536).split(b"\r\n")[0]:
                        challenges += 1
            except TimeoutError:
                return challenges

    assert await asyncio.to_thread(register_30_devices) == 5
    # another source is still challenged
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        assert (await camera.register())[1].status == 200


def register_without_credentials(device_id: str, local_port: int, n: int) -> bytes:
    return (
        f"REGISTER sip:62070200002000000001@6207020000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {ROGUE}:{local_port};rport;branch=z9hG4bKflood{n}\r\n"
        f"From: <sip:{device_id}@6207020000>;tag=f{n}\r\nTo: <sip:{device_id}@6207020000>\r\n"
        f"Call-ID: flood-{n}-{device_id}\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nExpires: 3600\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


async def test_a_device_with_its_own_secret_in_the_registry_needs_it(bridge: Bridge) -> None:
    device_id, _ = new_ids(1)
    other_id, other_channels = new_ids(1)
    response = await bridge.http.put(f"/v1/devices/{device_id}/credentials", json={"password": "own-secret-1"})
    assert response.status_code == 200, response.text
    imported = await bridge.http.post(
        "/v1/channels/import",
        json=[{"channel_id": other_channels[0], "device_id": other_id, "sip_password": "imported-secret"}],
    )
    assert imported.status_code == 200, imported.text
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        assert (await camera.register())[1].status == 403  # the shared password no longer opens it
        assert (await camera.register(password="own-secret-1"))[1].status == 200  # noqa: S106
    async with SipDevice(other_id, bridge.sip.udp_port, password="imported-secret") as imported_camera:  # noqa: S106
        assert (await imported_camera.register())[1].status == 200
    shown = await device_state(bridge, device_id)
    assert "sip_ha1" not in shown and "own-secret-1" not in str(shown)
    too_short = await bridge.http.put(f"/v1/devices/{device_id}/credentials", json={"password": "short"})
    assert too_short.status_code == 422 and "password" in too_short.text


def test_in_production_an_unknown_device_is_refused_whatever_the_setting(tmp_path: Any) -> None:
    from video_bridge.settings import VideoBridgeSettings

    development = VideoBridgeSettings(data_dir=tmp_path, admit_unknown_devices=True)
    production = VideoBridgeSettings(data_dir=tmp_path, admit_unknown_devices=True, environment="production")
    assert development.admits_unknown is True
    assert production.admits_unknown is False


# --- item 2: resource limits ---------------------------------------------------------------


@pytest.mark.bridge_settings(sip_tcp_max_per_source=3, sip_tcp_idle_timeout_s=2, sip_tcp_read_timeout_s=2)
async def test_tcp_connections_are_capped_per_source_and_idle_or_slow_ones_closed(bridge: Bridge) -> None:
    held = [await asyncio.open_connection("127.0.0.1", bridge.sip.tcp_port, local_addr=(ROGUE, 0)) for _ in range(3)]
    extra_reader, extra_writer = await asyncio.open_connection("127.0.0.1", bridge.sip.tcp_port, local_addr=(ROGUE, 0))
    # past the cap: closed by the bridge at once
    assert await asyncio.wait_for(extra_reader.read(1), 20) == b""
    # another source still gets in, over TCP
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.tcp_port, transport="TCP") as camera:
        assert (await camera.register())[1].status == 200
    # a silent connection and one fed half a message are closed by the bridge
    held[1][1].write(b"REGISTER sip:62070200002000000001@6207020000 SIP/2.0\r\nVia: ")
    await held[1][1].drain()
    for reader, _ in held[:2]:
        assert await asyncio.wait_for(reader.read(1), 30) == b""
    for _, writer in [*held, (extra_reader, extra_writer)]:
        writer.close()
    status = (await bridge.http.get("/v1/sip")).json()
    assert status["tcp_refused"] >= 1 and status["tcp_timeouts"] >= 2


@pytest.mark.bridge_settings(sip_source_rate=50, sip_source_burst=100)
async def test_a_flood_from_one_source_does_not_starve_another_device_or_the_api(bridge: Bridge) -> None:
    flood_id, _ = new_ids()
    async with SipDevice(flood_id, bridge.sip.udp_port, local_host=ROGUE) as template:
        flood = [template.keepalive_message(sn=n).encode() for n in range(20_000)]
    answers: list[bytes] = []

    def send_flood() -> None:
        """20,000 datagrams as fast as a socket sends them (bounded), then what came back."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
            sock.bind((ROGUE, 0))
            for data in flood:
                sock.sendto(data, ("127.0.0.1", bridge.sip.udp_port))
            sock.settimeout(3)
            try:
                while True:
                    answers.append(sock.recv(65536))
            except TimeoutError:
                pass

    started = time.monotonic()
    flooding = asyncio.create_task(asyncio.to_thread(send_flood))
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as camera:
        assert (await camera.register())[1].status == 200
        assert (await camera.keepalive()).status == 200
        assert (await bridge.http.get("/healthz")).status_code == 200
    await flooding
    elapsed = time.monotonic() - started
    # the flood source was served no more than its bucket allows (burst + rate x time); the
    # rest was dropped before parsing
    assert len(answers) <= 100 + 50 * elapsed + 1, (len(answers), elapsed)
    status = (await bridge.http.get("/v1/sip")).json()
    assert status["throttled"] >= 1000, status


def test_a_digest_uri_must_name_this_server() -> None:
    from video_bridge.sip_auth import digest_uri_names

    ours = {"server_id": "62070200002000000001", "hosts": {"6207020000", "127.0.0.1"}, "ports": {5060}}
    request_uri = "sip:62070200002000000001@6207020000"
    assert digest_uri_names(request_uri, request_uri, **ours)  # type: ignore[arg-type]
    assert digest_uri_names("sip:127.0.0.1:5060", request_uri, **ours)  # type: ignore[arg-type]  # sipp's
    assert digest_uri_names("sip:62070200002000000001@10.1.1.1:5060", request_uri, **ours)  # type: ignore[arg-type]
    assert not digest_uri_names("sip:34020000002000000001@3402000000", request_uri, **ours)  # type: ignore[arg-type]
    assert not digest_uri_names("sip:127.0.0.1:5070", request_uri, **ours)  # type: ignore[arg-type]
    assert not digest_uri_names("sip:192.0.2.7", request_uri, **ours)  # type: ignore[arg-type]
