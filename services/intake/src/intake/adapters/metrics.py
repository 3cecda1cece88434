"""Intake's own Prometheus metrics (bounded labels: matter code from the taxonomy, channel)."""

from __future__ import annotations

from prometheus_client import Counter

from govmesh_runtime.uow import after_commit as after_commit  # handlers call metrics.after_commit

CASES_RECEIVED = Counter(
    "govmesh_cases_received_total",
    "New cases accepted (duplicates linked to an open case not counted), by matter code and channel.",
    ["matter", "channel"],
)
