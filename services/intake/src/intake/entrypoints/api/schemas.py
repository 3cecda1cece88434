"""API models of intake (SQLModel families: Base, Create, Public)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from intake.domain.cases import Channel


class CaseBase(BaseModel):
    matter_code: str = Field(
        min_length=1, max_length=64, description="Matter type code.", examples=["dispute.neighbour"]
    )
    description: str = Field(min_length=1, max_length=4000, examples=["Water leaks from the flat above into ours."])
    lat: float | None = Field(default=None, ge=-90, le=90, examples=[38.9326])
    lon: float | None = Field(default=None, ge=-180, le=180, examples=[100.4498])
    address: str | None = Field(default=None, max_length=500, examples=["甘州区 县府街 12号 3单元"])


class CaseCreate(CaseBase):
    model_config = ConfigDict(extra="forbid")

    channel: Channel = Field(default=Channel.API, description="Where the matter came in.")

    @model_validator(mode="after")
    def _location(self) -> CaseCreate:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon must be given together")
        if self.lat is None and not self.address:
            raise ValueError("a location is required: lat and lon, or address")
        return self


class TimelineEntry(BaseModel):
    kind: str = Field(description="received, dispatched, …")
    actor: str = Field(description="Who holds the case after this step.")
    note: str | None
    at: datetime


class CasePublic(CaseBase):
    id: UUID
    case_number: str
    channel: Channel
    status: str
    handled_by: str | None
    received_at: datetime
    updated_at: datetime
    timeline: list[TimelineEntry]
