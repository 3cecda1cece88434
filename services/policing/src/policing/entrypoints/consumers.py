"""What policing consumes: dispatch tasks for policing, violence risks, and erasures of a case's
personal data (its police tasks keep copies of the case's text and address).

Not ``video.alarms.v1``: a camera alarm reaches policing as the case intake made of it (one case
per burst), routed by dispatch's rules — one road, so one police task per alarm burst."""

from __future__ import annotations

from functools import partial

from govmesh_contracts import (
    CasePersonalDataErased,
    TaskAssigned,
    TaskCancelled,
    TaskEscalated,
    TaskReassigned,
    ViolenceRiskFlagged,
)
from govmesh_runtime.consumer import ConsumerSpec
from policing import handlers
from policing.adapters.repository import GridIndexCache
from policing.settings import PolicingSettings


def consumer_specs(settings: PolicingSettings, grids: GridIndexCache) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="policing-tasks",
            topics=("dispatch.tasks.v1", "mediation.disputes.v1"),
            handlers={
                TaskAssigned: partial(handlers.open_task_on_task_assigned, grids=grids),
                TaskCancelled: handlers.withdraw_task_on_task_cancelled,
                TaskEscalated: handlers.extend_due_on_task_escalated,
                TaskReassigned: partial(handlers.hand_over_on_task_reassigned, grids=grids),
                ViolenceRiskFlagged: partial(handlers.open_task_on_violence_risk, grids=grids),
            },
        ),
        ConsumerSpec(
            name="policing-erasures",
            topics=("intake.cases.v1",),
            handlers={CasePersonalDataErased: handlers.erase_case_copies_on_erasure},
        ),
    ]
