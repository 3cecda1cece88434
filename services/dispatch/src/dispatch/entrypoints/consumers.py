"""What dispatch consumes."""

from __future__ import annotations

from functools import partial

from dispatch.handlers import (
    Dispatcher,
    apply_task_result,
    cancel_case_on_cancelled,
    close_or_reopen_on_feedback,
    dispatch_case_on_received,
    erase_case_copy_on_erasure,
    resolve_case_on_cleared_at_source,
)
from govmesh_contracts import (
    CaseCancelled,
    CaseClearedAtSource,
    CaseFeedbackGiven,
    CasePersonalDataErased,
    CaseReceived,
    MediationTaskCompleted,
    PolicingTaskCompleted,
)
from govmesh_runtime.consumer import ConsumerSpec


def consumer_specs(dispatcher: Dispatcher) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="dispatch-cases",
            topics=("intake.cases.v1",),
            handlers={
                CaseReceived: partial(dispatch_case_on_received, dispatcher=dispatcher),
                CaseFeedbackGiven: partial(close_or_reopen_on_feedback, dispatcher=dispatcher),
                CaseCancelled: partial(cancel_case_on_cancelled, dispatcher=dispatcher),
                CasePersonalDataErased: erase_case_copy_on_erasure,
                CaseClearedAtSource: partial(resolve_case_on_cleared_at_source, dispatcher=dispatcher),
            },
        ),
        ConsumerSpec(
            name="dispatch-task-results",
            topics=("mediation.task-results.v1", "policing.task-results.v1"),
            handlers={
                MediationTaskCompleted: partial(apply_task_result, dispatcher=dispatcher),
                PolicingTaskCompleted: partial(apply_task_result, dispatcher=dispatcher),
            },
        ),
    ]
