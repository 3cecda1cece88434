"""Malformed, truncated and random SIP never takes the endpoint down: after each batch a
well-formed request is still answered (UDP and TCP)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vb_sip_client import SipDevice, new_ids, xml
from vb_support import Bridge

from video_bridge.domain.sip import SipParseError, parse_datagram

VALID = (
    b"MESSAGE sip:62070200002000000001@6207020000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5999;rport;branch=z9hG4bKabc\r\n"
    b"From: <sip:62070200001180000001@6207020000>;tag=1\r\n"
    b"To: <sip:62070200002000000001@6207020000>\r\n"
    b"Call-ID: fuzz-1\r\nCSeq: 20 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 128\r\n\r\n"
    + b'<?xml version="1.0" encoding="GB2312"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN>'
    + b"<DeviceID>62070200001180000001</DeviceID></Notify>"
)
SIPISH = st.sampled_from(
    [
        b"REGISTER ",
        b"MESSAGE ",
        b"SIP/2.0 ",
        b"sip:",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b":",
        b"Via: ",
        b"CSeq: ",
        b"Content-Length: ",
        b"99999999999",
        b"-1",
        b"Call-ID: x",
        b"<Notify>",
        b"<?xml",
        b"\x00",
        b"\xff\xfe",
        b" ",
    ]
)
FUZZ = st.one_of(
    st.binary(max_size=600),
    st.lists(SIPISH, max_size=30).map(b"".join),
    st.integers(min_value=0, max_value=len(VALID)).map(lambda n: VALID[:n]),
    st.tuples(st.integers(0, len(VALID) - 1), st.binary(min_size=1, max_size=8)).map(
        lambda t: VALID[: t[0]] + t[1] + VALID[t[0] + len(t[1]) :]
    ),
)


@settings(max_examples=400, deadline=None)
@given(FUZZ)
def test_the_parser_either_parses_or_says_why(data: bytes) -> None:
    try:
        message = parse_datagram(data)
    except SipParseError as exc:
        reason = str(exc)
        assert reason
        return
    reparsed = parse_datagram(message.encode())  # what we send is always parseable
    assert (reparsed.method, reparsed.status, reparsed.body) == (message.method, message.status, message.body)


async def _still_serving(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        answer = await device.request("OPTIONS")
        assert answer.status == 200
        assert (await device.keepalive()).status == 404  # unregistered, but answered


@pytest.mark.bridge_settings(keepalive_interval_s=60)
async def test_udp_garbage_leaves_the_endpoint_serving(bridge: Bridge) -> None:
    samples: list[bytes] = []

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(FUZZ)
    def collect(data: bytes) -> None:
        samples.append(data)

    collect()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in samples:
            sock.sendto(data or b"x", ("127.0.0.1", bridge.sip.udp_port))
        sock.sendto(VALID.replace(b"Content-Length: 128", b"Content-Length: 5000"), ("127.0.0.1", bridge.sip.udp_port))
    await asyncio.sleep(0)  # let the loop take the datagrams before the check below
    await _still_serving(bridge)
    assert bridge.sip.stats["dropped"] > 0  # the garbage was seen and dropped, not fatal


@pytest.mark.bridge_settings(keepalive_interval_s=60)
async def test_tcp_garbage_and_truncation_leave_the_endpoint_serving(bridge: Bridge) -> None:
    samples: list[bytes] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(FUZZ)
    def collect(data: bytes) -> None:
        samples.append(data)

    collect()
    for data in [*samples, VALID[:200], b"GARBAGE\r\n\r\n", b"x" * 70_000]:
        _, writer = await asyncio.open_connection("127.0.0.1", bridge.sip.tcp_port)
        writer.write(data)
        await writer.drain()
        writer.close()  # mid-message: the endpoint must drop it and carry on
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.tcp_port, transport="TCP") as device:
        assert (await device.request("OPTIONS")).status == 200
    await _still_serving(bridge)


@pytest.mark.bridge_settings(keepalive_interval_s=60)
async def test_a_request_missing_headers_gets_400_and_a_bad_body_400_or_415(bridge: Bridge) -> None:
    device_id, _ = new_ids()
    async with SipDevice(device_id, bridge.sip.udp_port) as device:
        assert (await device.register())[1].status == 200
        no_cseq = device.build("MESSAGE", xml("Notify", "Keepalive", 1, device_id))
        no_cseq.headers = [(k, v) for k, v in no_cseq.headers if k != "cseq"]
        no_cseq.add("cseq", "abc MESSAGE")
        device.send_raw(no_cseq.encode())
        broken = await device.request("MESSAGE", b"<Notify><CmdType>Keepalive</CmdType><SN>1</Notify>")
        assert broken.status == 400
        unknown_root = await device.request("MESSAGE", xml("Bogus", "Keepalive", 1, device_id))
        assert unknown_root.status == 415
        entity = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><Notify><CmdType>&a;</CmdType></Notify>'
        assert (await device.request("MESSAGE", entity)).status == 400
        assert (await device.keepalive()).status == 200
