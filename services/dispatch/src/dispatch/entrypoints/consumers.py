"""What dispatch consumes."""

from __future__ import annotations

from functools import partial

from dispatch.handlers import dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived
from govmesh_runtime.consumer import ConsumerSpec


def consumer_specs(settings: DispatchSettings) -> list[ConsumerSpec]:
    on_received = partial(dispatch_case_on_received, city_centre_code=settings.city_centre_code)
    return [ConsumerSpec(name="dispatch-cases", topics=("intake.cases.v1",), handlers={CaseReceived: on_received})]
