"""What policing consumes."""

from __future__ import annotations

from govmesh_runtime.consumer import ConsumerSpec
from policing.settings import PolicingSettings


def consumer_specs(settings: PolicingSettings) -> list[ConsumerSpec]:
    return []
