"""Checks of a report's fields and the box around a point. Plain Python (masking and distances: ``govmesh_kit``)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_SERVICE = re.compile(r"^(110|119|120|122|12345|12348|12355|12356|96\d{3,4})$")


def resident_id_error(value: str) -> str | None:
    """GB 11643-1999 citizen identity number: 17 digits + check character (0-9 or X), a real birth date."""
    v = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return "must be 18 characters: 17 digits and a check digit or X (GB 11643)"
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "birth date (characters 7-14) is not a valid date (GB 11643)"
    expected = _ID_CHECK[sum(int(d) * w for d, w in zip(v[:17], _ID_WEIGHTS, strict=True)) % 11]
    if v[17] != expected:
        return "check digit does not match (GB 11643 checksum)"
    return None


def phone_error(value: str) -> str | None:
    """A mainland mobile (1[3-9] + 9 digits, optional +86) or a landline with area code (0931-1234567)."""
    v = re.sub(r"[\s]", "", value)
    if v.startswith("+86"):
        v = v[3:]
    if _MOBILE.match(v) or _LANDLINE.match(v) or _SERVICE.match(v):
        return None
    return "must be a mainland mobile number (11 digits starting 13-19) or a landline with area code"


def normalise_phone(value: str) -> str:
    v = re.sub(r"[\s]", "", value)
    return v[3:] if v.startswith("+86") else v


@dataclass(frozen=True)
class Bounds:
    """The jurisdiction's bounding box (WGS 84)."""

    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def errors(self, lat: float, lon: float) -> dict[str, str]:
        out: dict[str, str] = {}
        if not self.min_lat <= lat <= self.max_lat:
            out["lat"] = f"outside the jurisdiction (latitude {self.min_lat}–{self.max_lat})"
        if not self.min_lon <= lon <= self.max_lon:
            out["lon"] = f"outside the jurisdiction (longitude {self.min_lon}–{self.max_lon})"
        return out


def degrees_around(lat: float, metres: float) -> tuple[float, float]:
    """Half-sizes (dlat, dlon) of a box that contains every point within ``metres`` of a point at ``lat``."""
    dlat = metres / 111_000 * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    return dlat, dlon
