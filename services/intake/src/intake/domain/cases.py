"""Cases as the resident sees them: number, status and timeline."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum

CASE_NUMBER = re.compile(r"^\d{6}-\d{8}-\d{6}$")


class CaseStatus(StrEnum):
    """received → dispatched → in_progress → resolved → closed; reopened → in_progress."""

    RECEIVED = "received"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


_RANK = {s: i for i, s in enumerate(CaseStatus)}
OPEN_STATUSES = (CaseStatus.RECEIVED, CaseStatus.DISPATCHED, CaseStatus.IN_PROGRESS)


def advance(current: CaseStatus, to: CaseStatus) -> CaseStatus:
    """Status after an event that moves a case forward; late or repeated events never move it back."""
    return to if _RANK[to] > _RANK[current] else current


def reopen(current: CaseStatus) -> CaseStatus:
    """The resident said "not solved": a resolved or closed case goes back into handling."""
    return CaseStatus.IN_PROGRESS if current in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else current


def open311_status(status: CaseStatus) -> str:
    """Open311 knows only open and closed: handling finished (resolved, closed) is closed."""
    return "closed" if status in (CaseStatus.RESOLVED, CaseStatus.CLOSED) else "open"


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
}


def step_order(kind: str) -> int:
    return _STEP_ORDER.get(kind, 6)
