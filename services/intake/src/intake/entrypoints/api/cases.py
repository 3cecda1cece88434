"""/v1/cases: accept a matter as a case, follow it, list and search, resident feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status

from govmesh_runtime import access, finite
from govmesh_runtime.auth import Principal
from govmesh_runtime.problems import refusals
from govmesh_runtime.roles import Scope
from intake.adapters.repository import CaseFilter, SqlCaseRepository
from intake.domain.cases import CancelNotAllowed, CaseStatus, Channel
from intake.domain.commands import AcceptCase, CancelCase, GiveFeedback, Reporter
from intake.domain.messages import t
from intake.entrypoints.api.examples import (
    CASE_EXAMPLE,
    ERROR_400,
    ERROR_422,
    LINKED_DESCRIPTION,
    LINKED_EXAMPLE,
    example,
)
from intake.entrypoints.api.schemas import (
    IDEMPOTENCY_KEY_MAX,
    CaseCancel,
    CaseCreate,
    CaseCreated,
    CasePage,
    CasePublic,
    CaseSummary,
    ErasureRequest,
    FeedbackCreate,
    ReportLinked,
)
from intake.entrypoints.api.views import (
    POLICING_SCOPE,
    Manager,
    Reader,
    RuntimeDep,
    Writer,
    accept,
    case_public,
    change_audit,
    check_grid,
    find_case,
    guard,
    load_case,
    load_linked,
    may_see_personal_data,
    own_grid,
    settings_of,
    shown,
    summary_view,
)
from intake.handlers.cases import (
    CaseNotFound,
    FeedbackNotAllowed,
    IdempotencyConflict,
    Outcome,
    ReportInvalid,
    cancel_case,
    give_feedback,
)
from intake.handlers.erasure import erase_personal_data

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=refusals(401, 403))


def _invalid(exc: ReportInvalid) -> HTTPException:
    detail = [{"loc": ["body", *loc], "msg": msg, "type": "value_error"} for loc, msg in exc.errors.items()]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


def command_from(body: CaseCreate, idempotency_key: str | None, places: tuple[str, ...] = ()) -> AcceptCase:
    reporter = None
    if body.reporter is not None:
        reporter = Reporter(name=body.reporter.name, phone=body.reporter.phone, id_number=body.reporter.id_number)
    return AcceptCase(
        matter_code=body.matter_code,
        description=body.description,
        channel=body.channel,
        lat=body.lat,
        lon=body.lon,
        address=body.address,
        idempotency_key=idempotency_key,
        reporter=reporter,
        attachments=tuple(body.attachments),
        attributes=dict(body.attributes),
        grid_code=body.grid_code,
        places=places,
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Accept a matter as a case",
    description="A new case (201), or — when an open case of the same matter is near in place and time — the "
    "report is linked to that case (200, outcome `linked`: the reporter follows the original, no second case; "
    "the answer is their own report with a receipt and the case's public status, never another resident's "
    "description, attachments, attributes or the steps' notes). "
    "A retried request with the same `Idempotency-Key` answers what the first one did (200, outcome `retried`).",
    responses={
        201: example({**CASE_EXAMPLE, "outcome": "created", "notice": None}, "A new case."),
        200: example(LINKED_EXAMPLE, LINKED_DESCRIPTION),
        409: example(
            {"detail": "Idempotency-Key abc was used with a different request"},
            "The Idempotency-Key was used with a different request.",
        ),
        400: ERROR_400,
        422: ERROR_422,
    },
)
async def create_case(
    body: CaseCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    caller: Writer,
    idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX)] = None,
) -> CaseCreated | ReportLinked:
    # A grid worker's terminal (a caller bound to one grid) reports on its own grid when it names none.
    grid_code = body.grid_code or own_grid(caller)
    if body.lat is None and not body.address and grid_code is None:
        detail = t("error.location")
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[{"loc": ["body"], "msg": detail, "type": "value_error"}]
        )
    await check_grid(request, caller, grid_code)
    cmd = command_from(body.model_copy(update={"grid_code": grid_code}), idempotency_key, caller.places)
    try:
        accepted = await accept(runtime, cmd, request, caller)
    except ReportInvalid as exc:
        raise _invalid(exc) from exc
    except IdempotencyConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=t("error.idempotency", idempotency_key=str(exc))) from exc
    if accepted.outcome is not Outcome.CREATED:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = str(request.url_for("get_case", case_id=accepted.case_id))
    if accepted.link_id is not None:  # linked to another resident's case: what is theirs stays theirs
        return await load_linked(
            runtime, accepted.case_id, accepted.link_id, request, caller, outcome=accepted.outcome.value
        )
    if accepted.opened is not None:  # a new case: answer from the rows just committed
        opened = accepted.opened
        reveal, policing = may_see_personal_data(caller), caller.has(POLICING_SCOPE)
        view = case_public(opened.case, opened.timeline, opened.reporter, reveal=reveal, policing=policing)
        case = await shown(request, caller, view)
    else:
        case = await load_case(runtime, accepted.case_id, request, caller)
    notice = None
    if accepted.outcome is Outcome.LINKED:
        notice = f"Linked to open case {case.case_number} of the same matter nearby; you will follow that case."
    return CaseCreated(**case.model_dump(), outcome=accepted.outcome.value, notice=notice)


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    numbers = [n for n in (finite.finite(p) for p in value.split(",")) if n is not None]  # no "nan", "inf"
    if len(numbers) != 4 or len(value.split(",")) != 4:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {
                    "loc": ["query", "bbox"],
                    "msg": t("error.bbox"),
                    "type": "value_error",
                }
            ],
        )
    min_lon, min_lat, max_lon, max_lat = numbers
    if min_lon > max_lon or min_lat > max_lat:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["query", "bbox"], "msg": t("error.bbox_order"), "type": "value_error"}],
        )
    return min_lon, min_lat, max_lon, max_lat


@router.get(
    "",
    summary="List and search cases",
    description="Newest first. Filters combine with AND; comma lists combine with OR.",
    responses={
        200: example(
            {
                "items": [{k: v for k, v in CASE_EXAMPLE.items() if k in CaseSummary.model_fields}],
                "total": 1,
                "limit": 50,
                "offset": 0,
                "next_offset": None,
            },
            "One page of cases.",
        ),
        422: ERROR_422,
    },
)
async def list_cases(
    runtime: RuntimeDep,
    caller: Reader,
    status_: Annotated[
        str | None, Query(alias="status", description="Comma list of statuses.", examples=["received,in_progress"])
    ] = None,
    matter_code: Annotated[
        str | None, Query(description="Comma list of matter codes.", examples=["dispute.neighbour"])
    ] = None,
    channel: Annotated[str | None, Query(description="Comma list of channels.", examples=["hotline"])] = None,
    received_from: Annotated[datetime | None, Query(description="Received at or after (ISO 8601).")] = None,
    received_to: Annotated[datetime | None, Query(description="Received at or before (ISO 8601).")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Text in description, address or case number.")
    ] = None,
    bbox: Annotated[
        str | None, Query(description="min_lon,min_lat,max_lon,max_lat", examples=["100.40,38.90,100.50,38.96"])
    ] = None,
    grid: Annotated[
        str | None,
        Query(
            pattern=r"^(\d{6}|\d{9}|\d{12}|\d{15})$",
            description="A grid (15 digits) or a county, township or community code (6, 9, 12 digits): the cases "
            "in it. Within the caller's places only, as every filter.",
            examples=["620702001001001"],
        ),
    ] = None,
    overdue: Annotated[
        bool,
        Query(description="Only open cases (received, dispatched, in progress) past their deadline (due_at) now."),
    ] = False,
    due_before: Annotated[
        datetime | None,
        Query(description="Only open cases whose deadline is before this time (ISO 8601 with a zone)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CasePage:
    statuses, channels = _csv(status_), _csv(channel)
    errors = []
    for s in statuses:
        if s not in CaseStatus.__members__.values():
            errors.append({"loc": ["query", "status"], "msg": t("error.status", value=s), "type": "value_error"})
    for c in channels:
        if c not in Channel.__members__.values():
            errors.append({"loc": ["query", "channel"], "msg": t("error.channel", value=c), "type": "value_error"})
    if due_before is not None and due_before.tzinfo is None:
        errors.append({"loc": ["query", "due_before"], "msg": t("error.timezone"), "type": "value_error"})
    if errors:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=errors)
    limit = min(limit, settings_of(runtime).page_size_max)
    # overdue=true is due_before=now; both given, the earlier bound holds
    deadline = datetime.now(UTC) if overdue else None
    if due_before is not None:
        deadline = min(deadline, due_before) if deadline is not None else due_before
    f = CaseFilter(
        statuses=statuses,
        matter_codes=_csv(matter_code),
        channels=channels,
        received_from=received_from,
        received_to=received_to,
        text=q,
        bbox=_bbox(bbox),
        places=access.place_filter(caller),
        grid=grid,
        due_before=deadline,
    )
    async with runtime.db.sessions() as session:
        rows, total = await SqlCaseRepository(session).search(f, limit=limit, offset=offset)
    return CasePage(
        items=[summary_view(r) for r in rows],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < total else None,
    )


@router.get(
    "/{case_id}",
    summary="A case with its full timeline",
    name="get_case",
    responses={
        200: example(CASE_EXAMPLE, "The case."),
        404: example({"detail": "case … not found"}, "No such case."),
    },
)
async def get_case(case_id: UUID, request: Request, runtime: RuntimeDep, caller: Reader) -> CasePublic:
    return await load_case(runtime, case_id, request, caller)


@router.post(
    "/{case_id}/feedback",
    status_code=status.HTTP_202_ACCEPTED,
    summary="The resident's feedback on a resolved case",
    description="Only on a resolved case, once per resolution. Publishes CaseFeedbackGiven: dispatch closes the "
    "case, or reopens it when `solved` is false.",
    responses={
        202: example(
            {**CASE_EXAMPLE, "status": "resolved", "satisfaction": 5}, "Feedback taken; dispatch closes or reopens."
        ),
        404: example({"detail": "case … not found"}, "No such case."),
        409: example(
            {"detail": "feedback is taken only on a resolved case; this case is in_progress"},
            "The case is not awaiting feedback.",
        ),
        400: ERROR_400,
        422: ERROR_422,
    },
)
async def post_feedback(
    case_id: UUID, body: FeedbackCreate, request: Request, runtime: RuntimeDep, caller: Writer
) -> CasePublic:
    await guard(request, caller, case_id, await find_case(runtime, case_id))
    try:
        async with runtime.uow() as uow:
            await give_feedback(
                case_id, GiveFeedback(satisfaction=body.satisfaction, solved=body.solved, comment=body.comment), uow
            )
            await uow.commit()
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=t("error.case_not_found", case_id=str(case_id))) from exc
    except FeedbackNotAllowed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return await load_case(runtime, case_id, request, caller)


@router.post(
    "/{case_id}/cancel",
    summary="A centre cancels the whole case: withdrawn by the resident, a mis-report, or merged into another",
    description="Sets the case cancelled (Open311: closed, the reason in status_notes) and publishes CaseCancelled: "
    "dispatch cancels every open task and each holder (grid worker, mediation, policing, department) closes its "
    "file. The actor is the credential's subject. Needs `cases:manage`.",
    responses={
        200: example({**CASE_EXAMPLE, "status": "cancelled"}, "The case, cancelled."),
        404: example({"detail": "case … not found"}, "No such case."),
        409: example(
            {"detail": "only an open case can be cancelled; this case is resolved"}, "The case is no longer open."
        ),
        400: ERROR_400,
        422: ERROR_422,
    },
)
async def post_cancel(
    case_id: UUID, body: CaseCancel, request: Request, runtime: RuntimeDep, caller: Manager
) -> CasePublic:
    await guard(request, caller, case_id, await find_case(runtime, case_id))
    if body.merged_into is not None:  # the case merged into must be within the caller's places too
        await guard(request, caller, body.merged_into, await find_case(runtime, body.merged_into))
    cmd = CancelCase(reason=body.reason, by=caller.subject, merged_into=body.merged_into, note=body.note)
    try:
        async with runtime.uow() as uow:
            await cancel_case(case_id, cmd, uow)
            await uow.commit()
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=t("error.case_not_found", case_id=str(case_id))) from exc
    except CancelNotAllowed as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except ReportInvalid as exc:
        raise _invalid(exc) from exc
    return await load_case(runtime, case_id, request, caller)


Eraser = Annotated[Principal, Depends(access.require(Scope.CASES_MANAGE, Scope.PERSONAL_DATA))]


@router.post(
    "/{case_id}/erasure",
    summary="Erase a resident's personal data from a case (the case stays as a tombstone)",
    description="For a centre or an administrator (cases:manage and personal-data), on the resident's request. "
    "The description, address, attributes, attachments, the reporters' name, phone and ID number, linked "
    "reports' text, timeline notes and the payloads of the case's sent events are erased; the case keeps its "
    "number, matter, status, times and grid. Audited with the reason, in the same transaction.",
    responses={404: example({"detail": "case … not found"}, "No such case."), 400: ERROR_400, 422: ERROR_422},
)
async def erase(
    case_id: UUID, body: ErasureRequest, request: Request, runtime: RuntimeDep, caller: Eraser
) -> CasePublic:
    await guard(request, caller, case_id, await find_case(runtime, case_id))
    try:
        async with runtime.uow() as uow:
            audit_change = change_audit(request, caller)
            await erase_personal_data(
                case_id, caller.subject, datetime.now(UTC), uow, reason=body.reason, audit_change=audit_change
            )
            await uow.commit()
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=t("error.case_not_found", case_id=str(case_id))) from exc
    return await load_case(runtime, case_id, request, caller)
