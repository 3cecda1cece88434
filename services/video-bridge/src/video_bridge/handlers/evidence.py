"""Evidence: recordings near a case attached to it, and the cases learnt from intake
(intake.cases.v1) that the bridge searches recordings for by itself."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_contracts import CaseReceived, EvidenceAttached, EvidenceRecording, Location
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.tables import ChannelRow, EvidenceRow, KnownCaseRow
from video_bridge.domain.evidence import pages, wants_evidence
from video_bridge.domain.manscdp import RecordItem
from video_bridge.handlers.common import utc_now
from video_bridge.settings import VideoBridgeSettings

log = get_logger(__name__)


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
    now = now or utc_now()
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
        and event.received_at >= utc_now() - SEARCH_CASES_SINCE
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
