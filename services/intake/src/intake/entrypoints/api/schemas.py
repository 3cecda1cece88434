"""API models of intake's native REST API v1."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from govmesh_contracts import CancelReason
from intake.domain.cases import CaseStatus, Channel
from intake.domain.check import MAX_ATTACHMENTS

AttributeValue = str | float | list[str]

RECEIVED_EXAMPLE = "2026-11-25T08:30:00Z"

# The limits of a report, stated once: the fields below and Open311's form use them.
MATTER_CODE_MAX = 64
DESCRIPTION_MAX = 4000
ADDRESS_MAX = 500
REPORTER_NAME_MAX = 50
GRID_CODE_PATTERN = r"^[0-9]{15}$"
IDEMPOTENCY_KEY_MAX = 200  # the Idempotency-Key header


class CaseBase(BaseModel):
    matter_code: str = Field(
        min_length=1,
        max_length=MATTER_CODE_MAX,
        description="Matter code from GET /v1/matters.",
        examples=["dispute.neighbour"],
    )
    description: str = Field(
        min_length=1, max_length=DESCRIPTION_MAX, examples=["Water leaks from the flat above into ours (楼上漏水)."]
    )
    lat: float | None = Field(default=None, ge=-90, le=90, description="WGS 84 latitude.", examples=[38.9326])
    lon: float | None = Field(default=None, ge=-180, le=180, description="WGS 84 longitude.", examples=[100.4498])
    address: str | None = Field(
        default=None, min_length=1, max_length=ADDRESS_MAX, examples=["甘州区 县府街 12号 3单元"]
    )


class ReporterIn(BaseModel):
    """Who reports: optional unless the matter does not allow anonymous reports. Stored in intake only."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=REPORTER_NAME_MAX, examples=["张三"])
    phone: str | None = Field(default=None, min_length=3, max_length=20, examples=["13812345678"])
    id_number: str | None = Field(
        default=None, min_length=18, max_length=18, description="GB 11643 resident ID.", examples=["11010519491231002X"]
    )


class CaseCreate(CaseBase):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "matter_code": "dispute.neighbour",
                    "description": "Water leaks from the flat above into ours.",
                    "lat": 38.9326,
                    "lon": 100.4498,
                    "address": "甘州区 县府街 12号 3单元",
                    "channel": "hotline",
                    "reporter": {"name": "张三", "phone": "13812345678"},
                    "attachments": ["https://files.example/leak.jpg"],
                    "attributes": {"parties_count": 2},
                }
            ]
        },
    )

    channel: Channel = Field(default=Channel.API, description="Where the matter came in.")
    grid_code: str | None = Field(
        default=None,
        pattern=GRID_CODE_PATTERN,
        description="The grid the matter is in (15-digit unified grid code): dispatch places the case on it when "
        "the point is in no grid or not given. Required from a caller bound to places (a centre), and within "
        "them; a grid worker's terminal (a caller bound to one grid) reports on its own grid when it names none.",
        examples=["620702001001001"],
    )
    reporter: ReporterIn | None = None
    attachments: list[str] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS, description="URLs of photos or documents."
    )
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict, description="The matter's attributes (see GET /v1/matters/{code})."
    )

    @model_validator(mode="after")
    def _location(self) -> CaseCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        # A place is required too, but a grid worker's own grid counts: the route checks it.
        return self


class TimelineEntry(BaseModel):
    kind: str = Field(
        description="received, report_linked, dispatched, task_assigned, task_reassigned, task_escalated, "
        "task_cancelled, task_completed, violence_risk_flagged, escalated, alarm_repeated, resolved, feedback, "
        "closed, reopened, return_visit_assigned, return_visit",
        examples=["dispatched"],
    )
    actor: str = Field(description="Who holds or acted on the case at this step.", examples=["centre:620700"])
    note: str | None = Field(examples=["grid 620702001001"])
    at: datetime = Field(examples=[RECEIVED_EXAMPLE])


class ReporterPublic(BaseModel):
    """The reporter, masked unless the caller has the personal-data scope (issue 9)."""

    ref: str = Field(examples=["rep-3f2a9c0e11d24b7f8a61"])
    name: str | None = Field(examples=["张*"])
    phone: str | None = Field(examples=["138****5678"])
    id_number: str | None = Field(examples=["110105********002X"])
    masked: bool = Field(examples=[True])


class CaseSummary(CaseBase):
    id: UUID
    case_number: str = Field(examples=["620702-20261125-000042"])
    channel: Channel
    status: CaseStatus
    handled_by: str | None = Field(description="Who holds the case now.", examples=["mediation"])
    grid_code: str | None = Field(
        description="The grid the case is in: where dispatch located it, else the creator's grid; null when "
        "neither (then only callers not bound to places see the case).",
        examples=["620702001001001"],
    )
    received_at: datetime
    updated_at: datetime
    due_at: datetime | None = Field(description="Deadline from the matter's default SLA.")
    linked_reports: int = Field(description="Further reports of the same matter linked to this case.", examples=[0])


class CasePublic(CaseSummary):
    handled_since: datetime | None = Field(description="Since when the current holder (handled_by) has the case.")
    attributes: dict[str, AttributeValue]
    attachments: list[str]
    reporter: ReporterPublic | None
    satisfaction: int | None = Field(description="The resident's satisfaction 1–5, once given.")
    closed_without_feedback: bool = Field(
        default=False, description="Closed because the resident gave no feedback within the feedback window."
    )
    return_visit_satisfaction: int | None = Field(
        default=None, description="The satisfaction 1–5 a grid worker's return visit (回访) brought back."
    )
    timeline: list[TimelineEntry]


class CaseCreated(CasePublic):
    outcome: Literal["created", "linked", "retried"] = Field(
        description="created: a new case; linked: a duplicate of an open case, linked to it (no new case); "
        "retried: the same Idempotency-Key again."
    )
    notice: str | None = Field(examples=[None])


class PublicStep(BaseModel):
    """A step of a case as anyone following it sees it: what, who holds it, when — no note."""

    kind: str = Field(examples=["dispatched"])
    actor: str = Field(examples=["centre:620700"])
    at: datetime = Field(examples=[RECEIVED_EXAMPLE])


class ReportReceipt(BaseModel):
    """Your own report as received, kept with the case it was linked to."""

    receipt: str = Field(description="The number of your report.", examples=["620702-20261125-000042-L7"])
    received_at: datetime
    channel: Channel
    description: str
    lat: float | None
    lon: float | None
    address: str | None
    attachments: list[str]
    attributes: dict[str, AttributeValue]
    reporter: ReporterPublic | None = Field(description="You, as you gave yourself (always masked here).")


class ReportLinked(BaseModel):
    """A report linked to an open case of the same matter nearby: your own receipt and the case's
    public status — never another resident's description, attachments, attributes or notes."""

    outcome: Literal["linked", "retried"] = Field(
        description="linked: linked to the open case; retried: the same Idempotency-Key again."
    )
    notice: str
    report: ReportReceipt
    id: UUID = Field(description="The case you now follow.")
    case_number: str = Field(examples=["620702-20261125-000042"])
    matter_code: str = Field(examples=["dispute.neighbour"])
    status: CaseStatus
    handled_by: str | None = Field(examples=["mediation"])
    updated_at: datetime
    due_at: datetime | None
    linked_reports: int = Field(description="Further reports of the same matter linked to the case.")
    timeline: list[PublicStep]


class CasePage(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description="How many cases match in all.", examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])
    next_offset: int | None = Field(description="Offset of the next page, null on the last.", examples=[None])


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"satisfaction": 5, "solved": True, "comment": "修好了，谢谢"}]},
    )

    satisfaction: int = Field(ge=1, le=5, description="1 very dissatisfied … 5 very satisfied.")
    solved: bool = Field(description='false ("not solved") reopens the case.')
    comment: str | None = Field(default=None, max_length=2000)


class CaseCancel(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "withdrawn", "note": "the neighbours settled it themselves"},
                {"reason": "merged", "merged_into": "0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10"},
            ]
        },
    )

    reason: CancelReason = Field(
        description="withdrawn (by the resident), mis_report, or merged (into the case merged_into)."
    )
    merged_into: UUID | None = Field(
        default=None, validate_default=True, description="The case this one is merged into; only with merged."
    )
    note: str | None = Field(
        default=None, min_length=1, max_length=500, description="The centre's words; no personal data."
    )

    @field_validator("merged_into")
    @classmethod
    def _merged(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        # an error here is reported at body.merged_into, naming the field
        if (info.data.get("reason") is CancelReason.MERGED) != (value is not None):
            raise ValueError("required with reason=merged, and only then")
        return value


class ErasureRequest(BaseModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="The resident's request (its reference); recorded in the audit log.",
        examples=["resident's written request 2026-1203-07"],
    )
