"""Events produced by intake, the one door (一门受理)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event, Location
from govmesh_contracts.events.common import CancelReason


class CaseReceived(Event):
    """A matter was accepted at the one door and became a case.

    Personal data is minimised: the reporter is a reference into intake, never a
    name, phone or ID number."""

    event_type: ClassVar[str] = "gov.intake.case.received"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    case_number: str = Field(description="Human-readable case number, unique and sortable.")
    matter_code: str = Field(description="Matter type code from intake's taxonomy.")
    channel: str = Field(description="Where the matter came in: window, hotline, terminal, api, open311, video.")
    description: str
    location: Location | None = None
    address: str | None = None
    received_at: datetime
    reporter_ref: str | None = Field(default=None, description="Opaque reference to the reporter held by intake.")
    due_at: datetime | None = Field(
        default=None, description="Deadline from the matter's default SLA; dispatch uses it as the case deadline."
    )
    grid_code: str | None = Field(
        default=None,
        description=(
            "The grid the reporter gave: a grid worker's own grid (terminal), a camera's configured grid. "
            "Dispatch places the case on it when the location does not fall in a grid."
        ),
    )
    priority: str = Field(
        default="normal",
        description="normal or urgent (a camera alarm of GB/T 28181 priority 1 or 2); the first tasks carry it.",
    )


class CaseFeedbackGiven(Event):
    """The resident judged the handling of a resolved case. ``solved=False`` reopens it."""

    event_type: ClassVar[str] = "gov.intake.case.feedback-given"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    satisfaction: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied.")
    solved: bool
    comment: str | None = Field(default=None, max_length=2000)
    given_at: datetime


class CaseCancelled(Event):
    """A centre cancelled the whole case: withdrawn by the resident, a mis-report, or merged into
    another case. Intake owns the case's status and publishes this on the case's own key, so it
    always follows the case's CaseReceived; dispatch cancels every open task of the case
    (TaskCancelled each), and every holder closes its file."""

    event_type: ClassVar[str] = "gov.intake.case.cancelled"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    reason: CancelReason
    merged_into: UUID | None = Field(default=None, description="The case this one was merged into (reason=merged).")
    note: str | None = Field(default=None, max_length=500, description="The centre's words; no personal data.")
    cancelled_by: str = Field(description="Who cancelled: the subject of the centre's credential.")
    cancelled_at: datetime


class CasePersonalDataErased(Event):
    """A resident's personal data was erased from the case on their request (intake keeps a
    tombstone). Services holding copies (dispatch's description and address) erase theirs."""

    event_type: ClassVar[str] = "gov.intake.case.personal-data-erased"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    erased_at: datetime


class CaseClearedAtSource(Event):
    """The matter of an open case went away at its source before its handling ended: a camera
    whose outage was a maintenance case (设备故障) is back online. Intake publishes it on the
    case's key (after its CaseReceived); dispatch cancels the case's open tasks (their holders
    close their files) and resolves the case with the note."""

    event_type: ClassVar[str] = "gov.intake.case.cleared-at-source"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    note: str = Field(max_length=500, description="What happened at the source; no personal data.")
    cleared_by: str = Field(description="Where it was learnt: 'video-bridge' for a camera back online.")
    cleared_at: datetime
