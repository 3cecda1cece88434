"""MANSCDP XML bodies (GB/T 28181 Application/MANSCDP+xml).

Most devices declare GB2312; we decode by the declared charset (GB2312/GBK read as
GB18030, its superset) and answer in GB2312. Parsing is tolerant (a bare ``&``, a
missing declaration); DTDs and entities are refused (no entity expansion).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

ROOTS = ("Query", "Control", "Notify", "Response")
MAX_BODY_BYTES = 1_000_000
CHINA = timezone(timedelta(hours=8))
_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>", re.IGNORECASE)
_ANY_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")
_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);)")
_CODECS = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "utf-8": "utf-8", "utf8": "utf-8"}


class ManscdpError(ValueError):
    """A body that is not a MANSCDP document we can read, with the reason."""


@dataclass(frozen=True)
class Manscdp:
    root: str  # Query | Control | Notify | Response
    cmd_type: str
    sn: str
    device_id: str
    element: ET.Element
    charset: str

    def text(self, path: str) -> str | None:
        return _text(self.element, path)


def decode_body(body: bytes) -> tuple[str, str]:
    """(text, declared charset) of an XML body."""
    match = _DECL.match(body)
    declared = match.group(1).decode("ascii").lower() if match else "utf-8"
    codec = _CODECS.get(declared, declared)
    try:
        text = body.decode(codec, errors="replace")
    except LookupError:
        text = body.decode("utf-8", errors="replace")
    return text, declared


def parse(body: bytes) -> Manscdp:
    if not body.strip():
        raise ManscdpError("empty body")
    if len(body) > MAX_BODY_BYTES:
        raise ManscdpError("body too large")
    text, charset = decode_body(body)
    text = _ANY_DECL.sub("", text, count=1)
    if "<!DOCTYPE" in text.upper() or "<!ENTITY" in text.upper():
        raise ManscdpError("DTDs and entities are not accepted")
    try:
        element = ET.fromstring(text)  # noqa: S314  (DTDs refused above: no entity expansion)
    except ET.ParseError:
        try:
            element = ET.fromstring(_BARE_AMP.sub("&amp;", text))  # noqa: S314
        except ET.ParseError as exc:
            raise ManscdpError(f"not well-formed XML: {exc}") from exc
    if element.tag not in ROOTS:
        raise ManscdpError(f"unknown root <{element.tag[:40]}>")
    cmd_type = _text(element, "CmdType")
    if not cmd_type:
        raise ManscdpError("CmdType is missing")
    return Manscdp(
        root=element.tag,
        cmd_type=cmd_type,
        sn=_text(element, "SN") or "",
        device_id=_text(element, "DeviceID") or "",
        element=element,
        charset=charset,
    )


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None:
        return None
    return found.text.strip()


def build(root: str, cmd_type: str, sn: int | str, device_id: str, fields: Sequence[tuple[str, str]] = ()) -> bytes:
    """A MANSCDP document declared and encoded as GB2312."""
    element = ET.Element(root)
    for name, value in [("CmdType", cmd_type), ("SN", str(sn)), ("DeviceID", device_id), *fields]:
        child = ET.SubElement(element, name)
        child.text = value
    ET.indent(element)
    xml = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="GB2312"?>\n' + xml + "\n").encode("gb2312", errors="xmlcharrefreplace")


# --- typed views ---------------------------------------------------------------------


def _float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number


def _coordinates(lat: float | None, lon: float | None) -> tuple[float | None, float | None]:
    """A usable WGS 84 point, or (None, None): many devices send 0,0 or garbage."""
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None, None
    return lat, lon


def parse_time(value: str | None) -> datetime | None:
    """GB/T 28181 times are local (UTC+8) ``YYYY-MM-DDTHH:MM:SS``; an offset, if given, is honoured."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=CHINA)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(frozen=True)
class CatalogItem:
    channel_id: str
    name: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    civil_code: str | None = None
    address: str | None = None
    parent_id: str | None = None
    status: str | None = None
    lat: float | None = None
    lon: float | None = None
    event: str | None = None  # ON OFF VLOST DEFECT ADD DEL UPDATE in change notifications


def catalog_items(doc: Manscdp) -> tuple[int, list[CatalogItem]]:
    """(SumNum, items) of a catalog response or notification."""
    sum_text = doc.text("SumNum")
    items: list[CatalogItem] = []
    for item in doc.element.iterfind("DeviceList/Item"):
        channel_id = _text(item, "DeviceID")
        if not channel_id:
            continue
        lat, lon = _coordinates(_float(_text(item, "Latitude")), _float(_text(item, "Longitude")))
        status = _text(item, "Status")
        items.append(
            CatalogItem(
                channel_id=channel_id,
                name=_text(item, "Name"),
                manufacturer=_text(item, "Manufacturer"),
                model=_text(item, "Model"),
                civil_code=_text(item, "CivilCode"),
                address=_text(item, "Address"),
                parent_id=_text(item, "ParentID"),
                status=status.upper() if status else None,
                lat=lat,
                lon=lon,
                event=(_text(item, "Event") or "").upper() or None,
            )
        )
    total = int(sum_text) if sum_text and sum_text.isdigit() else len(items)
    return total, items


@dataclass(frozen=True)
class AlarmNotice:
    device_id: str
    priority: int
    method: str
    alarm_time: datetime | None
    description: str | None
    lat: float | None
    lon: float | None
    alarm_type: str | None


def alarm_notice(doc: Manscdp) -> AlarmNotice:
    priority_text = doc.text("AlarmPriority") or "4"
    priority = int(priority_text) if priority_text.isdigit() and 1 <= int(priority_text) <= 4 else 4
    lat, lon = _coordinates(_float(doc.text("Latitude")), _float(doc.text("Longitude")))
    description = doc.text("AlarmDescription")
    return AlarmNotice(
        device_id=doc.device_id,
        priority=priority,
        method=doc.text("AlarmMethod") or "7",
        alarm_time=parse_time(doc.text("AlarmTime")),
        description=description[:2000] if description else None,
        lat=lat,
        lon=lon,
        alarm_type=doc.text("Info/AlarmType") or doc.text("AlarmType"),
    )


@dataclass(frozen=True)
class RecordItem:
    channel_id: str
    start_time: datetime | None
    end_time: datetime | None
    record_type: str | None
    file_path: str | None
    name: str | None = field(default=None)


def record_items(doc: Manscdp) -> tuple[int, list[RecordItem]]:
    sum_text = doc.text("SumNum")
    items = [
        RecordItem(
            channel_id=_text(item, "DeviceID") or doc.device_id,
            start_time=parse_time(_text(item, "StartTime")),
            end_time=parse_time(_text(item, "EndTime")),
            record_type=_text(item, "Type"),
            file_path=_text(item, "FilePath"),
            name=_text(item, "Name"),
        )
        for item in doc.element.iterfind("RecordList/Item")
    ]
    total = int(sum_text) if sum_text and sum_text.isdigit() else len(items)
    return total, items


def flat_fields(doc: Manscdp) -> dict[str, str]:
    """Top-level simple fields of a response (DeviceInfo, DeviceStatus)."""
    return {child.tag: (child.text or "").strip() for child in doc.element if len(child) == 0}
