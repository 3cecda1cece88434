"""Mediation's own Prometheus metrics (bounded labels: the outcome of a dispute or window request)."""

from __future__ import annotations

from prometheus_client import Counter

from govmesh_contracts import TaskOutcome
from govmesh_runtime.uow import after_commit as after_commit  # handlers call metrics.after_commit

MEDIATION_OUTCOMES = Counter(
    "govmesh_mediation_outcomes_total",
    "Mediation tasks closed, by outcome (done, referred, withdrawn, failed) and kind (dispute, window).",
    ["outcome", "kind"],
)
for _outcome in TaskOutcome:
    for _kind in ("dispute", "window"):
        MEDIATION_OUTCOMES.labels(_outcome.value, _kind)
