"""What video-bridge consumes."""

from __future__ import annotations

from govmesh_runtime.consumer import ConsumerSpec
from video_bridge.settings import VideoBridgeSettings


def consumer_specs(settings: VideoBridgeSettings) -> list[ConsumerSpec]:
    return []
