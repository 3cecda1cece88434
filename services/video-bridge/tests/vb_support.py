"""Helpers of video-bridge's tests: the service in-process with its SIP endpoint on free ports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from govmesh_runtime.app import Runtime
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_server import SipServer

# Far above any pause of a busy machine: a device never goes offline because the test was slow
# (a 629 ms API read once expired a 0.3 s interval). A test that wants silence moves the clock.
KEEPALIVE_S = 60.0


class MovableClock:
    """The bridge's liveness clock: the real time plus what the test has moved it on."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@dataclass
class Bridge:
    app: FastAPI
    http: httpx.AsyncClient
    kafka: str
    clock: MovableClock = field(default_factory=MovableClock)

    def __post_init__(self) -> None:
        self.sip.clock = self.clock

    async def silence(self, intervals: float) -> list[str]:
        """Let ``intervals`` keepalive intervals pass without a word, then check liveness now
        (instead of sleeping through them); returns the devices that went offline."""
        self.clock.advance(intervals * self.sip.settings.keepalive_interval_s)
        return await self.sip.check_liveness()

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    @property
    def sip(self) -> SipServer:
        sip: SipServer = self.app.state.sip
        return sip


def bridge_settings(tmp_path: Path, kafka: str, **overrides: object) -> VideoBridgeSettings:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "kafka_bootstrap_servers": kafka,
        "consumers_enabled": False,
        "sip_port": 0,
        "keepalive_interval_s": KEEPALIVE_S,
        "liveness_check_interval_s": 3600,  # the tests check liveness themselves (Bridge.silence)
        "query_timeout_s": 30.0,  # a device that answers is never late, however busy the box
        **overrides,
    }
    return VideoBridgeSettings(**values)  # type: ignore[arg-type]
