"""Request and response bodies of video-bridge's REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from video_bridge.domain.device_id import parse_device_id

DeviceIdStr = Field(pattern=r"^\d{20}$", description="GB/T 28181 20-digit id.")


def _check_id(value: str) -> str:
    parse_device_id(value)  # InvalidDeviceId is a ValueError: a 422 naming the field
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelPublic(BaseModel):
    channel_id: str
    device_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    civil_code: str | None
    address: str | None
    status: str
    online: bool
    lat: float | None
    lon: float | None
    grid_code: str | None
    grid_source: str | None
    updated_at: datetime


class ChannelImport(BaseModel):
    """One entry of channels.json (extra fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    channel_id: str = DeviceIdStr
    device_id: str = DeviceIdStr
    name: str | None = Field(default=None, max_length=200)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    civil_code: str | None = Field(default=None, max_length=20)
    manufacturer: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    sip_password: str | None = Field(
        default=None, min_length=8, max_length=128, description="The device's own SIP password (stored as HA1)."
    )

    _ids = field_validator("channel_id", "device_id")(_check_id)


class ImportSummary(BaseModel):
    channels_created: int
    channels_updated: int
    devices_created: int
    mapped_to_grid: int


class GridAssignment(Strict):
    grid_code: str | None = Field(
        min_length=1, max_length=32, description="The grid by configuration; null = back to coordinates."
    )


class DevicePublic(BaseModel):
    device_id: str
    type_code: str
    type_name: str
    known: bool
    name: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    transport: str | None
    host: str | None
    port: int | None
    registered: bool
    online: bool
    register_expires_at: datetime | None
    last_seen_at: datetime | None
    catalog_at: datetime | None
    channel_count: int
    info: dict[str, Any] | None
    status: dict[str, Any] | None


class DeviceQuery(Strict):
    cmd_type: Literal["Catalog", "DeviceInfo", "DeviceStatus"]


class DeviceCredentials(Strict):
    password: str = Field(min_length=8, max_length=128, description="The device's own SIP password.")


class Subscription(Strict):
    kind: Literal["alarm", "catalog"]
    expires_s: int = Field(default=3600, ge=60, le=86400)


class WebhookAlarm(Strict):
    """An alarm from a video-analytics platform (no SIP)."""

    event_id: str = Field(min_length=1, max_length=100, description="The platform's id: a retry is one alarm.")
    channel_id: str = DeviceIdStr
    priority: int = Field(ge=1, le=4)
    method: str = Field(default="5", pattern=r"^[1-7]$", description="GB/T 28181 AlarmMethod; 5 = video.")
    alarm_type: str | None = Field(default=None, max_length=32)
    description: str | None = Field(default=None, max_length=2000)
    alarm_time: datetime
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    _ids = field_validator("channel_id")(_check_id)

    @field_validator("alarm_time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset")
        return value


class AlarmPublic(BaseModel):
    alarm_id: UUID
    channel_id: str
    device_id: str
    source: str
    priority: int
    method: str
    alarm_type: str | None
    grid_code: str | None
    alarm_time: datetime
    received_at: datetime


class EvidenceRequest(Strict):
    """Only the case: its place and time are what the bridge learnt from its CaseReceived."""

    case_id: UUID
    record_type: Literal["all", "time", "alarm", "manual"] = "all"


class RecordingPublic(BaseModel):
    channel_id: str
    device_id: str
    start_time: datetime | None
    end_time: datetime | None
    record_type: str | None
    file_path: str | None


class EvidencePublic(BaseModel):
    evidence_id: UUID
    case_id: UUID
    channel_ids: list[str]
    recordings: list[RecordingPublic]
    unanswered_channel_ids: list[str]
    attached_at: datetime
    window_start: datetime
    window_end: datetime
    radius_m: float
    pages: int = Field(description="How many EvidenceAttached events carry the recordings.")
