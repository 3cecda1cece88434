"""The device registry: admission, REGISTER and its end, keepalives (one by one or in a batch),
and devices that went silent.

Liveness truth is in the database (last_seen_at, online), never only in memory, so a
restart neither marks every device offline nor forgets a registration."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.tables import DeviceRow
from video_bridge.domain.device_id import DeviceId, parse_device_id
from video_bridge.domain.liveness import offline_deadline
from video_bridge.domain.sip import Peer
from video_bridge.handlers.common import set_device_online, utc_now


async def is_admitted(uow: UnitOfWork, device_id: str, *, admit_unknown: bool, configured: Sequence[str]) -> bool:
    if admit_unknown or device_id in configured:
        return True
    device = await uow.session.get(DeviceRow, device_id)
    return device is not None and device.known


async def register(uow: UnitOfWork, device_id: str, peer: Peer, expires_s: int, now: datetime | None = None) -> bool:
    """A (re)registration; True if it is a new registration (not a refresh of a live one)."""
    now = now or utc_now()
    device = await uow.session.get(DeviceRow, device_id)
    if device is None:
        device = DeviceRow(device_id=device_id, type_code=parse_device_id(device_id).type_code)
    fresh = not (device.registered and device.online)
    device.registered = True
    device.register_expires_at = now + timedelta(seconds=expires_s)
    if fresh:
        device.registered_at = now
    _seen(device, peer, now)
    await set_device_online(uow, device, True, "register", now)
    return fresh


async def unregister(uow: UnitOfWork, device_id: str, now: datetime | None = None) -> bool:
    now = now or utc_now()
    device = await uow.session.get(DeviceRow, device_id)
    if device is None:
        return False
    device.registered = False
    device.register_expires_at = None
    await set_device_online(uow, device, False, "unregister", now)
    return True


def _seen(device: DeviceRow, peer: Peer, now: datetime) -> None:
    device.transport, device.host, device.port = peer.transport, peer.host, peer.port
    device.last_seen_at = now


async def registered_device(uow: UnitOfWork, device_id: str) -> DeviceRow | None:
    device = await uow.session.get(DeviceRow, device_id)
    return device if device is not None and device.registered else None


async def keepalive(uow: UnitOfWork, device_id: str, peer: Peer, now: datetime | None = None) -> bool:
    """A keepalive from a registered device; False if the device is not registered."""
    now = now or utc_now()
    device = await registered_device(uow, device_id)
    if device is None:
        return False
    _seen(device, peer, now)
    device.last_keepalive_at = now
    await set_device_online(uow, device, True, "keepalive", now)
    return True


async def record_seen(uow: UnitOfWork, seen: dict[str, tuple[Peer, datetime]]) -> None:
    """Keepalives of devices already online, written in one batch: last-seen time and the
    address they came from. (A device that is not online takes ``keepalive`` instead.)"""
    if not seen:
        return
    table = DeviceRow.__table__  # type: ignore[attr-defined]
    statement = (
        sa.update(table)
        .where(table.c.device_id == sa.bindparam("b_device_id"), table.c.registered.is_(True))
        .values(
            last_seen_at=sa.bindparam("b_seen"),
            last_keepalive_at=sa.bindparam("b_seen"),
            transport=sa.bindparam("b_transport"),
            host=sa.bindparam("b_host"),
            port=sa.bindparam("b_port"),
        )
    )
    rows = [
        {
            "b_device_id": device_id,
            "b_seen": at,
            "b_transport": peer.transport,
            "b_host": peer.host,
            "b_port": peer.port,
        }
        for device_id, (peer, at) in seen.items()
    ]
    connection = await uow.session.connection()  # core executemany in the session's transaction
    await connection.execute(statement, rows)


async def mark_timed_out(
    uow: UnitOfWork, *, interval_s: float, max_missed: int, now: datetime | None = None
) -> list[str]:
    """Devices silent for max_missed intervals, or whose registration expired, go offline."""
    now = now or utc_now()
    cutoff = now - timedelta(seconds=interval_s * max_missed)
    # Rows another instance's check holds are skipped (PostgreSQL): each device goes offline once.
    silent = (
        await uow.session.exec(
            select(DeviceRow)
            .where(col(DeviceRow.online).is_(True), col(DeviceRow.last_seen_at) < cutoff)
            .limit(1000)
            .with_for_update(skip_locked=True)
        )
    ).all()
    expired = (
        await uow.session.exec(
            select(DeviceRow)
            .where(col(DeviceRow.registered).is_(True), col(DeviceRow.register_expires_at) < now)
            .limit(1000)
            .with_for_update(skip_locked=True)
        )
    ).all()
    gone: list[str] = []
    for device in silent:
        if device.last_seen_at is not None and offline_deadline(device.last_seen_at, interval_s, max_missed) < now:
            await set_device_online(uow, device, False, "keepalive-timeout", now)
            gone.append(device.device_id)
    for device in expired:
        device.registered = False
        await set_device_online(uow, device, False, "unregister", now)
        gone.append(device.device_id)
    return gone


async def set_device_secret(uow: UnitOfWork, device: DeviceId, secret_ha1: str) -> None:
    """The device's own SIP secret (HA1); a device with a secret of its own is in the
    registry, so admitted (created if unknown)."""
    row = await uow.session.get(DeviceRow, device.value)
    if row is None:
        row = DeviceRow(device_id=device.value, type_code=device.type_code)
    row.known = True
    row.sip_ha1 = secret_ha1
    uow.session.add(row)
