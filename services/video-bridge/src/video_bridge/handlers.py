"""Video-bridge's handlers: registry changes and the events they emit, one unit of work each.

Liveness truth is in the database (last_seen_at, online), never only in memory, so a
restart neither marks every device offline nor forgets a registration.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_contracts import (
    CaseReceived,
    ChannelFaultCleared,
    ChannelFaultOpened,
    ChannelStatusChanged,
    EvidenceAttached,
    EvidenceRecording,
    Location,
    VideoAlarmRaised,
)
from govmesh_kit.clock import system_clock
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters import metrics
from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.tables import AlarmRow, ChannelFaultRow, ChannelRow, DeviceRow, EvidenceRow, KnownCaseRow
from video_bridge.domain.device_id import parse_device_id
from video_bridge.domain.evidence import pages, wants_evidence
from video_bridge.domain.liveness import CATALOG_EVENTS_ONLINE, channel_online, offline_deadline
from video_bridge.domain.manscdp import AlarmNotice, CatalogItem, RecordItem
from video_bridge.settings import VideoBridgeSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class Peer:
    """Where a device's messages come from (recorded on every message: NAT rebinding)."""

    transport: str  # UDP | TCP
    host: str
    port: int


def _status_event(
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


def _set_channel_online(channel: ChannelRow, online: bool, now: datetime) -> None:
    """Online or not; an outage starts when an online channel goes offline (a channel that was
    never online, e.g. imported and never registered, is no outage: no fault is opened for it)."""
    if channel.online and not online:
        channel.offline_since = now
    elif online:
        channel.offline_since = None
    channel.online = online


async def _set_device_online(uow: UnitOfWork, device: DeviceRow, online: bool, reason: str, now: datetime) -> None:
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
                _status_event(device.device_id, device.device_id, online, "ON" if online else "OFF", None, reason, now)
            )
        return
    for channel in channels:
        now_online = channel_online(online, channel.status)
        if now_online != channel.online:
            _set_channel_online(channel, now_online, now)
            channel.updated_at = now
            uow.session.add(channel)
            uow.emit(
                _status_event(
                    channel.channel_id, device.device_id, now_online, channel.status, channel.grid_code, reason, now
                )
            )


async def is_admitted(uow: UnitOfWork, device_id: str, *, admit_unknown: bool, configured: Sequence[str]) -> bool:
    if admit_unknown or device_id in configured:
        return True
    device = await uow.session.get(DeviceRow, device_id)
    return device is not None and device.known


async def register(uow: UnitOfWork, device_id: str, peer: Peer, expires_s: int, now: datetime | None = None) -> bool:
    """A (re)registration; True if it is a new registration (not a refresh of a live one)."""
    now = now or system_clock()
    device = await uow.session.get(DeviceRow, device_id)
    if device is None:
        device = DeviceRow(device_id=device_id, type_code=parse_device_id(device_id).type_code)
    fresh = not (device.registered and device.online)
    device.registered = True
    device.register_expires_at = now + timedelta(seconds=expires_s)
    if fresh:
        device.registered_at = now
    _seen(device, peer, now)
    await _set_device_online(uow, device, True, "register", now)
    return fresh


async def unregister(uow: UnitOfWork, device_id: str, now: datetime | None = None) -> bool:
    now = now or system_clock()
    device = await uow.session.get(DeviceRow, device_id)
    if device is None:
        return False
    device.registered = False
    device.register_expires_at = None
    await _set_device_online(uow, device, False, "unregister", now)
    return True


def _seen(device: DeviceRow, peer: Peer, now: datetime) -> None:
    device.transport, device.host, device.port = peer.transport, peer.host, peer.port
    device.last_seen_at = now


async def registered_device(uow: UnitOfWork, device_id: str) -> DeviceRow | None:
    device = await uow.session.get(DeviceRow, device_id)
    return device if device is not None and device.registered else None


async def keepalive(uow: UnitOfWork, device_id: str, peer: Peer, now: datetime | None = None) -> bool:
    """A keepalive from a registered device; False if the device is not registered."""
    now = now or system_clock()
    device = await registered_device(uow, device_id)
    if device is None:
        return False
    _seen(device, peer, now)
    device.last_keepalive_at = now
    await _set_device_online(uow, device, True, "keepalive", now)
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
    now = now or system_clock()
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
            await _set_device_online(uow, device, False, "keepalive-timeout", now)
            gone.append(device.device_id)
    for device in expired:
        device.registered = False
        await _set_device_online(uow, device, False, "unregister", now)
        gone.append(device.device_id)
    return gone


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
    now = now or system_clock()
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
                        _status_event(channel.channel_id, device_id, False, "DEL", channel.grid_code, "catalog", now)
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
            _set_channel_online(channel, online, now)
            uow.emit(
                _status_event(channel.channel_id, device_id, online, channel.status, channel.grid_code, "catalog", now)
            )
        channel.updated_at = now
        uow.session.add(channel)
    return len(items)


def parse_device_id_or_none(value: str) -> str | None:
    try:
        return parse_device_id(value).value
    except ValueError:
        return None


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
    now = now or system_clock()
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


async def attach_evidence(
    uow: UnitOfWork,
    *,
    case_id: uuid.UUID,
    lat: float,
    lon: float,
    radius_m: float,
    start: datetime,
    end: datetime,
    channels: Sequence[ChannelRow],
    recordings: Sequence[RecordItem],
    unanswered: Sequence[str],
    requested_by: str,
    page_size: int,
    now: datetime | None = None,
) -> EvidenceRow:
    """One search's evidence: one row, and its recordings in EvidenceAttached events of at most
    ``page_size`` recordings each (a topic's record size is bounded)."""
    now = now or system_clock()
    by_id = {c.channel_id: c for c in channels}
    refs = [
        EvidenceRecording(
            channel_id=r.channel_id,
            device_id=by_id[r.channel_id].device_id,
            start_time=r.start_time,
            end_time=r.end_time,
            record_type=r.record_type,
            file_path=r.file_path[:500] if r.file_path else None,
        )
        for r in recordings
        if r.channel_id in by_id
    ]
    row = EvidenceRow(
        case_id=case_id,
        lat=lat,
        lon=lon,
        radius_m=radius_m,
        window_start=start,
        window_end=end,
        channel_ids=json.dumps([c.channel_id for c in channels]),
        recordings_json=json.dumps([r.model_dump(mode="json") for r in refs]),
        unanswered_json=json.dumps(list(unanswered)),
        attached_at=now,
        requested_by=requested_by[:200],
    )
    uow.session.add(row)
    split = pages(refs, page_size)
    for number, page in enumerate(split, start=1):
        uow.emit(
            EvidenceAttached(
                evidence_id=row.evidence_id,
                case_id=case_id,
                location=Location(lat=lat, lon=lon),
                radius_m=radius_m,
                window_start=start,
                window_end=end,
                channel_ids=[c.channel_id for c in channels],
                recordings=page,
                unanswered_channel_ids=list(unanswered),
                attached_at=now,
                page=number,
                page_count=len(split),
                requested_by=requested_by,
            )
        )
    return row


# --- cases learnt from intake (intake.cases.v1): evidence follows the case -----------------------

BRIDGE = "video-bridge"  # who asked, for a search the bridge makes by itself
# A bridge that starts reading intake.cases.v1 from its beginning learns every old case; it
# searches by itself only for cases of the last day, not for years of them at once.
SEARCH_CASES_SINCE = timedelta(days=1)


async def learn_case(
    event: CaseReceived, uow: UnitOfWork, *, settings: VideoBridgeSettings, grids: GridLocator
) -> None:
    """Remember where and when the case is (its place: the grid of its point, else the grid
    intake was given) and, for a video alarm's case or a configured matter, search by itself
    once the window after the case has passed."""
    if await uow.session.get(KnownCaseRow, event.case_id) is not None:
        return
    lat, lon = (event.location.lat, event.location.lon) if event.location else (None, None)
    await grids.get(uow.session)  # rebuilt first if another instance imported grids
    grid = grids.locate(lat, lon) or (event.grid_code[:32] if event.grid_code else None)
    wanted = (
        wants_evidence(event.channel, event.matter_code, settings.evidence_matters, settings.evidence_excluded_matters)
        and event.received_at >= system_clock() - SEARCH_CASES_SINCE
    )
    uow.session.add(
        KnownCaseRow(
            case_id=event.case_id,
            matter_code=event.matter_code[:64],
            channel=event.channel[:32],
            lat=lat,
            lon=lon,
            grid_code=grid,
            received_at=event.received_at,
            evidence_due_at=event.received_at + timedelta(seconds=settings.evidence_after_s)
            if wanted and lat is not None  # searched around a point: a case without one is not
            else None,
        )
    )


async def claim_evidence_searches(
    uow: UnitOfWork, *, now: datetime, lease_s: float, max_attempts: int, limit: int = 10
) -> list[KnownCaseRow]:
    """Cases whose own search is due, claimed for ``lease_s`` (another instance skips them; a
    search that died with its process is taken again when the lease ends)."""
    due = (
        await uow.session.exec(
            select(KnownCaseRow)
            .where(
                col(KnownCaseRow.evidence_due_at) <= now,
                col(KnownCaseRow.evidence_done_at).is_(None),
                sa.or_(
                    col(KnownCaseRow.evidence_claimed_until).is_(None), col(KnownCaseRow.evidence_claimed_until) < now
                ),
            )
            .order_by(col(KnownCaseRow.evidence_due_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    claimed: list[KnownCaseRow] = []
    for case in due:
        if case.evidence_attempts >= max_attempts:  # failed every time: given up, said in the log
            case.evidence_done_at = now
            log.warning("evidence_search_given_up", case_id=str(case.case_id), attempts=case.evidence_attempts)
        else:
            case.evidence_attempts += 1
            case.evidence_claimed_until = now + timedelta(seconds=lease_s)
            claimed.append(case)
        uow.session.add(case)
    return claimed


async def forget_old_cases(uow: UnitOfWork, *, before: datetime, limit: int = 1000) -> int:
    """Cases received before ``before`` are forgotten (bounded table); their evidence rows stay."""
    table = KnownCaseRow.__table__  # type: ignore[attr-defined]
    old = sa.select(table.c.case_id).where(table.c.received_at < before).limit(limit)
    result = await uow.session.exec(sa.delete(table).where(table.c.case_id.in_(old)))  # type: ignore[call-overload]
    return int(result.rowcount or 0)


# --- dead cameras (video.faults.v1) ----------------------------------------------------------------


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
