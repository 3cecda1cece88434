"""Cases as the resident sees them: number, status and timeline."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

from intake.domain.messages import msg

CASE_NUMBER = re.compile(r"^\d{6}-\d{8}-\d{6}$")


class CaseStatus(StrEnum):
    """received → dispatched → in_progress → resolved → closed; reopened → in_progress.
    A centre may cancel an open case (→ cancelled, final: nothing later moves it)."""

    RECEIVED = "received"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELLED = "cancelled"  # last: the highest rank, so no late event of a holder moves it back


_RANK = {s: i for i, s in enumerate(CaseStatus)}
OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS)


def advance(current: CaseStatus, to: CaseStatus) -> CaseStatus:
    """Status after an event that moves a case forward; late or repeated events never move it back."""
    return to if _RANK[to] > _RANK[current] else current


def reopen(current: CaseStatus) -> CaseStatus:
    """The resident said "not solved": a resolved or closed case goes back into handling."""
    return CaseStatus.IN_PROGRESS if current in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else current


CLOSED_STATUSES = (CaseStatus.RESOLVED, CaseStatus.CLOSED, CaseStatus.CANCELLED)


def open311_status(status: CaseStatus) -> str:
    """Open311 knows only open and closed: handling finished (resolved, closed, cancelled) is closed."""
    return "closed" if status in CLOSED_STATUSES else "open"


class CancelNotAllowed(ValueError):
    """The case cannot be cancelled (or merged into that case); the message says why."""


def check_cancellable(status: CaseStatus) -> None:
    """Only a case still in handling can be cancelled: a resolved one awaits the resident's
    feedback, a closed or cancelled one is over."""
    if status not in OPEN_STATUSES:
        raise CancelNotAllowed(msg("error.cancel_status", status=status.value))


def check_merge_target(case_id: object, target_id: object, target_status: CaseStatus | None) -> str | None:
    """Why a case cannot be merged into the target, or None: it must be another, existing case
    that is not cancelled itself."""
    if target_id == case_id:
        return "a case cannot be merged into itself"
    if target_status is None:
        return f"no such case: {target_id}"
    if target_status is CaseStatus.CANCELLED:
        return f"case {target_id} is cancelled itself"
    return None


class Channel(StrEnum):
    WINDOW = "window"
    HOTLINE = "hotline"
    TERMINAL = "terminal"
    API = "api"
    OPEN311 = "open311"
    VIDEO = "video"


def case_number(centre_code: str, day: date, sequence: int) -> str:
    """Human-readable and sortable: centre code, date, daily sequence (620702-20261125-000042)."""
    if not re.fullmatch(r"\d{6}", centre_code):
        raise ValueError("centre code must be 6 digits (GB/T 2260 administrative division)")
    if not 1 <= sequence <= 999_999:
        raise ValueError("daily sequence out of range")
    return f"{centre_code}-{day:%Y%m%d}-{sequence:06d}"


def due_at(received_at: datetime, sla_hours: int) -> datetime:
    """The case deadline from the matter's default SLA."""
    return received_at + timedelta(hours=sla_hours)


def within_burst(last_alarm_at: datetime, alarm_at: datetime, window_s: float) -> bool:
    """An alarm within ``window_s`` of the previous one from the same channel belongs to the same burst."""
    return abs((alarm_at - last_alarm_at).total_seconds()) <= window_s


# Steps at the same instant (one dispatch decision publishes several events) show in the order they mean.
_STEP_ORDER = {
    "received": 0,
    "report_linked": 1,
    "dispatched": 2,
    "escalated": 3,
    "task_cancelled": 4,
    "task_assigned": 5,
    "task_reassigned": 6,
    "task_escalated": 7,
    "task_completed": 8,
    "cleared_at_source": 8,
    "dispute_opened": 6,
    "police_task_opened": 6,
    "mediator_assigned": 7,
    "police_task_accepted": 7,
    "resolved": 9,
    "feedback": 10,
    "closed": 11,
    "reopened": 12,
    "return_visit_assigned": 13,
    "return_visit": 14,
    "cancelled": 15,
}


def step_order(kind: str) -> int:
    return _STEP_ORDER.get(kind, 6)
