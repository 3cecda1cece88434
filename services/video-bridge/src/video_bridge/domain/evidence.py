"""Evidence for a case: which cases the bridge searches by itself, the window around a case,
which channels are near its point, and pages of recordings (a record size is bounded)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from govmesh_kit.distances import EARTH_RADIUS_M

T = TypeVar("T")

MAX_RADIUS_M = 5_000.0


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, max_lat, min_lon, max_lon) around a point: a cheap prefilter before the distance."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon


def wants_evidence(channel: str, matter_code: str, matters: Sequence[str], excluded: Sequence[str]) -> bool:
    """Does the bridge search by itself for a case received from ``channel`` as ``matter_code``?
    Cases born from a video alarm do (their camera saw it), and cases of the configured matters;
    never the excluded ones (a dead camera's maintenance case)."""
    if matter_code in excluded:
        return False
    return channel == "video" or matter_code in matters


def window_around(received_at: datetime, before_s: float, after_s: float) -> tuple[datetime, datetime]:
    """The time window searched around a case: from ``before_s`` before it to ``after_s`` after."""
    return received_at - timedelta(seconds=before_s), received_at + timedelta(seconds=max(after_s, 1.0))


def pages(items: Sequence[T], size: int) -> list[list[T]]:
    """Items in pages of at most ``size``; no items is one empty page (the search is still told)."""
    if size < 1:
        raise ValueError("page size must be at least 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)] or [[]]
