"""Intake's own Prometheus metrics (bounded labels: matter code from the taxonomy, channel)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from prometheus_client import Counter
from sqlmodel.ext.asyncio.session import AsyncSession

CASES_RECEIVED = Counter(
    "govmesh_cases_received_total",
    "New cases accepted (duplicates linked to an open case not counted), by matter code and channel.",
    ["matter", "channel"],
)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never for a rolled-back one)."""
    sa.event.listen(session.sync_session, "after_commit", lambda _session: action(), once=True)
