"""MANSCDP bodies the bridge sends upward (plain Python): its catalog split into pages,
record lists relayed from devices, DeviceInfo/DeviceStatus of the bridge itself, alarms
and keepalives. Every body is declared and encoded as GB2312, like the queries we send.

A page holds at most ``per_message`` items and at most ``MAX_BODY_BYTES`` (long Chinese names
and addresses), so a MESSAGE stays far below a UDP datagram's limit whatever the city's size;
every page carries the total as ``SumNum``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from video_bridge.domain.manscdp import AlarmNotice, RecordItem, format_time

MAX_BODY_BYTES = 32_000
_PAGE_OVERHEAD = 600  # declaration, root, CmdType, SN, DeviceID, SumNum, list element


@dataclass(frozen=True)
class CatalogEntry:
    """A channel as the upper platform sees it."""

    channel_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    civil_code: str | None
    address: str | None
    online: bool
    lat: float | None
    lon: float | None


def _element(
    root: str,
    cmd_type: str,
    sn: str,
    device_id: str,
    fields: Sequence[tuple[str, str]] = (),
    list_tag: str | None = None,
    items: Sequence[Sequence[tuple[str, str]]] = (),
) -> ET.Element:
    element = ET.Element(root)
    for name, value in [("CmdType", cmd_type), ("SN", sn), ("DeviceID", device_id), *fields]:
        ET.SubElement(element, name).text = value
    if list_tag is not None:
        listing = ET.SubElement(element, list_tag, Num=str(len(items)))
        for item in items:
            node = ET.SubElement(listing, "Item")
            for name, value in item:
                ET.SubElement(node, name).text = value
    return element


def _encode(element: ET.Element) -> bytes:
    ET.indent(element)
    xml = ET.tostring(element, encoding="unicode")
    return ('<?xml version="1.0" encoding="GB2312"?>\n' + xml + "\n").encode("gb2312", errors="xmlcharrefreplace")


def _document(
    root: str,
    cmd_type: str,
    sn: str,
    device_id: str,
    fields: Sequence[tuple[str, str]] = (),
    list_tag: str | None = None,
    items: Sequence[Sequence[tuple[str, str]]] = (),
) -> bytes:
    return _encode(_element(root, cmd_type, sn, device_id, fields, list_tag, items))


def pages(count: int, per_message: int, sizes: Sequence[int] = (), max_bytes: int = MAX_BODY_BYTES) -> list[range]:
    """Index ranges of the pages of ``count`` items: at most ``per_message`` items and, given
    the items' encoded ``sizes``, at most ``max_bytes`` a page (an item is never split). One
    empty page when there is nothing (the upper platform still gets its answer, SumNum 0)."""
    if per_message < 1:
        raise ValueError("per_message must be at least 1")
    if count == 0:
        return [range(0)]
    result: list[range] = []
    start, used = 0, _PAGE_OVERHEAD
    for index in range(count):
        size = sizes[index] if sizes else 0
        if index > start and (index - start >= per_message or used + size > max_bytes):
            result.append(range(start, index))
            start, used = index, _PAGE_OVERHEAD
        used += size
    result.append(range(start, count))
    return result


def _item_size(fields: Sequence[tuple[str, str]]) -> int:
    node = ET.Element("Item")
    for name, value in fields:
        ET.SubElement(node, name).text = value
    return len(ET.tostring(node, encoding="unicode").encode("gb2312", errors="xmlcharrefreplace")) + 8 * len(fields)


def _catalog_item(entry: CatalogEntry, parent_id: str, event: str | None) -> list[tuple[str, str]]:
    fields = [
        ("DeviceID", entry.channel_id),
        ("Name", entry.name or entry.channel_id),
        ("Manufacturer", entry.manufacturer or ""),
        ("Model", entry.model or ""),
        ("Owner", parent_id[:6]),
        ("CivilCode", entry.civil_code or parent_id[:6]),
        ("Address", entry.address or ""),
        ("Parental", "0"),
        ("ParentID", parent_id),
        ("SafetyWay", "0"),
        ("RegisterWay", "1"),
        ("Secrecy", "0"),
        ("Status", "ON" if entry.online else "OFF"),
    ]
    if entry.lat is not None and entry.lon is not None:
        fields += [("Longitude", f"{entry.lon:.6f}"), ("Latitude", f"{entry.lat:.6f}")]
    if event:
        fields.append(("Event", event))
    return fields


def catalog_responses(server_id: str, sn: str, entries: Sequence[CatalogEntry], per_message: int) -> list[bytes]:
    """The answer to an upper platform's Catalog query: every channel, in pages."""
    items = [_catalog_item(entry, server_id, None) for entry in entries]
    sizes = [_item_size(item) for item in items]
    return [
        _document(
            "Response", "Catalog", sn, server_id, [("SumNum", str(len(items)))], "DeviceList", [items[i] for i in page]
        )
        for page in pages(len(items), per_message, sizes)
    ]


def catalog_notifies(
    server_id: str, sn: str, changes: Sequence[tuple[CatalogEntry, str]], per_message: int
) -> list[bytes]:
    """Change notifications for a catalog subscriber: (channel, Event ON/OFF/ADD/DEL/UPDATE)."""
    items = [_catalog_item(entry, server_id, event) for entry, event in changes]
    sizes = [_item_size(item) for item in items]
    return [
        _document(
            "Notify", "Catalog", sn, server_id, [("SumNum", str(len(items)))], "DeviceList", [items[i] for i in page]
        )
        for page in pages(len(items), per_message, sizes)
    ]


def record_responses(
    channel_id: str, name: str, sn: str, records: Sequence[RecordItem], per_message: int
) -> list[bytes]:
    """A device's recordings relayed to the upper platform under the upper platform's SN."""

    def item(record: RecordItem) -> list[tuple[str, str]]:
        fields = [("DeviceID", record.channel_id or channel_id), ("Name", record.name or name)]
        if record.file_path:
            fields.append(("FilePath", record.file_path))
        if record.start_time is not None:
            fields.append(("StartTime", format_time(record.start_time)))
        if record.end_time is not None:
            fields.append(("EndTime", format_time(record.end_time)))
        return [*fields, ("Secrecy", "0"), ("Type", record.record_type or "time")]

    items = [item(record) for record in records]
    sizes = [_item_size(fields) for fields in items]
    return [
        _document(
            "Response",
            "RecordInfo",
            sn,
            channel_id,
            [("Name", name), ("SumNum", str(len(items)))],
            "RecordList",
            [items[i] for i in page],
        )
        for page in pages(len(items), per_message, sizes)
    ]


def device_info(server_id: str, sn: str, *, name: str, version: str, channels: int) -> bytes:
    return _document(
        "Response",
        "DeviceInfo",
        sn,
        server_id,
        [
            ("DeviceName", name),
            ("Result", "OK"),
            ("Manufacturer", "govmesh"),
            ("Model", "video-bridge"),
            ("Firmware", version),
            ("Channel", str(channels)),
        ],
    )


def device_status(server_id: str, sn: str, *, now: datetime) -> bytes:
    return _document(
        "Response",
        "DeviceStatus",
        sn,
        server_id,
        [
            ("Result", "OK"),
            ("Online", "ONLINE"),
            ("Status", "OK"),
            ("Encode", "ON"),
            ("Record", "OFF"),
            ("DeviceTime", format_time(now)),
        ],
        "Alarmstatus",
        [],
    )


def alarm_notify(sn: str, notice: AlarmNotice, *, now: datetime) -> bytes:
    fields = [
        ("AlarmPriority", str(notice.priority)),
        ("AlarmMethod", notice.method),
        ("AlarmTime", format_time(notice.alarm_time or now)),
    ]
    if notice.description:
        fields.append(("AlarmDescription", notice.description))
    if notice.lat is not None and notice.lon is not None:
        fields += [("Longitude", f"{notice.lon:.6f}"), ("Latitude", f"{notice.lat:.6f}")]
    element = _element("Notify", "Alarm", sn, notice.device_id, fields)
    if notice.alarm_type:
        ET.SubElement(ET.SubElement(element, "Info"), "AlarmType").text = notice.alarm_type
    return _encode(element)


def keepalive(server_id: str, sn: str) -> bytes:
    return _document("Notify", "Keepalive", sn, server_id, [("Status", "OK")])
