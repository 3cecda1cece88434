"""The acceptance form: from the posted fields to intake's request, with every field's error.

The console checks what it can say best in the clerk's language (required fields, numbers,
formats) and lets intake decide the rest (the matter's rules, the jurisdiction's bounds, the
ID number's check digit); intake's reasons come back per field and are translated."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from console.i18n import field_error, service_message

_MOBILE_OR_LANDLINE = re.compile(
    r"^(\+86)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|110|119|120|122|12345|12348|12355|12356|96\d{3,4})$"
)
_ID = re.compile(r"^\d{17}[\dXx]$")
CHANNELS = ("window", "hotline", "terminal")


@dataclass
class AcceptForm:
    values: dict[str, str] = field(default_factory=dict)
    multi: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _float(form: AcceptForm, name: str, lang: str, low: float, high: float, range_key: str) -> float | None:
    raw = form.values.get(name, "").strip()
    if not raw:
        return None
    try:
        number = float(raw)
    except ValueError:
        form.errors[name] = field_error(lang, "number")
        return None
    if not low <= number <= high or number != number:
        form.errors[name] = field_error(lang, range_key)
        return None
    return number


def build_request(form: AcceptForm, matter: dict[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """Intake's CaseCreate body, or None with ``form.errors`` filled (field name → message)."""
    v = {k: s.strip() for k, s in form.values.items()}
    if matter is None:
        form.errors["matter_code"] = field_error(lang, "required")
    if not v.get("description"):
        form.errors["description"] = field_error(lang, "required")
    elif len(v["description"]) > 4000:
        form.errors["description"] = field_error(lang, "too_long", limit=4000)
    channel = v.get("channel") or "window"
    if channel not in CHANNELS:
        form.errors["channel"] = field_error(lang, "choice")
    lat = _float(form, "lat", lang, -90, 90, "lat_range")
    lon = _float(form, "lon", lang, -180, 180, "lon_range")
    address = v.get("address") or None
    if address and len(address) > 500:
        form.errors["address"] = field_error(lang, "too_long", limit=500)
    if not address and (lat is None or lon is None) and "lat" not in form.errors and "lon" not in form.errors:
        for where in ("address", "lat", "lon"):
            if not v.get(where):
                form.errors[where] = field_error(lang, "place")
    phone, id_number, name = v.get("reporter_phone"), v.get("reporter_id_number"), v.get("reporter_name")
    if phone and not _MOBILE_OR_LANDLINE.match(re.sub(r"\s", "", phone)):
        form.errors["reporter_phone"] = field_error(lang, "phone")
    if id_number and not _ID.match(id_number):
        form.errors["reporter_id_number"] = field_error(lang, "id_number")
    if name and len(name) > 50:
        form.errors["reporter_name"] = field_error(lang, "too_long", limit=50)
    attributes: dict[str, Any] = {}
    if matter is not None:
        if not matter["anonymous_allowed"] and not phone:
            form.errors.setdefault("reporter_phone", field_error(lang, "anonymous"))
        for attribute in matter["attributes"]:
            key = "attr_" + attribute["code"]
            if attribute["datatype"] == "multivaluelist":
                chosen = form.multi.get(key, [])
                if chosen:
                    attributes[attribute["code"]] = chosen
                elif attribute["required"]:
                    form.errors[key] = field_error(lang, "required")
                continue
            raw = v.get(key, "")
            if not raw:
                if attribute["required"]:
                    form.errors[key] = field_error(lang, "required")
                continue
            if attribute["datatype"] == "number":
                try:
                    attributes[attribute["code"]] = float(raw)
                except ValueError:
                    form.errors[key] = field_error(lang, "number")
            else:
                attributes[attribute["code"]] = raw
    if form.errors:
        return None
    reporter = {k: x for k, x in (("name", name), ("phone", phone), ("id_number", id_number)) if x}
    body: dict[str, Any] = {
        "matter_code": matter["code"] if matter else "",
        "description": v["description"],
        "channel": channel,
        "attributes": attributes,
    }
    if address:
        body["address"] = address
    if lat is not None and lon is not None:
        body["lat"], body["lon"] = lat, lon
    if reporter:
        body["reporter"] = reporter
    return body


def field_of(loc: list[Any]) -> str:
    """The form field of an error location of intake's 422 answer."""
    parts = [str(p) for p in loc if p != "body"]
    if not parts:
        return "form"
    if parts[0] == "reporter" and len(parts) > 1:
        return "reporter_" + parts[1]
    if parts[0] == "attributes" and len(parts) > 1:
        return "attr_" + parts[1]
    return parts[0]


def service_errors(form: AcceptForm, problem: Any, lang: str) -> None:
    """Intake's refusal (an RFC 9457 problem): each field's reason (``errors``) onto its field,
    else the problem's ``detail`` onto the form, in the reader's language."""
    errors = problem.get("errors") if isinstance(problem, dict) else None
    if not isinstance(errors, list):
        detail = problem.get("detail") if isinstance(problem, dict) else problem
        form.errors["form"] = service_message(lang, str(detail))
        return
    for item in errors:
        name = field_of(list(item.get("loc", [])))
        form.errors.setdefault(name, service_message(lang, str(item.get("msg", ""))))
