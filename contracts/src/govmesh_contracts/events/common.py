"""Value types shared by events of several services."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """The four levels of governance centres (综治中心), bottom up."""

    COMMUNITY = "community"
    TOWNSHIP = "township"
    COUNTY = "county"
    CITY = "city"


class TaskTarget(StrEnum):
    """Who must act on a task (coordinated handling, 协同办理)."""

    GRID_WORKER = "grid_worker"
    MEDIATION = "mediation"
    POLICING = "policing"
    DEPARTMENT = "department"


class TaskKind(StrEnum):
    """What a task is for: handling the matter, or a return visit (回访) after the case closed."""

    HANDLING = "handling"
    RETURN_VISIT = "return_visit"


class TaskOutcome(StrEnum):
    DONE = "done"  # handled; for a dispute: agreement performed
    REFERRED = "referred"  # handed on: see referral_to (e.g. "mediation", "court", "legal_aid", a department)
    WITHDRAWN = "withdrawn"  # the resident withdrew the matter
    FAILED = "failed"  # could not be handled; dispatch decides what next


class CancelReason(StrEnum):
    """Why a centre cancels a whole case (撤销)."""

    WITHDRAWN = "withdrawn"  # the resident withdrew the matter
    MIS_REPORT = "mis_report"  # nothing to handle: a wrong or false report
    MERGED = "merged"  # handled as part of another case (see merged_into)
