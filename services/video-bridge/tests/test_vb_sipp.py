"""Debian's sipp (sip-tester) as a real GB/T 28181 device against the bridge, over UDP and
TCP: digest registration, the catalog answered in two MESSAGEs, a keepalive, an alarm,
silence (→ offline) and a keepalive again (→ online). The registry and the events on the
real broker are what a person would check."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from support import free_port
from test_vb_sip import GRID, GRIDS, INSIDE, device_state, events_for
from vb_sip_client import new_ids
from vb_support import Bridge

SCENARIO = Path(__file__).parent / "sipp" / "gb28181_device.xml"
OUT_OF_CALL = Path(__file__).parent / "sipp" / "gb28181_device_ooc.xml"
SILENCE_S = 15  # the scenario's pause after its alarm: the test marks the device silent meanwhile


def sipp_binary() -> str:
    found = shutil.which("sipp")
    if found is None:
        pytest.fail("sipp is not installed: apt-get install -y sip-tester (the tests need it as a real device)")
    return found


@pytest.mark.bridge_settings(catalog_on_register=True)
@pytest.mark.parametrize("transport", ["u1", "t1"])
async def test_sipp_device_registers_reports_its_catalog_alarms_and_goes_offline_and_back(
    bridge: Bridge, transport: str, tmp_path: Path
) -> None:
    binary = sipp_binary()
    assert (await bridge.http.put("/v1/grids", json=GRIDS)).status_code == 200
    device_id, channels = new_ids(3)
    lat, lon = INSIDE
    sip_port = bridge.sip.udp_port if transport == "u1" else bridge.sip.tcp_port
    args = [
        "-sf", str(SCENARIO), "-oocsf", str(OUT_OF_CALL),
        "-t", transport, "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-nostdin",
        "-s", device_id, "-au", device_id, "-ap", "12345678",
        "-key", "server_id", bridge.sip.server_id,
        "-key", "ch1", channels[0], "-key", "ch2", channels[1], "-key", "ch3", channels[2],
        "-key", "lat", str(lat), "-key", "lon", str(lon),
        "-timeout", "60s", "-timeout_error", "-trace_err", "-error_file", str(tmp_path / "sipp_errors.log"),
        f"127.0.0.1:{sip_port}",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        binary, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path
    )

    async def silence_after_the_alarm() -> None:
        """sipp's pause after its alarm is the device's silence: the bridge's clock moves three
        and a half keepalive intervals on there, instead of the test waiting (or racing) them."""
        while not (await bridge.http.get("/v1/alarms", params={"channel_id": channels[0]})).json()["items"]:
            await asyncio.sleep(0.05)
        assert await bridge.silence(3.5) == [device_id]

    await asyncio.wait_for(silence_after_the_alarm(), timeout=60)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=90)
    errors = (tmp_path / "sipp_errors.log").read_text() if (tmp_path / "sipp_errors.log").exists() else ""
    assert process.returncode == 0, f"sipp failed ({process.returncode}):\n{output.decode()[-3000:]}\n{errors[-3000:]}"

    assert bridge.sip.stats["errors"] == 0
    state = await device_state(bridge, device_id)
    assert (state["registered"], state["online"], state["channel_count"]) == (True, True, 3)
    listed = (await bridge.http.get("/v1/channels", params={"device_id": device_id})).json()
    by_id = {c["channel_id"]: c for c in listed["items"]}
    assert by_id[channels[0]]["grid_code"] == GRID and by_id[channels[0]]["online"] is True
    assert by_id[channels[2]]["status"] == "OFF" and by_id[channels[2]]["online"] is False

    alarms = await events_for(bridge, "video.alarms.v1", channels[0], 1)
    assert [(a["device_id"], a["grid_code"], a["priority"], a["description"]) for a in alarms] == [
        (device_id, GRID, 2, "intrusion")
    ]
    status = await events_for(bridge, "video.channels.v1", channels[0], 3)
    assert [(e["online"], e["reason"]) for e in status] == [
        (True, "catalog"),
        (False, "keepalive-timeout"),
        (True, "keepalive"),
    ]
