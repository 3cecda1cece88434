"""Police rooms (社区警务室) and their grid jurisdictions, as imported from the city's files.

Every known grid is covered by exactly one room: an import that leaves a grid uncovered
(gap), gives a grid to two rooms (overlap) or names a grid nobody knows is refused, with
the grids named.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from govmesh_kit.errors import Invalid


class OfficerRole(StrEnum):
    OFFICER = "officer"  # community police officer (社区民警)
    AUXILIARY = "auxiliary"  # auxiliary police (辅警)


@dataclass(frozen=True)
class OfficerSpec:
    officer_id: str
    name: str
    role: OfficerRole
    on_duty: bool


@dataclass(frozen=True)
class RoomSpec:
    room_code: str
    name: str
    county_code: str
    grid_codes: tuple[str, ...]
    officers: tuple[OfficerSpec, ...] = ()


class ReferenceDataError(Invalid, ValueError):
    """Reference data that cannot be imported; ``problems`` names each field or grid and the reason
    (the answer's detail: a 422 listing them)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))
        self.detail = self.problems


@dataclass
class JurisdictionReport:
    gaps: list[str] = field(default_factory=list)
    overlaps: dict[str, list[str]] = field(default_factory=dict)
    unknown: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.gaps or self.overlaps or self.unknown)

    def problems(self, *, limit: int = 50) -> list[str]:
        out: list[str] = []
        if self.gaps:
            out.append(f"gap: {len(self.gaps)} grid(s) covered by no room: {_first(self.gaps, limit)}")
        if self.overlaps:
            listed = [f"{grid} ({', '.join(rooms)})" for grid, rooms in sorted(self.overlaps.items())]
            out.append(f"overlap: {len(listed)} grid(s) covered by more than one room: {_first(listed, limit)}")
        if self.unknown:
            listed = [f"{grid} ({', '.join(rooms)})" for grid, rooms in sorted(self.unknown.items())]
            out.append(f"unknown grid: {len(listed)} grid(s) not in the grid set: {_first(listed, limit)}")
        return out


def _first(items: Sequence[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown if len(items) <= limit else f"{shown}, … ({len(items) - limit} more)"


def check_jurisdictions(known_grids: Iterable[str], rooms: Iterable[RoomSpec]) -> JurisdictionReport:
    """Gaps, overlaps and unknown grids of the rooms' jurisdictions over the known grid set."""
    known = set(known_grids)
    owners: dict[str, list[str]] = {}
    for room in rooms:
        for grid in room.grid_codes:
            owners.setdefault(grid, []).append(room.room_code)
    report = JurisdictionReport()
    report.gaps = sorted(known - owners.keys())
    report.overlaps = {grid: sorted(rs) for grid, rs in owners.items() if len(rs) > 1}
    report.unknown = {grid: sorted(set(rs)) for grid, rs in owners.items() if grid not in known}
    return report


def parse_rooms(document: Any) -> list[RoomSpec]:
    """``police_rooms.json``: ``[{room_code, name, county_code, grid_codes, officers: [...]}]``."""
    if not isinstance(document, list):
        raise ReferenceDataError(["police_rooms: must be a list of rooms"])
    problems: list[str] = []
    rooms: list[RoomSpec] = []
    seen_rooms: set[str] = set()
    seen_officers: dict[str, str] = {}
    for i, raw in enumerate(document):
        where = f"police_rooms[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: must be an object")
            continue
        code = _text(raw, "room_code", where, problems)
        name = _text(raw, "name", where, problems)
        county = _text(raw, "county_code", where, problems)
        grids = raw.get("grid_codes")
        if not isinstance(grids, list) or not all(isinstance(g, str) and g for g in grids):
            problems.append(f"{where}.grid_codes: must be a list of grid codes")
            grids = []
        twice = sorted({g for g in grids if grids.count(g) > 1})
        if twice:
            problems.append(f"{where}.grid_codes: listed twice: {', '.join(twice)}")
        if code in seen_rooms:
            problems.append(f"{where}.room_code: {code} appears twice")
        seen_rooms.add(code)
        officers: list[OfficerSpec] = []
        raw_officers = raw.get("officers", [])
        if not isinstance(raw_officers, list):
            problems.append(f"{where}.officers: must be a list")
            raw_officers = []
        for j, person in enumerate(raw_officers):
            owhere = f"{where}.officers[{j}]"
            if not isinstance(person, Mapping):
                problems.append(f"{owhere}: must be an object")
                continue
            officer_id = _text(person, "officer_id", owhere, problems)
            officer_name = _text(person, "name", owhere, problems)
            role = person.get("role")
            if role not in {r.value for r in OfficerRole}:
                problems.append(f"{owhere}.role: must be officer or auxiliary, got {role!r}")
                continue
            on_duty = person.get("on_duty", False)
            if not isinstance(on_duty, bool):
                problems.append(f"{owhere}.on_duty: must be true or false")
                continue
            if officer_id in seen_officers:
                problems.append(f"{owhere}.officer_id: {officer_id} is also in room {seen_officers[officer_id]}")
            seen_officers[officer_id] = code
            officers.append(OfficerSpec(officer_id, officer_name, OfficerRole(role), on_duty))
        rooms.append(RoomSpec(code, name, county, tuple(grids), tuple(officers)))
    if problems:
        raise ReferenceDataError(problems)
    return rooms


def _text(raw: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}.{key}: required, a non-empty string")
        return ""
    return value.strip()


@dataclass(frozen=True)
class Shift:
    officer_id: str
    starts_at: datetime
    ends_at: datetime


def on_duty(flag: bool, shifts: Iterable[Shift], at: datetime) -> bool:
    """Duty roster rule: an officer with shifts in the roster is on duty only during a shift;
    one without shifts follows the on-duty flag (imported, or set on the duty board)."""
    scheduled = list(shifts)
    if not scheduled:
        return flag
    return any(s.starts_at <= at < s.ends_at for s in scheduled)


def check_new_shifts(officers: Iterable[str], existing: Iterable[Shift], new: Sequence[Shift]) -> None:
    """New shifts name officers of the room, end after they start and overlap no other shift
    of the same officer; raises ReferenceDataError naming each bad shift."""
    known = set(officers)
    problems: list[str] = []
    taken = list(existing)
    for i, shift in enumerate(new):
        where = f"shifts[{i}]"
        if shift.officer_id not in known:
            problems.append(f"{where}.officer_id: {shift.officer_id} is not an officer of the room")
            continue
        if shift.ends_at <= shift.starts_at:
            problems.append(f"{where}.ends_at: must be after starts_at")
            continue
        clash = next(
            (
                other
                for other in taken
                if other.officer_id == shift.officer_id
                and other.starts_at < shift.ends_at
                and shift.starts_at < other.ends_at
            ),
            None,
        )
        if clash is not None:
            problems.append(
                f"{where}: overlaps {shift.officer_id}'s shift "
                f"{clash.starts_at.isoformat()} – {clash.ends_at.isoformat()}"
            )
            continue
        taken.append(shift)
    if problems:
        raise ReferenceDataError(problems)
