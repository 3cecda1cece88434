"""Open311 GeoReport v2's input: the form-encoded body of a new request made into the one door's
command, and the query parameters of the reads, each bad one named with its reason in the
spec's error (400; 404 for what is not there; 422 for a number that is not one, as in every service).

The limits are the native API's (``schemas``): a field is no longer here than it is there."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from govmesh_runtime import finite
from intake.domain.cases import CLOSED_STATUSES, OPEN_STATUSES, Channel
from intake.domain.commands import AcceptCase, Reporter
from intake.domain.taxonomy import matter
from intake.entrypoints.api.open311.rendering import FORMATS, Open311Error
from intake.entrypoints.api.schemas import ADDRESS_MAX, DESCRIPTION_MAX, GRID_CODE_PATTERN, REPORTER_NAME_MAX
from intake.settings import IntakeSettings

_GRID_CODE = re.compile(GRID_CODE_PATTERN)
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
MAX_RANGE = timedelta(days=90)


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"unknown format {fmt!r}: use .json or .xml")
    return fmt


def check_jurisdiction(settings: IntakeSettings, value: str | None) -> None:
    if value and value != settings.open311_jurisdiction_id:
        raise Open311Error(
            404, f"jurisdiction_id {value!r} not found (this endpoint serves {settings.open311_jurisdiction_id})"
        )


# --- POST requests: the form ----------------------------------------------------------------------

FORM_FIELDS = {
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
    "description": f"Up to {DESCRIPTION_MAX:,} characters, no HTML.",
    "media_url": "URL of a photo.",
}

POST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["service_code"],
                    "properties": {
                        **{name: {"type": "string", "description": d} for name, d in FORM_FIELDS.items()},
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


def parse_form(body: bytes, content_type: str) -> list[tuple[str, str]]:
    if content_type.split(";")[0].strip().lower() not in ("application/x-www-form-urlencoded", ""):
        raise Open311Error(400, "the request body must be application/x-www-form-urlencoded")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Open311Error(400, "the request body must be UTF-8") from None


_ATTRIBUTE = re.compile(r"^attribute\[([^\]]+)\](\[\])?$")


def command(
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
    if len(description) > DESCRIPTION_MAX:
        errors.append(f"description: at most {DESCRIPTION_MAX:,} characters")
    if _HTML.search(description):
        errors.append("description: HTML is not allowed")
    if address and len(address) > ADDRESS_MAX:
        errors.append(f"address_string: at most {ADDRESS_MAX:,} characters")
    name = (single.get("last_name", "") + single.get("first_name", "")).strip() or None
    if name and len(name) > REPORTER_NAME_MAX:
        errors.append(f"first_name/last_name: at most {REPORTER_NAME_MAX:,} characters together")
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


def field_name(loc: tuple[str, ...]) -> str:
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


# --- GET requests: the query ---------------------------------------------------------------------


def parse_date(name: str, value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise Open311Error(400, f"{name}: must be a W3C date-time, e.g. 2026-11-01T00:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def statuses(value: str | None) -> list[str]:
    out: list[str] = []
    for s in (v.strip() for v in (value or "").split(",") if v.strip()):
        if s == "open":
            out += [x.value for x in OPEN_STATUSES]
        elif s == "closed":
            out += [x.value for x in CLOSED_STATUSES]
        else:
            raise Open311Error(400, f"status: {s!r} is not open or closed")
    return out


def whole_number(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise Open311Error(400, f"{name}: must be a whole number") from None
    if not low <= number <= high:
        raise Open311Error(400, f"{name}: must be between {low} and {high}")
    return number


def date_window(start_date: str | None, end_date: str | None, now: datetime) -> tuple[datetime, datetime | None]:
    """The spec's window of a search: without dates the last 90 days; dates at most 90 days apart."""
    start, end = parse_date("start_date", start_date), parse_date("end_date", end_date)
    if start is None and end is None:
        start = now - MAX_RANGE
    elif start is None:
        assert end is not None
        start = end - MAX_RANGE
    elif end is None:
        end = start + MAX_RANGE
    if end is not None and end < start:
        raise Open311Error(400, "end_date: must not be before start_date")
    if end is not None and end - start > MAX_RANGE:
        raise Open311Error(400, "start_date/end_date: may not be more than 90 days apart")
    return start, end


def service_codes(value: str | None) -> list[str]:
    """The comma list of service codes; an unknown one is the spec's 404."""
    codes = [c.strip() for c in (value or "").split(",") if c.strip()]
    unknown = [c for c in codes if matter(c) is None]
    if unknown:
        raise Open311Error(404, *(f"service_code {c!r} not found" for c in unknown))
    return codes
