"""When a device is online: keepalives every interval, offline after N missed ones."""

from __future__ import annotations

from datetime import datetime, timedelta

CATALOG_EVENTS_ONLINE = {"ON": True, "OFF": False, "VLOST": False, "DEFECT": False}


def offline_deadline(last_seen: datetime, interval_s: float, max_missed: int) -> datetime:
    return last_seen + timedelta(seconds=interval_s * max_missed)


def is_timed_out(last_seen: datetime, now: datetime, interval_s: float, max_missed: int) -> bool:
    """True once ``max_missed`` keepalive intervals passed without a sign of life."""
    return now > offline_deadline(last_seen, interval_s, max_missed)


def channel_online(device_online: bool, channel_status: str | None) -> bool:
    """A channel is online when its device is and the channel itself says ON (or nothing)."""
    if not device_online:
        return False
    return channel_status is None or channel_status.upper() in ("ON", "ONLINE", "OK")
