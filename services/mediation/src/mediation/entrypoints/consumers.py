"""What mediation consumes: dispatch's tasks (a mediation task, or a task reassigned to mediation,
opens a dispute; a cancellation, or a reassignment to another target, closes it as withdrawn) and
intake's erasures of a case's personal data (mediation keeps the facts and the parties)."""

from __future__ import annotations

from govmesh_contracts import CasePersonalDataErased, TaskAssigned, TaskCancelled, TaskReassigned
from govmesh_kit.clock import Clock
from govmesh_runtime.consumer import ConsumerSpec
from govmesh_runtime.uow import UnitOfWork
from mediation.handlers.disputes import (
    erase_case_copies_on_erasure,
    hand_over_on_task_reassigned,
    open_dispute_on_task_assigned,
    withdraw_on_task_cancelled,
)
from mediation.settings import MediationSettings


def consumer_specs(settings: MediationSettings, clock: Clock) -> list[ConsumerSpec]:
    async def open_dispute(event: TaskAssigned, uow: UnitOfWork) -> None:
        await open_dispute_on_task_assigned(event, uow, now=clock())

    async def withdraw_dispute(event: TaskCancelled, uow: UnitOfWork) -> None:
        await withdraw_on_task_cancelled(event, uow, now=clock())

    async def hand_dispute_over(event: TaskReassigned, uow: UnitOfWork) -> None:
        await hand_over_on_task_reassigned(event, uow, now=clock())

    return [
        ConsumerSpec(
            name="mediation-tasks",
            topics=("dispatch.tasks.v1",),
            handlers={TaskAssigned: open_dispute, TaskCancelled: withdraw_dispute, TaskReassigned: hand_dispute_over},
        ),
        ConsumerSpec(
            name="mediation-erasures",
            topics=("intake.cases.v1",),
            handlers={CasePersonalDataErased: erase_case_copies_on_erasure},
        ),
    ]
