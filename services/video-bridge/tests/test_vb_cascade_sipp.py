"""Debian's sipp (sip-tester) plays the upper platform (tests/sipp/gb28181_upper.xml) for the
city's bridge: it challenges the bridge's REGISTER and verifies its digest, then asks for the
catalog, DeviceInfo, DeviceStatus and a channel's recordings. sipp starts after the bridge, so
the bridge's first REGISTERs go unanswered and it registers on a later try (backoff).

What arrived at sipp (its message trace) is what an operator of the upper platform would see:
the city's channels (split by SumNum, bounded pages), the bridge's DeviceInfo and DeviceStatus,
the recordings of the channel as the camera's NVR answered them (under sipp's SN), keepalives
and an alarm raised at a camera of the city."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from support import free_port
from test_vb_cascade import (
    LOWER_ID,
    UPPER_ID,
    UPPER_PASSWORD,
    answer_record_queries,
    camera_reports_catalog,
    eventually,
    lower_bridge,
)
from test_vb_sipp import sipp_binary
from vb_sip_client import SipDevice, new_ids, xml

from video_bridge.domain import manscdp

SCENARIO = Path(__file__).parent / "sipp" / "gb28181_upper.xml"
PER_MESSAGE = 2


def received_documents(trace: Path) -> list[manscdp.Manscdp]:
    """The MANSCDP answers and notices the bridge sent to sipp (retransmissions once)."""
    if not trace.exists():
        return []
    blocks = re.findall(rb"<\?xml[^>]*\?>\s*<(?:Response|Notify)>.*?</(?:Response|Notify)>", trace.read_bytes(), re.S)
    return [manscdp.parse(block) for block in dict.fromkeys(blocks)]


@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_sipp_as_the_upper_platform_gets_the_catalog_device_info_recordings_and_alarms(
    tmp_path: Path, kafka_bootstrap: str, transport: str
) -> None:
    binary = sipp_binary()
    upper_port = free_port()
    trace = tmp_path / "upper_messages.log"
    async with lower_bridge(
        tmp_path, kafka_bootstrap, upper_port, "UDP" if transport == "u1" else "TCP", per_message=PER_MESSAGE
    ) as city:
        nvr, channels = new_ids(3)
        async with SipDevice(nvr, city.sip.udp_port) as camera:
            await camera_reports_catalog(camera, channels)
            relayed: list[str] = []
            answering = answer_record_queries(camera, relayed)
            args = [
                "-sf", str(SCENARIO), "-t", transport, "-i", "127.0.0.1", "-p", str(upper_port), "-nostdin",
                "-key", "upper_id", UPPER_ID, "-key", "lower_id", LOWER_ID, "-key", "password", UPPER_PASSWORD,
                "-key", "ch1", channels[0],
                "-trace_msg", "-message_file", str(trace),
                "-trace_err", "-error_file", str(tmp_path / "sipp_errors.log"),
            ]  # fmt: skip
            process = await asyncio.create_subprocess_exec(
                binary, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd=tmp_path
            )
            try:

                async def recordings_arrived() -> list[manscdp.Manscdp]:
                    docs = received_documents(trace)
                    return [d for d in docs if d.cmd_type == "RecordInfo"]

                records = await eventually(recordings_arrived, "RecordInfo answered to sipp", timeout=90)
                alarm = xml(
                    "Notify",
                    "Alarm",
                    "31",
                    channels[1],
                    "<AlarmPriority>1</AlarmPriority><AlarmMethod>5</AlarmMethod>"
                    "<AlarmTime>2026-11-25T18:40:00</AlarmTime><AlarmDescription>fire</AlarmDescription>",
                )
                assert (await camera.request("MESSAGE", alarm)).status == 200

                async def alarm_arrived() -> list[manscdp.Manscdp]:
                    return [d for d in received_documents(trace) if d.cmd_type == "Alarm"]

                alarms = await eventually(alarm_arrived, "the alarm forwarded to sipp")
            finally:
                answering.cancel()
                if process.returncode is None:
                    process.terminate()
                await process.wait()

    docs = received_documents(trace)
    catalog = [d for d in docs if d.cmd_type == "Catalog" and d.root == "Response"]
    assert all(d.sn == "901" and d.device_id == LOWER_ID for d in catalog)
    sums = {manscdp.catalog_items(d)[0] for d in catalog}
    pages = [manscdp.catalog_items(d)[1] for d in catalog]
    assert sums == {3} and len(pages) == 2 and max(len(p) for p in pages) <= PER_MESSAGE
    assert sorted(i.channel_id for p in pages for i in p) == sorted(channels)
    assert {i.status for p in pages for i in p} == {"ON"}

    info = [manscdp.flat_fields(d) for d in docs if d.cmd_type == "DeviceInfo"]
    assert [(f["SN"], f["DeviceID"], f["Manufacturer"], f["Channel"]) for f in info] == [
        ("902", LOWER_ID, "govmesh", "3")
    ]
    status = [manscdp.flat_fields(d) for d in docs if d.cmd_type == "DeviceStatus"]
    assert [(f["SN"], f["Online"], f["Result"]) for f in status] == [("903", "ONLINE", "OK")]

    assert [r.sn for r in records] == ["904"]
    total, items = manscdp.record_items(records[0])
    assert (total, [(i.channel_id, i.file_path) for i in items]) == (1, [(channels[0], f"/rec/{channels[0]}/1.ps")])
    assert relayed == [channels[0]]

    notice = manscdp.alarm_notice(alarms[0])
    assert (notice.device_id, notice.priority, notice.description) == (channels[1], 1, "fire")
    assert any(d.cmd_type == "Keepalive" and d.device_id == LOWER_ID for d in docs)
    errors = tmp_path / "sipp_errors.log"
    assert not errors.exists() or "Aborting" not in errors.read_text(errors="replace")
