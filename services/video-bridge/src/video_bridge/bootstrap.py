"""The composition root of video-bridge."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from video_bridge.entrypoints.consumers import consumer_specs
from video_bridge.settings import VideoBridgeSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: VideoBridgeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="govmesh video-bridge",
        description="Video bridge (雪亮工程): GB/T 28181 signalling to events and evidence.",
        version=version("govmesh-video-bridge"),
        routers=[],
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
    )
