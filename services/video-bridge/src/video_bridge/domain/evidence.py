"""Evidence requests: which channels saw a place during a time window."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

EARTH_RADIUS_M = 6_371_000.0
MAX_WINDOW = timedelta(days=7)
MAX_RADIUS_M = 5_000.0


class InvalidEvidenceRequest(ValueError):
    """With the field and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class EvidenceWindow:
    lat: float
    lon: float
    radius_m: float
    start: datetime
    end: datetime


def validate_window(window: EvidenceWindow) -> None:
    if window.start.tzinfo is None or window.end.tzinfo is None:
        raise InvalidEvidenceRequest("start", "times must carry a UTC offset")
    if window.end <= window.start:
        raise InvalidEvidenceRequest("end", "must be after start")
    if window.end - window.start > MAX_WINDOW:
        raise InvalidEvidenceRequest("end", "the window may span at most 7 days")
    if not 0 < window.radius_m <= MAX_RADIUS_M:
        raise InvalidEvidenceRequest("radius_m", f"must be in (0, {MAX_RADIUS_M:.0f}] metres")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) around a point: a cheap prefilter before distance_m."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon
