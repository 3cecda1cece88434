"""What mediation consumes."""

from __future__ import annotations

from govmesh_runtime.consumer import ConsumerSpec
from mediation.settings import MediationSettings


def consumer_specs(settings: MediationSettings) -> list[ConsumerSpec]:
    return []
