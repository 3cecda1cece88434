"""Tasks of a case (协同办理: several who act together), their states and the case's end."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from dispatch.domain.codes import next_level
from dispatch.domain.routing import DEPARTMENTS, Target
from govmesh_contracts import Level, TaskOutcome, TaskTarget
from govmesh_kit.errors import Conflict


class TaskState(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DONE = "done"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"
    CANCELLED = "cancelled"


OPEN_STATES = frozenset({TaskState.ASSIGNED, TaskState.ACCEPTED})
# A failed task awaits a centre's decision: reassign it or cancel it.
CANCELLABLE_STATES = OPEN_STATES | {TaskState.FAILED}
# Ended and need nothing more for the case to resolve. A failed task needs a centre's reassignment.
SETTLED_STATES = frozenset({TaskState.DONE, TaskState.REFERRED, TaskState.WITHDRAWN, TaskState.CANCELLED})


class CaseState(StrEnum):
    DISPATCHED = "dispatched"  # tasks open
    RESOLVED = "resolved"  # every task settled; awaiting the resident's feedback
    CLOSED = "closed"
    CANCELLED = "cancelled"  # intake cancelled the whole case (CaseCancelled): every open task cancelled


class TransitionError(Conflict, ValueError):
    """A task or case change that its state does not allow; the message says why (a 409)."""


def accept(state: TaskState) -> TaskState:
    if state is not TaskState.ASSIGNED:
        raise TransitionError(f"only an assigned task can be accepted (task is {state.value})")
    return TaskState.ACCEPTED


def complete(state: TaskState, outcome: TaskOutcome) -> TaskState:
    if state not in OPEN_STATES:
        raise TransitionError(f"the task is already {state.value}")
    return TaskState(outcome.value)


def cancel(state: TaskState) -> TaskState:
    """A centre cancels an open or failed task; an ended one stays as it ended."""
    if state not in CANCELLABLE_STATES:
        raise TransitionError(f"a {state.value} task cannot be cancelled")
    return TaskState.CANCELLED


def case_cancellable(state: CaseState) -> bool:
    """A closed case stays closed (its feedback is in); a cancelled one is cancelled once."""
    return state not in (CaseState.CLOSED, CaseState.CANCELLED)


def referral_target(referral_to: str | None) -> Target | None:
    """What a referral (outcome=referred) becomes: a new task for mediation, policing or a
    department of the mesh; None for a referral out of the mesh (court, …)."""
    if referral_to in ("mediation", "policing"):
        return Target(TaskTarget(referral_to))
    if referral_to == "legal_aid":
        return Target(TaskTarget.DEPARTMENT, "justice")
    if referral_to in DEPARTMENTS:
        return Target(TaskTarget.DEPARTMENT, referral_to)
    return None


def all_settled(states: Iterable[TaskState]) -> bool:
    states = list(states)
    return bool(states) and all(s in SETTLED_STATES for s in states)


@dataclass(frozen=True)
class Escalation:
    from_level: Level
    to_level: Level
    due_at: datetime  # the deadline at the new level


def escalations_due(level: Level, due_at: datetime, step: timedelta, now: datetime) -> list[Escalation]:
    """One level up per missed deadline: a task due at ``due_at`` at ``level`` that is still
    open at ``now`` goes up once for each deadline passed (each level has ``step`` more),
    never above the city. Deadlines missed while dispatch was down are counted too."""
    steps: list[Escalation] = []
    while due_at <= now:
        above = next_level(level)
        if above is None:
            break
        due_at = due_at + step
        steps.append(Escalation(level, above, due_at))
        level = above
    return steps


def chosen_for_return_visit(case_id: UUID, share: float) -> bool:
    """Whether a closed case gets a return visit (回访): a fixed share of cases, chosen by a
    hash of the case id, so the choice is the same on every instance, restart and replay."""
    draw = int.from_bytes(hashlib.sha256(case_id.bytes).digest()[:8], "big")
    return draw < share * 2**64
