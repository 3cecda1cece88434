"""Mediation's own Prometheus metrics (bounded labels: the outcome of a dispute or window request)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from prometheus_client import Counter
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_contracts import TaskOutcome

MEDIATION_OUTCOMES = Counter(
    "govmesh_mediation_outcomes_total",
    "Mediation tasks closed, by outcome (done, referred, withdrawn, failed) and kind (dispute, window).",
    ["outcome", "kind"],
)
for _outcome in TaskOutcome:
    for _kind in ("dispute", "window"):
        MEDIATION_OUTCOMES.labels(_outcome.value, _kind)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never for a rolled-back one)."""
    sa.event.listen(session.sync_session, "after_commit", lambda _session: action(), once=True)
