"""Bulk imports: channels from the city generator's channels.json; grid remapping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.tables import ChannelRow, DeviceRow
from video_bridge.domain.digest import ha1

CHUNK = 2000


@dataclass(frozen=True)
class ChannelRecord:
    channel_id: str
    device_id: str
    name: str | None
    lat: float | None
    lon: float | None
    civil_code: str | None
    manufacturer: str | None
    model: str | None
    sip_password: str | None = None  # the device's own digest password (stored as HA1 only)


@dataclass(frozen=True)
class ImportResult:
    channels_created: int
    channels_updated: int
    devices_created: int
    mapped_to_grid: int


async def import_channels(
    session: AsyncSession,
    records: Sequence[ChannelRecord],
    grids: GridLocator,
    *,
    realm: str = "",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Upsert devices (known) and channels; channels get their grid by coordinates unless
    one was configured. Status is not touched: liveness comes from signalling."""
    now = datetime.now(UTC)
    created = updated = devices_created = mapped = 0
    for start in range(0, len(records), CHUNK):
        chunk = records[start : start + CHUNK]
        device_ids = {r.device_id for r in chunk}
        own_secrets = {r.device_id: ha1(r.device_id, realm, r.sip_password) for r in chunk if r.sip_password and realm}
        devices = {
            d.device_id: d
            for d in (await session.exec(select(DeviceRow).where(col(DeviceRow.device_id).in_(device_ids)))).all()
        }
        for device_id in device_ids:
            device = devices.get(device_id)
            if device is None:
                devices_created += 1
                device = DeviceRow(device_id=device_id, type_code=device_id[10:13], known=True, updated_at=now)
            device.known = True
            if device_id in own_secrets:
                device.sip_ha1 = own_secrets[device_id]
            session.add(device)
        existing = {
            c.channel_id: c
            for c in (
                await session.exec(
                    select(ChannelRow).where(col(ChannelRow.channel_id).in_([r.channel_id for r in chunk]))
                )
            ).all()
        }
        points = [(r.lat, r.lon) if r.lat is not None and r.lon is not None else (0.0, 0.0) for r in chunk]
        located = grids.locate_many(points)
        for record, grid in zip(chunk, located, strict=True):
            channel = existing.get(record.channel_id)
            if channel is None:
                created += 1
                channel = ChannelRow(
                    channel_id=record.channel_id, device_id=record.device_id, status="OFF", online=False
                )
            else:
                updated += 1
            channel.device_id = record.device_id
            channel.name = record.name[:200] if record.name else channel.name
            channel.civil_code = record.civil_code or channel.civil_code
            channel.manufacturer = record.manufacturer or channel.manufacturer
            channel.model = record.model or channel.model
            if record.lat is not None and record.lon is not None:
                channel.lat, channel.lon = record.lat, record.lon
                if channel.grid_source != "configuration":
                    channel.grid_code = grid
                    channel.grid_source = "coordinates" if grid else None
            if channel.grid_code:
                mapped += 1
            channel.updated_at = now
            session.add(channel)
        await session.flush()
        if progress is not None:
            progress(start + len(chunk))
    return ImportResult(created, updated, devices_created, mapped)


async def remap_channels(session: AsyncSession, grids: GridLocator) -> int:
    """Map every channel with coordinates (and no configured grid) onto the current grids."""
    rows = (
        await session.exec(
            select(ChannelRow).where(col(ChannelRow.lat).is_not(None), col(ChannelRow.grid_source) != "configuration")
        )
    ).all()
    unconfigured = (
        await session.exec(
            select(ChannelRow).where(col(ChannelRow.lat).is_not(None), col(ChannelRow.grid_source).is_(None))
        )
    ).all()
    channels = {c.channel_id: c for c in [*rows, *unconfigured]}
    ordered = list(channels.values())
    located = grids.locate_many([(c.lat or 0.0, c.lon or 0.0) for c in ordered])
    mapped = 0
    for channel, grid in zip(ordered, located, strict=True):
        channel.grid_code = grid
        channel.grid_source = "coordinates" if grid else None
        mapped += grid is not None
        session.add(channel)
    return mapped
