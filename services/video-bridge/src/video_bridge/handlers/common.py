"""What video-bridge's handlers share: the channel status event, a channel's and a device's
liveness change (with their events), and the fallback clock."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from govmesh_contracts import ChannelStatusChanged
from govmesh_kit.clock import system_clock
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.tables import ChannelRow, DeviceRow
from video_bridge.domain.device_id import parse_device_id
from video_bridge.domain.liveness import channel_online

# the kit's one clock, under the name the handlers use
utc_now = system_clock


def status_event(
    channel_id: str, device_id: str, online: bool, status: str, grid: str | None, reason: str, at: datetime
) -> ChannelStatusChanged:
    return ChannelStatusChanged(
        channel_id=channel_id,
        device_id=device_id,
        online=online,
        status=status,
        grid_code=grid,
        reason=reason,
        changed_at=at,
    )


def set_channel_online(channel: ChannelRow, online: bool, now: datetime) -> None:
    """Online or not; an outage starts when an online channel goes offline (a channel that was
    never online, e.g. imported and never registered, is no outage: no fault is opened for it)."""
    if channel.online and not online:
        channel.offline_since = now
    elif online:
        channel.offline_since = None
    channel.online = online


async def set_device_online(uow: UnitOfWork, device: DeviceRow, online: bool, reason: str, now: datetime) -> None:
    """Change a device's liveness and its channels'; emit one event per channel that changed
    (for a device without channels, e.g. a lone IPC, one event for the device itself)."""
    changed = device.online != online
    device.online = online
    device.updated_at = now
    uow.session.add(device)
    channels = (await uow.session.exec(select(ChannelRow).where(col(ChannelRow.device_id) == device.device_id))).all()
    if not channels:
        if changed:
            uow.emit(
                status_event(device.device_id, device.device_id, online, "ON" if online else "OFF", None, reason, now)
            )
        return
    for channel in channels:
        now_online = channel_online(online, channel.status)
        if now_online != channel.online:
            set_channel_online(channel, now_online, now)
            channel.updated_at = now
            uow.session.add(channel)
            uow.emit(
                status_event(
                    channel.channel_id, device.device_id, now_online, channel.status, channel.grid_code, reason, now
                )
            )


def parse_device_id_or_none(value: str) -> str | None:
    try:
        return parse_device_id(value).value
    except ValueError:
        return None
