"""Cases as the resident sees them: number, status and timeline."""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

CASE_NUMBER = re.compile(r"^\d{6}-\d{8}-\d{6}$")


class CaseStatus(StrEnum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"


class Channel(StrEnum):
    WINDOW = "window"
    HOTLINE = "hotline"
    TERMINAL = "terminal"
    API = "api"
    OPEN311 = "open311"
    VIDEO = "video"


def case_number(centre_code: str, day: date, sequence: int) -> str:
    """Human-readable and sortable: centre code, date, daily sequence (620702-20261125-000042)."""
    if not re.fullmatch(r"\d{6}", centre_code):
        raise ValueError("centre code must be 6 digits (GB/T 2260 administrative division)")
    if not 1 <= sequence <= 999_999:
        raise ValueError("daily sequence out of range")
    return f"{centre_code}-{day:%Y%m%d}-{sequence:06d}"
