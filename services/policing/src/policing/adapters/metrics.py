"""Policing's own Prometheus metrics (bounded labels: task source and priority only)."""

from __future__ import annotations

from prometheus_client import Histogram

_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)

RESPONSE = Histogram(
    "govmesh_policing_response_seconds",
    "Police tasks: from the report (assigned, alarm or flag time) to acceptance by an officer.",
    ["source", "priority"],
    buckets=_BUCKETS,
)
ARRIVAL = Histogram(
    "govmesh_policing_arrival_seconds",
    "Police tasks: from the report to the officer's arrival on scene.",
    ["source", "priority"],
    buckets=_BUCKETS,
)
