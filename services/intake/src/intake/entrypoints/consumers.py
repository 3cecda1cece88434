"""What intake consumes: every case-related topic, for the resident-facing timeline."""

from __future__ import annotations

from govmesh_runtime.consumer import ConsumerSpec
from intake.handlers import EVENT_HANDLERS

TIMELINE = ConsumerSpec(name="intake-timeline", topics=("dispatch.cases.v1",), handlers=EVENT_HANDLERS)
