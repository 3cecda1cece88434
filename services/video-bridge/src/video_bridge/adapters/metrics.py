"""Video-bridge's own Prometheus metrics (bounded labels: SIP method, alarm source and priority,
channel status). The channel gauge is counted from the bridge's own tables every few seconds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from prometheus_client import Counter, Gauge
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime.app import Runtime
from govmesh_runtime.uow import after_commit as after_commit  # handlers call metrics.after_commit
from video_bridge.adapters.tables import ChannelRow

SIP_METHODS = ("REGISTER", "MESSAGE", "NOTIFY", "ACK", "OPTIONS", "BYE", "CANCEL", "INVITE", "SUBSCRIBE", "INFO")
SIP_MESSAGES = Counter("govmesh_sip_messages_total", "SIP requests received, by method (other: the rest).", ["method"])
VIDEO_ALARMS = Counter(
    "govmesh_video_alarms_total",
    "Alarms raised (repeats not counted), by source (sip, webhook) and priority (1 highest to 4).",
    ["source", "priority"],
)
VIDEO_CHANNELS = Gauge("govmesh_video_channels", "Registered video channels, by status (online, offline).", ["status"])

for _method in (*SIP_METHODS, "other"):
    SIP_MESSAGES.labels(_method)
for _source in ("sip", "webhook"):
    for _priority in ("1", "2", "3", "4"):
        VIDEO_ALARMS.labels(_source, _priority)
for _status in ("online", "offline"):
    VIDEO_CHANNELS.labels(_status)


def sip_method(method: str) -> str:
    """The method as a bounded label value."""
    return method if method in SIP_METHODS else "other"


def alarm_priority(priority: int) -> str:
    return str(priority) if 1 <= priority <= 4 else "other"


async def refresh_channel_gauge(session: AsyncSession) -> None:
    rows = (await session.exec(select(col(ChannelRow.online), func.count()).group_by(col(ChannelRow.online)))).all()
    counts = {bool(online): count for online, count in rows}
    VIDEO_CHANNELS.labels("online").set(counts.get(True, 0))
    VIDEO_CHANNELS.labels("offline").set(counts.get(False, 0))


def channel_gauge_job(interval_s: float = 5.0) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """A background job (``create_app(background=[...])``) recounting the channels every ``interval_s``."""

    async def channel_gauge(runtime: Runtime) -> None:
        while True:
            async with runtime.db.sessions() as session:
                await refresh_channel_gauge(session)
            await asyncio.sleep(interval_s)

    return channel_gauge
