"""Events produced by the video bridge (雪亮工程, GB/T 28181)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from govmesh_contracts.events.base import Event, Location


class VideoAlarmRaised(Event):
    """A camera or video-analytics platform raised an alarm."""

    event_type: ClassVar[str] = "gov.video.alarm.raised"
    key_field: ClassVar[str] = "channel_id"

    alarm_id: UUID
    channel_id: str = Field(pattern=r"^\d{20}$", description="GB/T 28181 20-digit channel id.")
    device_id: str = Field(pattern=r"^\d{20}$")
    grid_code: str | None = None
    location: Location | None = None
    priority: int = Field(ge=1, le=4, description="GB/T 28181 AlarmPriority: 1 highest … 4 lowest.")
    method: str = Field(
        description="GB/T 28181 AlarmMethod: 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other."
    )
    alarm_type: str | None = None
    description: str | None = Field(default=None, max_length=2000)
    alarm_time: datetime


class ChannelStatusChanged(Event):
    """A channel went online or offline (keepalive, catalog events)."""

    event_type: ClassVar[str] = "gov.video.channel.status-changed"
    key_field: ClassVar[str] = "channel_id"

    channel_id: str = Field(pattern=r"^\d{20}$")
    device_id: str = Field(pattern=r"^\d{20}$")
    online: bool
    status: str = Field(description="ON, OFF, VLOST, DEFECT, …")
    grid_code: str | None = None
    reason: str = Field(description="keepalive, keepalive-timeout, catalog, register, unregister")
    changed_at: datetime


class EvidenceRecording(BaseModel):
    """One recording segment a device reported (RecordInfo), referenced, not copied."""

    model_config = ConfigDict(frozen=True)

    channel_id: str = Field(pattern=r"^\d{20}$")
    device_id: str = Field(pattern=r"^\d{20}$")
    start_time: datetime | None = None
    end_time: datetime | None = None
    record_type: str | None = Field(default=None, description="GB/T 28181 Type: time, alarm, manual, all.")
    file_path: str | None = Field(default=None, max_length=500)


class EvidenceAttached(Event):
    """Video evidence found for a case: the channels near the place and their recordings
    in the time window. Intake shows it on the case timeline."""

    event_type: ClassVar[str] = "gov.video.evidence.attached"
    key_field: ClassVar[str] = "case_id"

    evidence_id: UUID
    case_id: UUID
    location: Location
    radius_m: float = Field(gt=0)
    window_start: datetime
    window_end: datetime
    channel_ids: list[str] = Field(description="The channels searched (20-digit ids).")
    recordings: list[EvidenceRecording]
    unanswered_channel_ids: list[str] = Field(
        default_factory=list, description="Channels whose device did not answer the RecordInfo query in time."
    )
    attached_at: datetime
