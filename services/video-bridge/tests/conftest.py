"""Fixtures of video-bridge's tests (helpers in vb_support.py, the device in vb_sip_client.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))  # --import-mode=importlib: make the helpers importable

from support import ADMIN
from vb_support import Bridge, bridge_settings

from video_bridge.bootstrap import create_app


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bridge_settings(**values): settings of the in-process video-bridge")


@pytest.fixture
async def bridge(request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[Bridge]:
    marker = request.node.get_closest_marker("bridge_settings")
    app = create_app(bridge_settings(tmp_path, kafka_bootstrap, **(marker.kwargs if marker else {})))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://video-bridge", headers=ADMIN) as http:
            yield Bridge(app=app, http=http, kafka=kafka_bootstrap)
