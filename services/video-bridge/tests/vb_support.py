"""Helpers of video-bridge's tests: the service in-process with its SIP endpoint on free ports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
from fastapi import FastAPI

from govmesh_runtime.app import Runtime
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_server import SipServer

# Short intervals so a test sees a timeout in about a second (a bound, not an assertion).
KEEPALIVE_S = 0.3


@dataclass
class Bridge:
    app: FastAPI
    http: httpx.AsyncClient
    kafka: str

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
        "liveness_check_interval_s": 0.1,
        "query_timeout_s": 3.0,
        **overrides,
    }
    return VideoBridgeSettings(**values)  # type: ignore[arg-type]
