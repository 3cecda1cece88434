"""What video-bridge consumes: intake's CaseReceived, so that evidence follows the case (the
place and time of every case, and a search of its own for the cases that want one)."""

from __future__ import annotations

from functools import partial

from govmesh_contracts import CaseReceived
from govmesh_runtime.consumer import ConsumerSpec
from video_bridge.adapters.grids import GridLocator
from video_bridge.handlers import learn_case
from video_bridge.settings import VideoBridgeSettings


def consumer_specs(settings: VideoBridgeSettings, grids: GridLocator) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="video-bridge-cases",
            topics=("intake.cases.v1",),
            handlers={CaseReceived: partial(learn_case, settings=settings, grids=grids)},
        )
    ]
