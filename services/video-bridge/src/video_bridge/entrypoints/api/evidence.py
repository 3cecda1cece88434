"""/v1/evidence: find recordings of the channels near a case's place around its time, for the case.

The caller names only the case: its place and time are what the bridge learnt from the case's
CaseReceived (intake.cases.v1), never the caller's word. Attaching evidence needs
``evidence:attach``; a place-bound caller may attach only to a case in their places (the same
403 as for a case the bridge does not know), and only their places' channels are searched."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request, status

from govmesh_runtime import access
from video_bridge import case_work
from video_bridge.adapters.tables import KnownCaseRow
from video_bridge.domain.evidence import pages
from video_bridge.entrypoints.api.deps import EvidenceAttach, RuntimeDep, SipDep, refusals
from video_bridge.entrypoints.api.schemas import EvidencePublic, EvidenceRequest, RecordingPublic

router = APIRouter(prefix="/v1/evidence", tags=["evidence"], responses=refusals(400, 401, 403, 404, 422))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Find and attach video evidence to a case")
async def request_evidence(
    body: EvidenceRequest, request: Request, caller: EvidenceAttach, runtime: RuntimeDep, sip: SipDep
) -> EvidencePublic:
    async with runtime.db.sessions() as session:
        case = await session.get(KnownCaseRow, body.case_id)
    await access.guard_place(
        request,
        caller,
        resource="case",
        resource_id=str(body.case_id),
        place=case.grid_code if case else None,
        found=case is not None,
    )
    assert case is not None
    if case.lat is None or case.lon is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="case_id: the case has no location, and evidence is searched around a point",
        )
    settings = request.app.state.case_work.settings
    row = await case_work.search_case(
        runtime,
        sip,
        settings,
        case,
        places=access.place_filter(caller),
        record_type=body.record_type,
        requested_by=caller.subject,
    )
    recordings = json.loads(row.recordings_json)
    return EvidencePublic(
        evidence_id=row.evidence_id,
        case_id=row.case_id,
        channel_ids=json.loads(row.channel_ids),
        recordings=[RecordingPublic(**r) for r in recordings],
        unanswered_channel_ids=json.loads(row.unanswered_json),
        attached_at=row.attached_at,
        window_start=row.window_start,
        window_end=row.window_end,
        radius_m=row.radius_m,
        pages=len(pages(recordings, settings.evidence_page_size)) if recordings else 1,
    )
