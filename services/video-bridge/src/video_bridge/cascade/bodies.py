"""MANSCDP bodies the bridge sends upward (plain Python): its catalog split into pages,
record lists relayed from devices, DeviceInfo/DeviceStatus of the bridge itself, alarms
and keepalives. Every body is declared and encoded as GB2312, like the queries we send.

A page holds at most ``per_message`` items, so a MESSAGE stays far below a UDP datagram's
limit whatever the city's size; every page carries the total as ``SumNum``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from video_bridge.domain.manscdp import AlarmNotice, RecordItem, format_time


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


def pages(count: int, per_message: int) -> list[range]:
    """Index ranges of the pages of ``count`` items; one empty page when there is nothing
    (the upper platform still gets its answer, with SumNum 0)."""
    if per_message < 1:
        raise ValueError("per_message must be at least 1")
    if count == 0:
        return [range(0)]
    return [range(start, min(start + per_message, count)) for start in range(0, count, per_message)]


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
    return [
        _document(
            "Response",
            "Catalog",
            sn,
            server_id,
            [("SumNum", str(len(entries)))],
            "DeviceList",
            [_catalog_item(entries[i], server_id, None) for i in page],
        )
        for page in pages(len(entries), per_message)
    ]


def catalog_notifies(
    server_id: str, sn: str, changes: Sequence[tuple[CatalogEntry, str]], per_message: int
) -> list[bytes]:
    """Change notifications for a catalog subscriber: (channel, Event ON/OFF/ADD/DEL/UPDATE)."""
    return [
        _document(
            "Notify",
            "Catalog",
            sn,
            server_id,
            [("SumNum", str(len(changes)))],
            "DeviceList",
            [_catalog_item(changes[i][0], server_id, changes[i][1]) for i in page],
        )
        for page in pages(len(changes), per_message)
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

    return [
        _document(
            "Response",
            "RecordInfo",
            sn,
            channel_id,
            [("Name", name), ("SumNum", str(len(records)))],
            "RecordList",
            [item(records[i]) for i in page],
        )
        for page in pages(len(records), per_message)
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
