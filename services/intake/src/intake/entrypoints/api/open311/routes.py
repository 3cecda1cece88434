"""Open311 GeoReport v2 under /open311/v2, JSON and XML (format by suffix), by the spec.

Service requests are cases: ``service_request_id`` is the case number, the token of a
request is its case id, the service type is ``realtime`` (the id comes at once).
Errors use the spec's bodies: ``[{"code": 400, "description": "…"}]`` or
``<errors><error><code/><description/></error></errors>`` — refusals (401, 403) too.

As GeoReport v2 says, only POST needs a key: an API key issued with ``govmesh-auth api-key``
(``api_key`` in the query or the form, or ``X-API-Key``) or a bearer token, with scope
``cases:create``. Discovery, services and requests are public (``public_router``, each route
with an ``access.public`` dependency), unless the setting ``open311_keys_for_reads`` takes
them behind a key with ``cases:read``; a key that is sent on a read still counts (its places
apply). No answer carries a reporter's personal data, and resident ID and mobile numbers
typed into free text are masked. ``extensions=true`` adds the submitted attributes
(``extended_attributes``) and every media URL (``media_urls``; ``media_url`` is the first).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime import access
from govmesh_runtime.app import get_runtime
from govmesh_runtime.auth import Principal
from intake.adapters.repository import CaseFilter, SqlCaseRepository
from intake.adapters.tables import CaseRow
from intake.domain.taxonomy import MATTERS, matter
from intake.entrypoints.api.open311.forms import (
    POST_DOC,
    check_format,
    check_jurisdiction,
    command,
    date_window,
    field_name,
    parse_form,
    service_codes,
    statuses,
    whole_number,
)
from intake.entrypoints.api.open311.rendering import (
    CREATED_EXAMPLES,
    E400,
    E404,
    REFUSALS,
    REQUEST_EXAMPLE,
    Open311Error,
    definition_view,
    examples,
    key_service,
    render,
    render_errors,
    request_view,
    service_view,
)
from intake.entrypoints.api.schemas import IDEMPOTENCY_KEY_MAX
from intake.entrypoints.api.views import (
    POLICING_SCOPE,
    READ_SCOPE,
    RESOURCE,
    RuntimeDep,
    Writer,
    accept,
    check_grid,
    receipt_number,
    settings_of,
)
from intake.handlers.cases import IdempotencyConflict, Outcome, ReportInvalid
from intake.settings import IntakeSettings

PREFIX = "/open311/v2"
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-25T00:00:00Z"

FmtPath = Annotated[str, Path(description="Response format: json or xml.", examples=["xml"])]

router = APIRouter(prefix=PREFIX, tags=["open311"], responses=REFUSALS)  # POST: a key with cases:create
public_router = APIRouter(prefix=PREFIX, tags=["open311"], responses=REFUSALS)  # reads: no key needed


def _keys_for_reads(request: Request) -> bool:
    settings = get_runtime(request).settings
    return isinstance(settings, IntakeSettings) and settings.open311_keys_for_reads


# GeoReport v2: "Requires API Key: No" for every read. Public, unless the setting asks for a key
# with cases:read; a key that is sent is verified and its places apply.
OpenReader = Annotated[Principal | None, Depends(access.public(unless=_keys_for_reads, scope=READ_SCOPE))]
_EXTENSIONS = "true: also the submitted attributes (extended_attributes) and every media URL (media_urls)."


async def request_views(
    session: AsyncSession, cases: Sequence[CaseRow], *, policing: bool, extensions: bool
) -> list[dict[str, Any]]:
    """The requests of a page: two queries in all (the cases, read by the caller, and their timelines)."""
    timelines = await SqlCaseRepository(session).timelines([c.id for c in cases])
    return [request_view(c, timelines[c.id], policing=policing, extensions=extensions) for c in cases]


# --- endpoints ------------------------------------------------------------------------------


@public_router.get(
    "/discovery.{fmt}",
    summary="Discovery: where the endpoint is and what it speaks",
    response_class=Response,
    responses={200: examples("discovery", None, {"changeset": CHANGESET}, "The discovery document."), 404: E404},
)
async def discovery(fmt: FmtPath, request: Request, _: OpenReader) -> Response:
    try:
        fmt = check_format(fmt)
    except Open311Error as exc:
        return render_errors(fmt, exc)
    base = str(request.url_for("open311_services", fmt="xml")).rsplit("/", 1)[0] + "/"
    data = {
        "changeset": CHANGESET,
        "contact": "Zhangye governance centre (张掖市综治中心), 12345 hotline",
        "key_service": key_service(settings_of(get_runtime(request))),
        "endpoints": [
            {
                "specification": SPEC,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", None, data)


@public_router.get(
    "/services.{fmt}",
    name="open311_services",
    summary="Service list: the one-door matters",
    response_class=Response,
    responses={200: examples("services", "service", [service_view(MATTERS[2])], "The services."), 404: E404},
)
async def services(fmt: FmtPath, runtime: RuntimeDep, _: OpenReader, jurisdiction_id: str | None = None) -> Response:
    try:
        fmt = check_format(fmt)
        check_jurisdiction(settings_of(runtime), jurisdiction_id)
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "services", "service", [service_view(m) for m in MATTERS])


@public_router.get(
    "/services/{service_code}.{fmt}",
    summary="Service definition: the matter's attributes",
    response_class=Response,
    responses={
        200: examples("service_definition", None, definition_view(MATTERS[2]), "The service definition."),
        404: E404,
    },
)
async def service_definition(
    service_code: str, fmt: FmtPath, runtime: RuntimeDep, _: OpenReader, jurisdiction_id: str | None = None
) -> Response:
    try:
        fmt = check_format(fmt)
        check_jurisdiction(settings_of(runtime), jurisdiction_id)
        found = matter(service_code)
        if found is None:
            raise Open311Error(404, f"service_code {service_code!r} not found")
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "service_definition", None, definition_view(found))


@router.post(
    "/requests.{fmt}",
    summary="Create a service request (a case)",
    response_class=Response,
    status_code=201,
    openapi_extra=POST_DOC,
    responses={
        **CREATED_EXAMPLES,
        400: E400,
        404: E404,
    },
)
async def create_request(
    fmt: FmtPath,
    request: Request,
    runtime: RuntimeDep,
    caller: Writer,
    idempotency_key: Annotated[str | None, Header(max_length=IDEMPOTENCY_KEY_MAX)] = None,
) -> Response:
    settings = settings_of(runtime)
    try:
        fmt = check_format(fmt)
        fields = parse_form(await request.body(), request.headers.get("content-type", ""))
        check_jurisdiction(settings, dict(fields).get("jurisdiction_id"))
        cmd, account_id = command(fields, idempotency_key, caller.places)
        await check_grid(request, caller, cmd.grid_code)  # a refusal: 403 in the spec's format
        try:
            accepted = await accept(runtime, cmd, request, caller)
        except ReportInvalid as exc:
            not_finite = any("finite number" in msg for msg in exc.errors.values())  # 422, as in every service
            errors = (f"{field_name(loc)}: {msg}" for loc, msg in exc.errors.items())
            raise Open311Error(422 if not_finite else 400, *errors) from exc
        except IdempotencyConflict as exc:
            raise Open311Error(400, f"Idempotency-Key {exc} was used with a different request") from exc
    except Open311Error as exc:
        return render_errors(fmt, exc)
    if accepted.opened is not None:  # a new request: its number is in the row just committed
        case: CaseRow | None = accepted.opened.case
    else:
        async with runtime.db.sessions() as session:
            case = await SqlCaseRepository(session).get(accepted.case_id)
    assert case is not None
    notice = None
    if accepted.link_id is not None:  # the caller's own receipt and the request to follow; nothing of the others'
        notice = (
            f"Your report {receipt_number(case, accepted.link_id)} is linked to open request {case.case_number} "
            "of the same service nearby; you will follow it."
        )
    answer = [{"service_request_id": case.case_number, "service_notice": notice, "account_id": account_id}]
    return render(fmt, "service_requests", "request", answer, 201 if accepted.outcome is Outcome.CREATED else 200)


@public_router.get(
    "/requests.{fmt}",
    summary="Service requests, by the spec's filters",
    description="service_request_id (comma list) overrides every other filter. Without dates: the last 90 days. "
    "start_date and end_date may not be more than 90 days apart. At most 1,000 requests; `page` and "
    "`page_size` (extension) page through them.",
    response_class=Response,
    responses={
        200: examples("service_requests", "request", [REQUEST_EXAMPLE], "The requests, newest first."),
        400: E400,
        404: E404,
    },
)
async def list_requests(
    fmt: FmtPath,
    runtime: RuntimeDep,
    caller: OpenReader,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
    page: str | None = None,
    page_size: str | None = None,
    extensions: Annotated[str | None, Query(description=_EXTENSIONS)] = None,
) -> Response:
    settings = settings_of(runtime)
    try:
        fmt = check_format(fmt)
        check_jurisdiction(settings, jurisdiction_id)
        size = whole_number("page_size", page_size, settings.open311_max_requests, 1, settings.open311_max_requests)
        number = whole_number("page", page, 1, 1, 1_000_000)
        if service_request_id:
            ids = [v.strip() for v in service_request_id.split(",") if v.strip()]
            f = CaseFilter(case_numbers=ids, places=_places(caller))
        else:
            start, end = date_window(start_date, end_date, datetime.now(UTC))
            codes = service_codes(service_code)
            f = CaseFilter(
                matter_codes=codes,
                statuses=statuses(status),
                received_from=start,
                received_to=end,
                places=_places(caller),
            )
    except Open311Error as exc:
        return render_errors(fmt, exc)
    async with runtime.db.sessions() as session:
        rows, _ = await SqlCaseRepository(session).search(f, limit=size, offset=(number - 1) * size)
        data = await request_views(session, rows, policing=_policing(caller), extensions=extensions == "true")
    return render(fmt, "service_requests", "request", data)


@public_router.get(
    "/requests/{service_request_id}.{fmt}",
    summary="One service request with its status notes",
    response_class=Response,
    responses={
        200: examples("service_requests", "request", [REQUEST_EXAMPLE], "The request (a list of one)."),
        404: E404,
    },
)
async def get_request(
    service_request_id: str,
    fmt: FmtPath,
    request: Request,
    runtime: RuntimeDep,
    caller: OpenReader,
    jurisdiction_id: str | None = None,
    extensions: Annotated[str | None, Query(description=_EXTENSIONS)] = None,
) -> Response:
    try:
        fmt = check_format(fmt)
        check_jurisdiction(settings_of(runtime), jurisdiction_id)
        async with runtime.db.sessions() as session:
            found = await SqlCaseRepository(session).by_number(service_request_id)
        # Outside the read: a refusal is audited in a transaction of its own.
        case = await _guard(request, caller, service_request_id, found, f"service_request_id {service_request_id!r}")
        async with runtime.db.sessions() as session:
            data = await request_views(session, [case], policing=_policing(caller), extensions=extensions == "true")
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "service_requests", "request", data)


@public_router.get(
    "/tokens/{token}.{fmt}",
    summary="The service request id of a token",
    response_class=Response,
    responses={
        200: examples(
            "service_requests",
            "request",
            [{"service_request_id": "620702-20261125-000042", "token": "0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10"}],
            "The request id.",
        ),
        404: E404,
    },
)
async def get_token(
    token: str,
    fmt: FmtPath,
    request: Request,
    runtime: RuntimeDep,
    caller: OpenReader,
    jurisdiction_id: str | None = None,
) -> Response:
    try:
        fmt = check_format(fmt)
        check_jurisdiction(settings_of(runtime), jurisdiction_id)
        try:
            case_id: uuid.UUID | None = uuid.UUID(token)
        except ValueError:
            case_id = None
        case = None
        if case_id is not None:
            async with runtime.db.sessions() as session:
                case = await SqlCaseRepository(session).get(case_id)
        case = await _guard(request, caller, token, case, f"token {token!r}")
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "service_requests", "request", [{"service_request_id": case.case_number, "token": token}])


def _places(caller: Principal | None) -> tuple[str, ...] | None:
    """Where a read may look: everywhere for the public, a key's places when one is sent."""
    return access.place_filter(caller) if caller is not None else None


def _policing(caller: Principal | None) -> bool:
    return caller is not None and caller.has(POLICING_SCOPE)


async def _guard(
    request: Request, caller: Principal | None, resource_id: str, case: CaseRow | None, what: str
) -> CaseRow:
    """The case if the caller's places cover it; a missing one is the spec's 404 for callers
    not bound to places (the public too), and for place-bound callers the same 403 as a case outside them."""
    if case is None and (caller is None or not caller.places):
        raise Open311Error(404, f"{what} not found")
    if caller is None:
        assert case is not None
        return case
    await access.guard_place(
        request,
        caller,
        resource=RESOURCE,
        resource_id=resource_id,
        place=case.grid_code if case else None,
        found=case is not None,
    )
    assert case is not None
    return case
