"""Police tasks: routed to the room owning the grid and an on-duty officer; accepted → on
scene → closed with an outcome; response times measured from the report.

Police mediation (民警调解) settles minor public-order disputes on the spot; a civil
dispute is handed back to people's mediation through dispatch (outcome referred,
referral_to mediation).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from govmesh_contracts.matters import registry
from govmesh_kit.errors import Conflict, Invalid


class TaskStatus(StrEnum):
    UNROUTED = "unrouted"  # no room owns the grid (or the grid is unknown): the duty desk must route it
    OPEN = "open"  # routed to a room, waiting for an officer to accept
    ACCEPTED = "accepted"
    ON_SCENE = "on_scene"
    CLOSED = "closed"


OPEN_STATUSES = (TaskStatus.UNROUTED, TaskStatus.OPEN, TaskStatus.ACCEPTED, TaskStatus.ON_SCENE)


class Outcome(StrEnum):
    """The same values as the contracts' TaskOutcome."""

    DONE = "done"
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"
    FAILED = "failed"


class MediationResult(StrEnum):
    SETTLED = "settled"  # the parties agreed on the spot
    CIVIL_DISPUTE = "civil_dispute"  # a civil matter: hand it back to people's mediation
    NOT_SETTLED = "not_settled"  # no agreement: people's mediation continues


class TaskRuleError(Invalid, ValueError):
    """A step that the task's state does not allow; the message says why (a 422)."""


class InvalidTransition(Conflict, TaskRuleError):
    """A step the task's current state forbids (a 409)."""


@dataclass(frozen=True)
class OnDutyOfficer:
    officer_id: str
    role: str  # officer | auxiliary
    open_tasks: int


def choose_officer(candidates: Iterable[OnDutyOfficer], *, prefer_sworn: bool = True) -> str | None:
    """The on-duty officer with the fewest open tasks; sworn officers before auxiliaries
    when ``prefer_sworn`` (auxiliary police may not handle cases alone); ties by id."""
    pool = list(candidates)
    if not pool:
        return None
    rank = {"officer": 0, "auxiliary": 1} if prefer_sworn else {"officer": 0, "auxiliary": 0}
    best = min(pool, key=lambda o: (rank.get(o.role, 2), o.open_tasks, o.officer_id))
    return best.officer_id


def alarm_priority(gb28181_priority: int) -> str:
    """GB/T 28181 AlarmPriority 1 (highest) and 2 are urgent."""
    return "urgent" if gb28181_priority <= 2 else "normal"


def violence_priority(risk_level: str) -> str:
    return "urgent" if risk_level in ("high", "critical") else "normal"


def initial_status(room_code: str | None) -> TaskStatus:
    return TaskStatus.OPEN if room_code else TaskStatus.UNROUTED


def check_accept(status: str, officer_id: str | None, room_officers: Mapping[str, bool]) -> None:
    """``room_officers``: officer id → on duty, for the task's room."""
    if status == TaskStatus.UNROUTED:
        raise InvalidTransition("the task is not routed to a room yet")
    if status != TaskStatus.OPEN:
        raise InvalidTransition(f"only an open task can be accepted; this one is {status}")
    if officer_id is None:
        raise TaskRuleError("officer_id: required (no officer was on duty when the task was routed)")
    if officer_id not in room_officers:
        raise TaskRuleError(f"officer_id: {officer_id} is not an officer of the task's room")
    if not room_officers[officer_id]:
        raise TaskRuleError(f"officer_id: {officer_id} is not on duty")


def check_route(status: str, current_room: str | None, new_room: str) -> None:
    """The duty desk may route a task no officer has accepted yet (unrouted, or open in another room)."""
    if status not in (TaskStatus.UNROUTED, TaskStatus.OPEN):
        raise InvalidTransition(f"only a task not yet accepted can be routed; this one is {status}")
    if current_room == new_room:
        raise TaskRuleError(f"room_code: the task is already in room {new_room}")


def check_on_scene(status: str) -> None:
    if status != TaskStatus.ACCEPTED:
        raise InvalidTransition(f"only an accepted task can go on scene; this one is {status}")


def check_close(status: str, outcome: Outcome, referral_to: str | None) -> None:
    if status == TaskStatus.CLOSED:
        raise InvalidTransition("the task is already closed")
    if outcome in (Outcome.DONE, Outcome.FAILED) and status != TaskStatus.ON_SCENE:
        raise InvalidTransition(f"a task must be on scene before it is closed as {outcome}; this one is {status}")
    if outcome == Outcome.REFERRED and not referral_to:
        raise TaskRuleError("referral_to: required when the outcome is referred")
    if outcome != Outcome.REFERRED and referral_to:
        raise TaskRuleError("referral_to: only allowed when the outcome is referred")


#: Matters police may settle by mediation on scene (the matter registry's police_mediation).
MEDIATION_MATTERS = frozenset(m.code for m in registry().matters if m.police_mediation)


def check_mediation(status: str, source: str, matter_code: str | None) -> None:
    """Police mediation is for minor disputes the officer attends: a dispatch task of a
    dispute or public-order matter, or a violence risk from a dispute, on scene."""
    if status != TaskStatus.ON_SCENE:
        raise InvalidTransition(f"police mediation happens on scene; this task is {status}")
    if source == "video_alarm":
        raise TaskRuleError("a video alarm is not a dispute: close it with an outcome instead")
    if source == "dispatch" and matter_code not in MEDIATION_MATTERS:
        raise TaskRuleError(f"matter {matter_code} is not a dispute or public-order matter")


def mediation_outcome(result: MediationResult) -> tuple[Outcome, str | None, str]:
    """(outcome, referral_to, summary prefix) of a police mediation."""
    if result == MediationResult.SETTLED:
        return Outcome.DONE, None, "settled by police mediation"
    if result == MediationResult.CIVIL_DISPUTE:
        return Outcome.REFERRED, "mediation", "civil dispute handed back to people's mediation"
    return Outcome.REFERRED, "mediation", "not settled by police mediation; people's mediation to continue"


def seconds_between(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0.0)


@dataclass(frozen=True)
class ResponseFigures:
    tasks: int
    open: int
    accepted: int
    on_scene: int
    closed: int
    mean_response_s: float | None
    median_response_s: float | None
    p90_response_s: float | None
    mean_arrival_s: float | None
    median_arrival_s: float | None
    p90_arrival_s: float | None


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    index = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def response_figures(statuses: Iterable[str], responses: Iterable[float], arrivals: Iterable[float]) -> ResponseFigures:
    """Counts per status and response (report → accepted) and arrival (report → on scene) times."""
    status_list = list(statuses)
    r = sorted(responses)
    a = sorted(arrivals)
    return ResponseFigures(
        tasks=len(status_list),
        open=sum(1 for s in status_list if s in (TaskStatus.OPEN, TaskStatus.UNROUTED)),
        accepted=sum(1 for s in status_list if s == TaskStatus.ACCEPTED),
        on_scene=sum(1 for s in status_list if s == TaskStatus.ON_SCENE),
        closed=sum(1 for s in status_list if s == TaskStatus.CLOSED),
        mean_response_s=sum(r) / len(r) if r else None,
        median_response_s=_percentile(r, 0.5),
        p90_response_s=_percentile(r, 0.9),
        mean_arrival_s=sum(a) / len(a) if a else None,
        median_arrival_s=_percentile(a, 0.5),
        p90_arrival_s=_percentile(a, 0.9),
    )
