"""Dead cameras (video.faults.v1): a fault opened per outage, cleared when the channel is back."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_contracts import ChannelFaultCleared, ChannelFaultOpened, Location
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.tables import ChannelFaultRow, ChannelRow


async def open_faults(uow: UnitOfWork, *, offline_after_s: float, now: datetime, limit: int = 200) -> list[str]:
    """Channels offline (after having been online) for longer than ``offline_after_s`` and without
    an open fault get one, and ChannelFaultOpened: one per outage, however often this runs."""
    cutoff = now - timedelta(seconds=offline_after_s)
    open_fault = sa.exists().where(col(ChannelFaultRow.open_channel_id) == col(ChannelRow.channel_id))
    channels = (
        await uow.session.exec(
            select(ChannelRow)
            .where(
                col(ChannelRow.online).is_(False),
                col(ChannelRow.offline_since).is_not(None),
                col(ChannelRow.offline_since) <= cutoff,
                ~open_fault,
            )
            .order_by(col(ChannelRow.offline_since))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for channel in channels:
        assert channel.offline_since is not None
        fault = ChannelFaultRow(
            channel_id=channel.channel_id,
            open_channel_id=channel.channel_id,
            device_id=channel.device_id,
            offline_since=channel.offline_since,
            opened_at=now,
        )
        uow.session.add(fault)
        has_point = channel.lat is not None and channel.lon is not None
        uow.emit(
            ChannelFaultOpened(
                fault_id=fault.fault_id,
                channel_id=channel.channel_id,
                device_id=channel.device_id,
                channel_name=channel.name,
                address=channel.address,
                grid_code=channel.grid_code,
                location=Location(lat=channel.lat, lon=channel.lon) if has_point else None,  # type: ignore[arg-type]
                status=channel.status,
                offline_since=channel.offline_since,
                opened_at=now,
            )
        )
    return [c.channel_id for c in channels]


async def clear_faults(uow: UnitOfWork, *, now: datetime, limit: int = 200) -> list[str]:
    """Open faults whose channel is online again (or gone from the catalog) are cleared:
    ChannelFaultCleared, and intake resolves the maintenance case."""
    rows = (
        await uow.session.exec(
            select(ChannelFaultRow, ChannelRow)
            .join(ChannelRow, col(ChannelRow.channel_id) == col(ChannelFaultRow.channel_id), isouter=True)
            .where(
                col(ChannelFaultRow.open_channel_id).is_not(None),
                sa.or_(col(ChannelRow.online).is_(True), col(ChannelRow.channel_id).is_(None)),
            )
            .limit(limit)
            .with_for_update(skip_locked=True, of=ChannelFaultRow)
        )
    ).all()
    cleared: list[str] = []
    for fault, channel in rows:
        reason = "online" if channel is not None else "removed"
        fault.open_channel_id = None
        fault.cleared_at = now
        fault.clear_reason = reason
        uow.session.add(fault)
        uow.emit(
            ChannelFaultCleared(
                fault_id=fault.fault_id,
                channel_id=fault.channel_id,
                offline_since=fault.offline_since,
                reason=reason,
                cleared_at=now,
            )
        )
        cleared.append(fault.channel_id)
    return cleared
