"""Channels: a device's from its Catalog, its DeviceInfo/DeviceStatus answers, and what an
operator sets (a channel's grid, an import of channels.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import col, select

from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.importer import ChannelRecord, ImportResult, import_channels
from video_bridge.adapters.tables import ChannelRow, DeviceRow
from video_bridge.domain.liveness import CATALOG_EVENTS_ONLINE, channel_online
from video_bridge.domain.manscdp import CatalogItem
from video_bridge.handlers.common import parse_device_id_or_none, set_channel_online, status_event, utc_now


def _apply_item(channel: ChannelRow, item: CatalogItem, grids: GridLocator) -> None:
    for name in ("name", "manufacturer", "model", "civil_code", "address", "parent_id"):
        value = getattr(item, name)
        if value is not None:
            setattr(channel, name, value[:300] if name == "address" else value[:200])
    if item.lat is not None and item.lon is not None:
        channel.lat, channel.lon = item.lat, item.lon
    if channel.grid_source != "configuration":
        grid = grids.locate(channel.lat, channel.lon)
        if grid is not None:
            channel.grid_code, channel.grid_source = grid, "coordinates"


async def apply_catalog(
    uow: UnitOfWork, device_id: str, items: Sequence[CatalogItem], grids: GridLocator, now: datetime | None = None
) -> int:
    """A whole catalog answer (or change notifications) into the channel registry."""
    now = now or utc_now()
    await grids.get(uow.session)  # rebuilt first if another instance imported grids
    device = await uow.session.get(DeviceRow, device_id)
    device_online = bool(device and device.online)
    if device is not None and not any(i.event for i in items):
        device.catalog_at = now
        uow.session.add(device)
    ids = [i.channel_id for i in items]
    existing = {
        c.channel_id: c
        for c in (await uow.session.exec(select(ChannelRow).where(col(ChannelRow.channel_id).in_(ids)))).all()
    }
    for item in items:
        if parse_device_id_or_none(item.channel_id) is None:
            continue
        channel = existing.get(item.channel_id)
        if item.event == "DEL":
            if channel is not None:
                if channel.online:
                    uow.emit(
                        status_event(channel.channel_id, device_id, False, "DEL", channel.grid_code, "catalog", now)
                    )
                await uow.session.delete(channel)
            continue
        if channel is None:
            channel = ChannelRow(channel_id=item.channel_id, device_id=device_id, status="OFF", online=False)
            existing[item.channel_id] = channel
        channel.device_id = device_id
        _apply_item(channel, item, grids)
        status = item.event if item.event in CATALOG_EVENTS_ONLINE else item.status
        if status:
            channel.status = status
        online = channel_online(device_online, channel.status)
        if online != channel.online:
            set_channel_online(channel, online, now)
            uow.emit(
                status_event(channel.channel_id, device_id, online, channel.status, channel.grid_code, "catalog", now)
            )
        channel.updated_at = now
        uow.session.add(channel)
    return len(items)


async def store_device_answer(uow: UnitOfWork, device_id: str, kind: str, fields: dict[str, str]) -> None:
    device = await uow.session.get(DeviceRow, device_id)
    if device is None:
        return
    if kind == "DeviceInfo":
        device.info_json = json.dumps(fields, ensure_ascii=False)
        device.name = (fields.get("DeviceName") or device.name or "")[:200] or None
        device.manufacturer = (fields.get("Manufacturer") or device.manufacturer or "")[:100] or None
        device.model = (fields.get("Model") or device.model or "")[:100] or None
        device.firmware = (fields.get("Firmware") or device.firmware or "")[:100] or None
    else:
        device.status_json = json.dumps(fields, ensure_ascii=False)
    uow.session.add(device)


async def set_channel_grid(
    uow: UnitOfWork, channel_id: str, grid_code: str | None, grids: GridLocator
) -> ChannelRow | None:
    """Map a channel to a grid by configuration, or (``grid_code`` None) by its coordinates;
    None when there is no such channel."""
    row = await uow.session.get(ChannelRow, channel_id)
    if row is None:
        return None
    if grid_code is None:
        row.grid_code = grids.locate(row.lat, row.lon)
        row.grid_source = "coordinates" if row.grid_code else None
    else:
        row.grid_code, row.grid_source = grid_code, "configuration"
    uow.session.add(row)
    return row


async def import_channel_records(
    uow: UnitOfWork, records: Sequence[ChannelRecord], grids: GridLocator, *, realm: str
) -> ImportResult:
    """Upsert devices and channels from the city generator's channels.json (by channel id)."""
    return await import_channels(uow.session, records, grids, realm=realm)
