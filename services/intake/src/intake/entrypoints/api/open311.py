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

import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException

from govmesh_kit.masking import mask_personal_data
from govmesh_runtime import access, finite
from govmesh_runtime.app import get_runtime
from govmesh_runtime.auth import Principal
from intake.adapters.repository import CaseFilter, SqlCaseRepository
from intake.adapters.tables import CaseRow, TimelineEntryRow
from intake.domain.cases import CLOSED_STATUSES, OPEN_STATUSES, CaseStatus, Channel, open311_status
from intake.domain.commands import AcceptCase, Reporter
from intake.domain.messages import t as worded
from intake.domain.taxonomy import MATTERS, Matter, matter
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
    step_note,
)
from intake.handlers import IdempotencyConflict, Outcome, ReportInvalid
from intake.settings import IntakeSettings

PREFIX = "/open311/v2"
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-25T00:00:00Z"
_PLURAL_TO_ITEM = {
    "attributes": "attribute",
    "media_urls": "media_url",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}
_GRID_CODE = re.compile(r"^[0-9]{15}$")
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_MAX_RANGE = timedelta(days=90)

FmtPath = Annotated[str, Path(description="Response format: json or xml.", examples=["xml"])]


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions


# --- rendering ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _iso(value)
    return str(value)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    child = ET.SubElement(parent, tag)
    if value is None:
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            _append(child, key, item)
    elif isinstance(value, list):
        for item in value:
            _append(child, _PLURAL_TO_ITEM.get(tag, "item"), item)
    else:
        child.text = _text(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def render(fmt: str, root: str, item: str | None, data: Any, status: int = 200) -> Response:
    """A list under ``<root><item/>…</root>`` (or a JSON array), or one object as ``<root>`` (JSON object)."""
    if fmt == "json":
        return JSONResponse(_jsonable(data), status_code=status, media_type=FORMATS["json"])
    top = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _append(top, key, value)
    else:
        for entry in data:
            _append(top, item, entry)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8", xml_declaration=False)
    return Response(body, status_code=status, media_type=FORMATS["xml"])


def render_errors(fmt: str, error: Open311Error) -> Response:
    errors = [{"code": error.status, "description": d} for d in error.descriptions]
    return render(fmt if fmt in FORMATS else "xml", "errors", "error", errors, error.status)


async def http_errors(request: Request, exc: Exception) -> Response:
    """HTTP errors raised before or around an Open311 endpoint (a refused credential, a
    refused place) in the spec's error format, XML for ``.xml`` and JSON for ``.json``."""
    assert isinstance(exc, HTTPException)
    fmt = "json" if request.url.path.endswith(".json") else "xml"
    answer = render_errors(fmt, Open311Error(exc.status_code, str(exc.detail)))
    answer.headers.update(exc.headers or {})
    return answer


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt!r}: use .json or .xml")
    return fmt


def _jurisdiction(settings: IntakeSettings, value: str | None) -> None:
    if value and value != settings.open311_jurisdiction_id:
        raise Open311Error(
            404, f"jurisdiction_id {value!r} not found (this endpoint serves {settings.open311_jurisdiction_id})"
        )


# --- views ----------------------------------------------------------------------------------


def service_view(m: Matter) -> dict[str, Any]:
    return {
        "service_code": m.code,
        "service_name": m.name_zh,
        "description": f"{m.name_en}: {m.description}",
        "metadata": bool(m.attributes),
        "type": "realtime",
        "keywords": ", ".join(m.keywords),
        "group": m.group,
    }


def definition_view(m: Matter) -> dict[str, Any]:
    return {
        "service_code": m.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype.value,
                "required": a.required,
                "datatype_description": a.datatype_description or None,
                "order": i,
                "description": a.description,
                "values": [{"key": k, "name": n} for k, n in a.values],
            }
            for i, a in enumerate(m.attributes, start=1)
        ],
    }


def status_notes(timeline: Sequence[TimelineEntryRow], *, policing: bool) -> str:
    """Every step in order: when, who holds the case, what happened (police details only with policing)."""
    lines = []
    for t in timeline:
        note = step_note(t, policing=policing)
        lines.append(f"{_iso(t.at)} {t.kind} — {t.actor}" + (f": {mask_personal_data(note)}" if note else ""))
    return "\n".join(lines)


async def request_views(
    session: AsyncSession, cases: Sequence[CaseRow], *, policing: bool, extensions: bool
) -> list[dict[str, Any]]:
    """The requests of a page: two queries in all (the cases, read by the caller, and their timelines)."""
    timelines = await SqlCaseRepository(session).timelines([c.id for c in cases])
    return [request_view(c, timelines[c.id], policing=policing, extensions=extensions) for c in cases]


def request_view(
    case: CaseRow, timeline: Sequence[TimelineEntryRow], *, policing: bool, extensions: bool
) -> dict[str, Any]:
    """A request as GeoReport v2 shows it, to anyone: never the reporter (name, phone, ID)."""
    m = matter(case.matter_code)
    attachments: list[str] = json.loads(case.attachments_json or "[]")
    view: dict[str, Any] = {
        "service_request_id": case.case_number,
        "status": open311_status(CaseStatus(case.status)),
        "status_notes": status_notes(timeline, policing=policing),
        "service_name": m.name_zh if m else case.matter_code,
        "service_code": case.matter_code,
        "description": mask_personal_data(case.description),
        "agency_responsible": case.handled_by,
        "service_notice": _notice(case),
        "requested_datetime": case.received_at,
        "updated_datetime": case.updated_at,
        "expected_datetime": case.due_at,
        "address": case.address,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lon,
        "media_url": attachments[0] if attachments else None,
    }
    if extensions:  # the extensions the GeoReport community uses: what was submitted beyond the spec
        view["extended_attributes"] = json.loads(case.attributes_json or "{}")
        view["media_urls"] = attachments
    return view


def _notice(case: CaseRow) -> str | None:
    if case.linked_reports:
        return worded("notice.linked", reports=case.linked_reports)
    return None


# --- examples for the OpenAPI document ----------------------------------------------------------

_REQUEST_EXAMPLE = {
    "service_request_id": "620702-20261125-000042",
    "status": "open",
    "status_notes": "2026-11-25T08:30:00Z received — centre:620702: accepted via open311\n"
    "2026-11-25T08:30:02Z dispatched — centre:620700: grid 620702001001",
    "service_name": "邻里纠纷",
    "service_code": "dispute.neighbour",
    "description": "Water leaks from the flat above.",
    "agency_responsible": "centre:620700",
    "service_notice": None,
    "requested_datetime": "2026-11-25T08:30:00Z",
    "updated_datetime": "2026-11-25T08:30:02Z",
    "expected_datetime": "2026-12-10T08:30:00Z",
    "address": None,
    "address_id": None,
    "zipcode": None,
    "lat": 38.9326,
    "long": 100.4498,
    "media_url": None,
}


def _examples(root: str, item: str | None, data: Any, description: str) -> dict[str, Any]:
    xml = render("xml", root, item, data).body
    json_body = _jsonable(data)
    return {
        "description": description,
        "content": {
            "application/json": {"example": json_body},
            "text/xml": {"example": bytes(xml).decode()},
        },
    }


def _error_examples(status: int, description: str) -> dict[str, Any]:
    return _examples("errors", "error", [{"code": status, "description": description}], description)


_E404 = _error_examples(404, "service_code 'x' not found")
_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: _error_examples(401, "credential required: Authorization: Bearer <token> or X-API-Key"),
    403: _error_examples(403, "scope 'cases:read' is required"),
}

router = APIRouter(prefix=PREFIX, tags=["open311"], responses=_REFUSALS)  # POST: a key with cases:create
public_router = APIRouter(prefix=PREFIX, tags=["open311"], responses=_REFUSALS)  # reads: no key needed


def _keys_for_reads(request: Request) -> bool:
    settings = get_runtime(request).settings
    return isinstance(settings, IntakeSettings) and settings.open311_keys_for_reads


# GeoReport v2: "Requires API Key: No" for every read. Public, unless the setting asks for a key
# with cases:read; a key that is sent is verified and its places apply.
OpenReader = Annotated[Principal | None, Depends(access.public(unless=_keys_for_reads, scope=READ_SCOPE))]
_EXTENSIONS = "true: also the submitted attributes (extended_attributes) and every media URL (media_urls)."
_E400 = _error_examples(400, "lat: outside the jurisdiction (latitude 37.9–39.9)")


# --- endpoints ------------------------------------------------------------------------------


@public_router.get(
    "/discovery.{fmt}",
    summary="Discovery: where the endpoint is and what it speaks",
    response_class=Response,
    responses={200: _examples("discovery", None, {"changeset": CHANGESET}, "The discovery document."), 404: _E404},
)
async def discovery(fmt: FmtPath, request: Request, _: OpenReader) -> Response:
    try:
        fmt = _format(fmt)
    except Open311Error as exc:
        return render_errors(fmt, exc)
    base = str(request.url_for("open311_services", fmt="xml")).rsplit("/", 1)[0] + "/"
    data = {
        "changeset": CHANGESET,
        "contact": "Zhangye governance centre (张掖市综治中心), 12345 hotline",
        "key_service": _key_service(settings_of(get_runtime(request))),
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
    responses={200: _examples("services", "service", [service_view(MATTERS[2])], "The services."), 404: _E404},
)
async def services(fmt: FmtPath, runtime: RuntimeDep, _: OpenReader, jurisdiction_id: str | None = None) -> Response:
    try:
        fmt = _format(fmt)
        _jurisdiction(settings_of(runtime), jurisdiction_id)
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "services", "service", [service_view(m) for m in MATTERS])


@public_router.get(
    "/services/{service_code}.{fmt}",
    summary="Service definition: the matter's attributes",
    response_class=Response,
    responses={
        200: _examples("service_definition", None, definition_view(MATTERS[2]), "The service definition."),
        404: _E404,
    },
)
async def service_definition(
    service_code: str, fmt: FmtPath, runtime: RuntimeDep, _: OpenReader, jurisdiction_id: str | None = None
) -> Response:
    try:
        fmt = _format(fmt)
        _jurisdiction(settings_of(runtime), jurisdiction_id)
        found = matter(service_code)
        if found is None:
            raise Open311Error(404, f"service_code {service_code!r} not found")
    except Open311Error as exc:
        return render_errors(fmt, exc)
    return render(fmt, "service_definition", None, definition_view(found))


_FORM_FIELDS = {
    "api_key": "Your API key (or send it as X-API-Key, or a bearer token).",
    "grid_code": "Extension: the 15-digit grid the matter is in; required from a key bound to places.",
    "jurisdiction_id": "Optional; this endpoint serves one jurisdiction.",
    "service_code": "A service_code from services.{fmt} (required).",
    "lat": "Latitude (WGS 84); with long, or give address_string / address_id.",
    "long": "Longitude (WGS 84).",
    "address_string": "Address, when no coordinates.",
    "address_id": "An address id, when no coordinates.",
    "email": "Not stored.",
    "device_id": "Not stored.",
    "account_id": "Echoed back.",
    "first_name": "Reporter's given name (personal data: stored in intake only, masked in answers).",
    "last_name": "Reporter's family name.",
    "phone": "Reporter's phone (mainland mobile or landline).",
    "description": "Up to 4,000 characters, no HTML.",
    "media_url": "URL of a photo.",
}

_POST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["service_code"],
                    "properties": {
                        **{name: {"type": "string", "description": d} for name, d in _FORM_FIELDS.items()},
                        "attribute[CODE]": {
                            "type": "string",
                            "description": "One per attribute of the service definition; attribute[CODE][] "
                            "repeated for a multivaluelist.",
                        },
                    },
                },
                "example": {
                    "api_key": "gmk_1a2b3c4d_…",
                    "service_code": "dispute.neighbour",
                    "lat": "38.9326",
                    "long": "100.4498",
                    "description": "Water leaks from the flat above.",
                    "attribute[parties_count]": "2",
                    "last_name": "张",
                    "first_name": "三",
                    "phone": "13812345678",
                },
            }
        },
    }
}


def _parse_form(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if content_type.split(";")[0].strip().lower() not in ("application/x-www-form-urlencoded", ""):
        raise Open311Error(400, "the request body must be application/x-www-form-urlencoded")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Open311Error(400, "the request body must be UTF-8") from None


_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


def _command(
    fields: list[tuple[str, str]], idempotency_key: str | None, places: tuple[str, ...]
) -> tuple[AcceptCase, str | None]:
    single: dict[str, str] = {}
    attributes: dict[str, str | float | list[str]] = {}
    media: list[str] = []
    errors: list[str] = []
    for key, value in fields:
        if m := _ATTRIBUTE.match(key):
            code, multi = m.group(1), m.group(2)
            if multi:
                current = attributes.setdefault(code, [])
                if isinstance(current, list):
                    current.append(value)
            else:
                attributes[code] = value
        elif key == "media_url":
            if value:
                media.append(value)
        else:
            single[key] = value.strip()
    code = single.get("service_code", "")
    if not code:
        errors.append("service_code: required")
    lat = lon = None
    not_numbers: list[str] = []  # a non-finite number is a 422 in every service (issue 13 item 9)
    if single.get("lat") or single.get("long"):
        try:
            lat, lon = float(single["lat"]), float(single["long"])
        except (KeyError, ValueError):
            errors.append("lat/long: both must be given, as decimal degrees")
        given = (("lat", lat), ("long", lon))
        not_numbers = [name for name, value in given if value is not None and not math.isfinite(value)]
        errors.extend(f"{name}: {finite.MESSAGE}" for name in not_numbers)
        if not_numbers:
            lat = lon = None
    address = single.get("address_string") or None
    if not address and single.get("address_id"):
        address = f"address id {single['address_id']}"
    point_given = bool(single.get("lat") or single.get("long"))
    if lat is None and not address and not point_given:
        errors.append("location: give lat and long, or address_string, or address_id")
    description = single.get("description", "")
    if len(description) > 4000:
        errors.append("description: at most 4,000 characters")
    if _HTML.search(description):
        errors.append("description: HTML is not allowed")
    if address and len(address) > 500:
        errors.append("address_string: at most 500 characters")
    name = (single.get("last_name", "") + single.get("first_name", "")).strip() or None
    if name and len(name) > 50:
        errors.append("first_name/last_name: at most 50 characters together")
    grid_code = single.get("grid_code") or None
    if grid_code and not _GRID_CODE.match(grid_code):
        errors.append("grid_code: a 15-digit unified grid code")
    if errors:
        raise Open311Error(422 if not_numbers else 400, *errors)
    found = matter(code)
    if found is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    phone = single.get("phone") or None
    reporter = Reporter(name=name, phone=phone) if (name or phone) else None
    cmd = AcceptCase(
        matter_code=code,
        description=description or found.name_zh,
        channel=Channel.OPEN311,
        lat=lat,
        lon=lon,
        address=address,
        idempotency_key=idempotency_key,
        reporter=reporter,
        attachments=tuple(media),
        attributes=attributes,
        grid_code=grid_code,
        places=places,
    )
    return cmd, single.get("account_id") or None


def _field_name(loc: tuple[str, ...]) -> str:
    match loc:
        case ("attributes", code):
            return f"attribute[{code}]"
        case ("reporter", field):
            return field
        case ("lon",):
            return "long"
        case ("matter_code",):
            return "service_code"
        case ("attachments", *_):
            return "media_url"
    return ".".join(loc)


@router.post(
    "/requests.{fmt}",
    summary="Create a service request (a case)",
    response_class=Response,
    status_code=201,
    openapi_extra=_POST_DOC,
    responses={
        201: _examples(
            "service_requests",
            "request",
            [{"service_request_id": "620702-20261125-000042", "service_notice": None, "account_id": None}],
            "The new request's id (realtime service: never a token).",
        ),
        200: _examples(
            "service_requests",
            "request",
            [
                {
                    "service_request_id": "620702-20261125-000042",
                    "service_notice": "Your report 620702-20261125-000042-L7 is linked to open request "
                    "620702-20261125-000042 of the same service nearby; you will follow it.",
                    "account_id": None,
                }
            ],
            "A duplicate: linked to an open request of the same service nearby (no new request).",
        ),
        400: _E400,
        404: _E404,
    },
)
async def create_request(
    fmt: FmtPath,
    request: Request,
    runtime: RuntimeDep,
    caller: Writer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    settings = settings_of(runtime)
    try:
        fmt = _format(fmt)
        fields = _parse_form(await request.body(), request.headers.get("content-type", ""))
        _jurisdiction(settings, dict(fields).get("jurisdiction_id"))
        cmd, account_id = _command(fields, idempotency_key, caller.places)
        await check_grid(request, caller, cmd.grid_code)  # a refusal: 403 in the spec's format
        try:
            accepted = await accept(runtime, cmd, request, caller)
        except ReportInvalid as exc:
            not_finite = any("finite number" in msg for msg in exc.errors.values())  # 422, as in every service
            errors = (f"{_field_name(loc)}: {msg}" for loc, msg in exc.errors.items())
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


def _date(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name}: must be a W3C date-time, e.g. 2026-11-01T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _statuses(value: str | None) -> list[str]:
    out: list[str] = []
    for s in (v.strip() for v in (value or "").split(",") if v.strip()):
        if s == "open":
            out += [x.value for x in OPEN_STATUSES]
        elif s == "closed":
            out += [x.value for x in CLOSED_STATUSES]
        else:
            raise Open311Error(400, f"status: {s!r} is not open or closed")
    return out


def _int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Open311Error(400, f"{name}: must be a whole number") from None
    if not low <= number <= high:
        raise Open311Error(400, f"{name}: must be between {low} and {high}")
    return number


@public_router.get(
    "/requests.{fmt}",
    summary="Service requests, by the spec's filters",
    description="service_request_id (comma list) overrides every other filter. Without dates: the last 90 days. "
    "start_date and end_date may not be more than 90 days apart. At most 1,000 requests; `page` and "
    "`page_size` (extension) page through them.",
    response_class=Response,
    responses={
        200: _examples("service_requests", "request", [_REQUEST_EXAMPLE], "The requests, newest first."),
        400: _E400,
        404: _E404,
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
        fmt = _format(fmt)
        _jurisdiction(settings, jurisdiction_id)
        size = _int("page_size", page_size, settings.open311_max_requests, 1, settings.open311_max_requests)
        number = _int("page", page, 1, 1, 1_000_000)
        if service_request_id:
            ids = [v.strip() for v in service_request_id.split(",") if v.strip()]
            f = CaseFilter(case_numbers=ids, places=_places(caller))
        else:
            start, end = _date("start_date", start_date), _date("end_date", end_date)
            now = datetime.now(UTC)
            if start is None and end is None:
                start = now - _MAX_RANGE
            elif start is None:
                assert end is not None
                start = end - _MAX_RANGE
            elif end is None:
                end = start + _MAX_RANGE
            if end is not None and end < start:
                raise Open311Error(400, "end_date: must not be before start_date")
            if end is not None and end - start > _MAX_RANGE:
                raise Open311Error(400, "start_date/end_date: may not be more than 90 days apart")
            codes = [c.strip() for c in (service_code or "").split(",") if c.strip()]
            unknown = [c for c in codes if matter(c) is None]
            if unknown:
                raise Open311Error(404, *(f"service_code {c!r} not found" for c in unknown))
            f = CaseFilter(
                matter_codes=codes,
                statuses=_statuses(status),
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
        200: _examples("service_requests", "request", [_REQUEST_EXAMPLE], "The request (a list of one)."),
        404: _E404,
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
        fmt = _format(fmt)
        _jurisdiction(settings_of(runtime), jurisdiction_id)
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
        200: _examples(
            "service_requests",
            "request",
            [{"service_request_id": "620702-20261125-000042", "token": "0b7c54a4-5a8e-4c1c-9d55-3f3b8e8f2a10"}],
            "The request id.",
        ),
        404: _E404,
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
        fmt = _format(fmt)
        _jurisdiction(settings_of(runtime), jurisdiction_id)
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


def _key_service(settings: IntakeSettings) -> str:
    reads = (
        "Reading (discovery, services, requests) needs a key too, with scope cases:read."
        if settings.open311_keys_for_reads
        else "Reading (discovery, services, requests) needs no key."
    )
    return (
        "Posting a request needs an api_key with scope cases:create: ask the governance centre for one "
        f"(issued with `govmesh-auth api-key`). {reads} Send it as api_key in the query or the form, "
        "or as the X-API-Key header."
    )


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
