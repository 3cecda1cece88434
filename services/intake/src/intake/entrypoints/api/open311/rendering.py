"""Open311 GeoReport v2's answers: JSON and XML from the same data, the spec's error bodies, and
the views of matters and cases as the spec names their fields (never a reporter's personal data;
resident ID and mobile numbers typed into free text are masked)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from govmesh_kit.masking import mask_personal_data
from intake.adapters.tables import CaseRow, TimelineEntryRow
from intake.domain.cases import CaseStatus, open311_status
from intake.domain.messages import t as worded
from intake.domain.taxonomy import Matter, matter
from intake.entrypoints.api.views import step_note
from intake.settings import IntakeSettings

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
_PLURAL_TO_ITEM = {
    "attributes": "attribute",
    "media_urls": "media_url",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def iso(value: datetime) -> str:
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
        return iso(value)
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
    fmt = "xml" if request.url.path.endswith(".xml") else "json"  # JSON unless XML is asked for
    answer = render_errors(fmt, Open311Error(exc.status_code, str(exc.detail)))
    answer.headers.update(exc.headers or {})
    return answer


# --- views ---------------------------------------------------------------------------------


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
        lines.append(f"{iso(t.at)} {t.kind} — {t.actor}" + (f": {mask_personal_data(note)}" if note else ""))
    return "\n".join(lines)


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

REQUEST_EXAMPLE = {
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


def examples(root: str, item: str | None, data: Any, description: str) -> dict[str, Any]:
    xml = render("xml", root, item, data).body
    json_body = _jsonable(data)
    return {
        "description": description,
        "content": {
            "application/json": {"example": json_body},
            "text/xml": {"example": bytes(xml).decode()},
        },
    }


def error_examples(status: int, description: str) -> dict[str, Any]:
    return examples("errors", "error", [{"code": status, "description": description}], description)


E404 = error_examples(404, "service_code 'x' not found")
E400 = error_examples(400, "lat: outside the jurisdiction (latitude 37.9–39.9)")
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: error_examples(401, "credential required: Authorization: Bearer <token> or X-API-Key"),
    403: error_examples(403, "scope 'cases:read' is required"),
}
CREATED_EXAMPLES: dict[int | str, dict[str, Any]] = {
    201: examples(
        "service_requests",
        "request",
        [{"service_request_id": "620702-20261125-000042", "service_notice": None, "account_id": None}],
        "The new request's id (realtime service: never a token).",
    ),
    200: examples(
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
}


def key_service(settings: IntakeSettings) -> str:
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
