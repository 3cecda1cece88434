"""The generated city as plain, immutable dataclasses.

Coordinates are kept on an integer lattice of ``UNITS_PER_DEGREE`` steps per degree
(1e-5°, about a metre) so that neighbouring grids share *exactly* the same border
values: the grids tile the territory with no gaps and no overlaps, also after the
conversion to floating-point GeoJSON coordinates (the same integer always becomes
the same float).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

UNITS_PER_DEGREE = 100_000

Scale = Literal["small", "full"]
Level = Literal["community", "township", "county", "city"]
GridFunction = Literal["residential", "commercial", "rural", "industrial", "mixed"]
OfficerRole = Literal["officer", "auxiliary"]
MediatorKind = Literal["full_time", "legal_adviser", "volunteer"]

WINDOWS: tuple[str, ...] = (
    "public_reception",
    "dispute_mediation",
    "legal_consultation",
    "psychological_counselling",
)
"""The windows of every governance centre (综治中心): 群众接待, 矛盾调解, 法律咨询, 心理咨询."""

ELEMENT_CATEGORIES: tuple[str, ...] = ("people", "places", "events", "things", "situations", "organisations")
"""The six categories of grid elements (人、地、事、物、情、组织)."""


def to_degrees(units: int) -> float:
    return units / UNITS_PER_DEGREE


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned rectangle on the lattice: west/south inclusive, east/north exclusive borders."""

    west: int
    south: int
    east: int
    north: int

    def ring(self) -> list[list[float]]:
        """The GeoJSON exterior ring (counter-clockwise, closed) in lon/lat degrees."""
        w, s, e, n = (to_degrees(v) for v in (self.west, self.south, self.east, self.north))
        return [[w, s], [e, s], [e, n], [w, n], [w, s]]

    def contains_strictly(self, lon_units: int, lat_units: int) -> bool:
        return self.west < lon_units < self.east and self.south < lat_units < self.north


@dataclass(frozen=True, slots=True)
class AdminUnit:
    """An administrative division (GB/T 2260 + statistical division codes)."""

    code: str
    name: str
    parent_code: str | None
    level: Level
    box: Box
    urban: bool = False


@dataclass(frozen=True, slots=True)
class Grid:
    grid_code: str
    name: str
    community_code: str
    township_code: str
    county_code: str
    function: GridFunction
    households: int
    population: int
    box: Box


@dataclass(frozen=True, slots=True)
class Centre:
    """A comprehensive governance centre (综治中心) at one of the four levels."""

    centre_code: str
    name: str
    level: Level
    admin_code: str
    windows: tuple[str, ...] = WINDOWS


@dataclass(frozen=True, slots=True)
class Worker:
    """A grid worker (网格员); name and phone are synthetic."""

    worker_id: str
    grid_code: str
    name: str
    phone: str
    on_duty: bool


@dataclass(frozen=True, slots=True)
class Officer:
    officer_id: str
    name: str
    role: OfficerRole
    on_duty: bool


@dataclass(frozen=True, slots=True)
class PoliceRoom:
    """A community police room (社区警务室) and the grids it covers."""

    room_code: str
    name: str
    county_code: str
    grid_codes: tuple[str, ...]
    officers: tuple[Officer, ...]


@dataclass(frozen=True, slots=True)
class Channel:
    """A GB/T 28181 video channel (camera) under an NVR device."""

    channel_id: str
    device_id: str
    name: str
    lat: float
    lon: float
    civil_code: str
    manufacturer: str
    model: str
    grid_code: str  # where it stands; not written to channels.json (the reader locates it)


@dataclass(frozen=True, slots=True)
class Mediator:
    """A mediator of a studio: full-time (专职), a legal adviser (法律顾问) or a volunteer peacemaker (和事佬)."""

    mediator_id: str
    name: str
    kind: MediatorKind
    skills: tuple[str, ...]  # mediation's dispute categories
    capacity: int


@dataclass(frozen=True, slots=True)
class Studio:
    """A people's mediation studio (人民调解工作室) at the dispute-mediation window of a centre."""

    studio_id: str
    name: str
    area_code: str  # the division it serves (a prefix of its grids' codes)
    rooms: tuple[str, ...]
    mediators: tuple[Mediator, ...]


@dataclass(frozen=True, slots=True)
class City:
    scale: Scale
    seed: int
    territory: Box
    city: AdminUnit
    counties: tuple[AdminUnit, ...]
    townships: tuple[AdminUnit, ...]
    communities: tuple[AdminUnit, ...]
    grids: tuple[Grid, ...]
    centres: tuple[Centre, ...]
    workers: tuple[Worker, ...]
    police_rooms: tuple[PoliceRoom, ...]
    channels: tuple[Channel, ...]
    studios: tuple[Studio, ...]
    default_elements: int
