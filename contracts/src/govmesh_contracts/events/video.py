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


# An evidence search's recordings go out in pages of at most this many (one EvidenceAttached
# each): a week of segments of 20 cameras would otherwise exceed a topic's 1 MiB record limit
# (a recording is ~0.3 KiB of JSON, up to ~0.7 KiB with a long file path).
MAX_RECORDINGS_PER_EVENT = 500


class EvidenceAttached(Event):
    """Video evidence found for a case: the channels near the place and their recordings
    in the time window. Intake shows it on the case timeline.

    One search is one ``evidence_id``; its recordings are split over ``page_count`` events of
    at most ``MAX_RECORDINGS_PER_EVENT`` recordings each (``page`` 1 … ``page_count``, each
    repeating the search's place, window and channels)."""

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
    page: int = Field(default=1, ge=1, description="This event's page of the search's recordings (1-based).")
    page_count: int = Field(default=1, ge=1, description="How many events carry the search's recordings.")
    requested_by: str | None = Field(
        default=None,
        description="Who asked: the subject of the caller's credential, or 'video-bridge' for a search the bridge"
        " made by itself when the case was received.",
    )


class ChannelFaultOpened(Event):
    """A channel that was online has been offline longer than the bridge's fault threshold:
    a maintenance matter (设备故障) for the department that keeps the cameras. One per outage,
    however long it lasts; intake makes it a case (the one door)."""

    event_type: ClassVar[str] = "gov.video.channel-fault.opened"
    key_field: ClassVar[str] = "channel_id"

    fault_id: UUID = Field(description="The outage; ChannelFaultCleared names the same id.")
    channel_id: str = Field(pattern=r"^\d{20}$")
    device_id: str = Field(pattern=r"^\d{20}$")
    channel_name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300, description="Where the camera stands (the camera's).")
    grid_code: str | None = None
    location: Location | None = None
    status: str = Field(description="The channel's last status: OFF, VLOST, DEFECT, …")
    offline_since: datetime
    opened_at: datetime


class ChannelFaultCleared(Event):
    """The channel of an open fault is back online (or was removed from its device's catalog)."""

    event_type: ClassVar[str] = "gov.video.channel-fault.cleared"
    key_field: ClassVar[str] = "channel_id"

    fault_id: UUID
    channel_id: str = Field(pattern=r"^\d{20}$")
    offline_since: datetime
    reason: str = Field(description="online (the channel is back) or removed (no longer in the catalog)")
    cleared_at: datetime
