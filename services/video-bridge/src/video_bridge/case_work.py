"""What the bridge does for cases by itself, and the evidence search it shares with the API.

- Evidence follows the case: a case learnt from intake's CaseReceived that wants evidence (a
  video alarm's case, a configured matter) is searched once its window has passed — channels
  near the case's point, a RecordInfo query to each, EvidenceAttached in pages.
- A dead camera is a case: a channel offline longer than ``fault_after_s`` gets one fault
  (ChannelFaultOpened; intake opens the maintenance case), cleared when it is back.

Both run in one background job every ``case_work_interval_s`` on ``clock``, which tests move
instead of waiting. Every event goes through the outbox in the transaction that records it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.clock import Clock, system_clock
from govmesh_kit.distances import distance_m
from govmesh_runtime.app import Runtime
from govmesh_runtime.logging import get_logger
from video_bridge import handlers
from video_bridge.adapters.places import within
from video_bridge.adapters.tables import ChannelRow, EvidenceRow, KnownCaseRow
from video_bridge.domain.evidence import bounding_box, window_around
from video_bridge.domain.manscdp import RecordItem, format_time
from video_bridge.settings import VideoBridgeSettings
from video_bridge.sip_server import QueryFailed, SipServer

log = get_logger(__name__)

MAX_CHANNELS = 20


@dataclass(frozen=True)
class Found:
    """What one search found: the channels asked, their recordings, who did not answer."""

    channels: list[ChannelRow]
    recordings: list[RecordItem]
    unanswered: list[str]


async def nearest_channels(
    session: AsyncSession, *, lat: float, lon: float, radius_m: float, places: tuple[str, ...] | None
) -> list[ChannelRow]:
    """The ≤ 20 channels nearest the point within ``radius_m`` (only ``places``' when given)."""
    min_lat, max_lat, min_lon, max_lon = bounding_box(lat, lon, radius_m)
    candidates = (
        await session.exec(
            select(ChannelRow).where(
                col(ChannelRow.lat).between(min_lat, max_lat),
                col(ChannelRow.lon).between(min_lon, max_lon),
                within(ChannelRow.grid_code, places),
            )
        )
    ).all()
    near = [c for c in candidates if distance_m(lat, lon, c.lat or 0.0, c.lon or 0.0) <= radius_m]
    return sorted(near, key=lambda c: distance_m(lat, lon, c.lat or 0.0, c.lon or 0.0))[:MAX_CHANNELS]


async def query_recordings(
    sip: SipServer, channels: Sequence[ChannelRow], start: datetime, end: datetime, record_type: str
) -> Found:
    """RecordInfo to each channel's device, in parallel; a device that does not answer is named."""

    async def records_of(channel: ChannelRow) -> list[RecordItem] | None:
        try:
            items: list[RecordItem] = await sip.send_query(
                channel.device_id,
                "RecordInfo",
                target_id=channel.channel_id,
                fields=[
                    ("StartTime", format_time(start)),
                    ("EndTime", format_time(end)),
                    ("Secrecy", "0"),
                    ("Type", record_type),
                ],
            )
        except QueryFailed:
            return None
        return items

    answers = await asyncio.gather(*(records_of(c) for c in channels))
    return Found(
        channels=list(channels),
        recordings=[r for answer in answers if answer for r in answer],
        unanswered=[c.channel_id for c, answer in zip(channels, answers, strict=True) if answer is None],
    )


async def search_case(
    runtime: Runtime,
    sip: SipServer,
    settings: VideoBridgeSettings,
    case: KnownCaseRow,
    *,
    places: tuple[str, ...] | None,
    record_type: str,
    requested_by: str,
) -> EvidenceRow:
    """Search around the case's own point and time, attach what was found (events in pages)."""
    assert case.lat is not None and case.lon is not None
    start, end = window_around(case.received_at, settings.evidence_before_s, settings.evidence_after_s)
    async with runtime.db.sessions() as session:
        channels = await nearest_channels(
            session, lat=case.lat, lon=case.lon, radius_m=settings.evidence_radius_m, places=places
        )
    found = await query_recordings(sip, channels, start, end, record_type)
    async with runtime.uow() as uow:
        row = await handlers.attach_evidence(
            uow,
            case_id=case.case_id,
            lat=case.lat,
            lon=case.lon,
            radius_m=settings.evidence_radius_m,
            start=start,
            end=end,
            channels=found.channels,
            recordings=found.recordings,
            unanswered=found.unanswered,
            requested_by=requested_by,
            page_size=settings.evidence_page_size,
        )
        if requested_by == handlers.BRIDGE:
            own = await uow.session.get(KnownCaseRow, case.case_id)
            if own is not None:
                own.evidence_done_at = row.attached_at
                uow.session.add(own)
        await uow.commit()
    return row


class CaseWork:
    """The background job: dead cameras' faults, due evidence searches, forgetting old cases."""

    def __init__(self, settings: VideoBridgeSettings, sip: Callable[[], SipServer | None]) -> None:
        self.settings = settings
        self._sip = sip
        self.clock: Clock = system_clock
        self.runtime: Runtime | None = None

    async def run(self, runtime: Runtime) -> None:
        self.runtime = runtime
        while True:
            await asyncio.sleep(self.settings.case_work_interval_s)
            try:
                await self.check_faults()
                await self.search_due_evidence()
                await self.forget_old_cases()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("case_work_failed", error=repr(exc))

    def _runtime(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the case work job has not started")
        return self.runtime

    async def check_faults(self) -> tuple[list[str], list[str]]:
        """Open faults of channels dead too long, clear those back; (opened, cleared) channel ids."""
        if self.settings.fault_after_s <= 0:
            return [], []
        now = self.clock()
        async with self._runtime().uow() as uow:
            cleared = await handlers.clear_faults(uow, now=now)
            opened = await handlers.open_faults(uow, offline_after_s=self.settings.fault_after_s, now=now)
            await uow.commit()
        if opened or cleared:
            log.info("channel_faults", opened=len(opened), cleared=len(cleared), channels=(opened + cleared)[:20])
        return opened, cleared

    async def search_due_evidence(self) -> int:
        """Search for every case whose window has passed; returns how many were searched."""
        sip = self._sip()
        if sip is None:
            return 0
        runtime = self._runtime()
        lease = self.settings.query_timeout_s * 3 + 30
        async with runtime.uow() as uow:
            claimed = await handlers.claim_evidence_searches(
                uow, now=self.clock(), lease_s=lease, max_attempts=self.settings.evidence_max_attempts
            )
            await uow.commit()
        for case in claimed:
            try:
                await search_case(
                    runtime, sip, self.settings, case, places=None, record_type="all", requested_by=handlers.BRIDGE
                )
            except Exception as exc:  # tried again when the lease ends, up to evidence_max_attempts
                log.warning("evidence_search_failed", case_id=str(case.case_id), error=repr(exc))
        return len(claimed)

    async def forget_old_cases(self) -> int:
        before = self.clock() - timedelta(days=self.settings.case_retention_days)
        async with self._runtime().uow() as uow:
            forgotten = await handlers.forget_old_cases(uow, before=before)
            await uow.commit()
        return forgotten
