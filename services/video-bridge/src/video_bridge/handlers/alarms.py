"""Alarms from devices (SIP) and from webhooks: one VideoAlarmRaised per alarm, deduplicated."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from govmesh_contracts import Location, VideoAlarmRaised
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters import metrics
from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.tables import AlarmRow, ChannelRow
from video_bridge.domain.manscdp import AlarmNotice
from video_bridge.handlers.common import utc_now


async def record_alarm(
    uow: UnitOfWork,
    notice: AlarmNotice,
    *,
    reporting_device: str,
    source: str,
    grids: GridLocator,
    dedupe: str,
    now: datetime | None = None,
) -> AlarmRow | None:
    """An alarm → VideoAlarmRaised with the channel and its grid; a repeated one (same
    dedupe key) is not raised twice. Returns None for a repeat."""
    now = now or utc_now()
    await grids.get(uow.session)  # rebuilt first if another instance imported grids
    dedupe_key = f"{source}:{dedupe}"[:200]
    taken = await uow.session.exec(select(AlarmRow.alarm_id).where(col(AlarmRow.dedupe_key) == dedupe_key))
    if taken.first() is not None:
        return None
    channel = await uow.session.get(ChannelRow, notice.device_id)
    channel_id = notice.device_id
    device_id = channel.device_id if channel is not None else reporting_device
    lat, lon = notice.lat, notice.lon
    if lat is None and channel is not None:
        lat, lon = channel.lat, channel.lon
    grid = channel.grid_code if channel is not None and channel.grid_code else grids.locate(lat, lon)
    alarm = AlarmRow(
        dedupe_key=dedupe_key,
        channel_id=channel_id,
        device_id=device_id,
        source=source,
        priority=notice.priority,
        method=notice.method[:8],
        alarm_type=notice.alarm_type[:32] if notice.alarm_type else None,
        grid_code=grid,
        lat=lat,
        lon=lon,
        alarm_time=notice.alarm_time or now,
        received_at=now,
    )
    uow.session.add(alarm)
    uow.emit(
        VideoAlarmRaised(
            alarm_id=alarm.alarm_id,
            channel_id=channel_id,
            device_id=device_id,
            grid_code=grid,
            location=Location(lat=lat, lon=lon) if lat is not None and lon is not None else None,
            priority=notice.priority,
            method=notice.method,
            alarm_type=notice.alarm_type,
            description=notice.description,
            alarm_time=alarm.alarm_time,
        )
    )
    labels = (source if source in ("sip", "webhook") else "other", metrics.alarm_priority(notice.priority))
    metrics.after_commit(uow.session, metrics.VIDEO_ALARMS.labels(*labels).inc)
    return alarm
