"""Dispatch's own Prometheus metrics (bounded labels: levels, targets, outcomes)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

TASKS_ESCALATED = Counter("dispatch_tasks_escalated_total", "Task escalations, by level reached.", ["to_level"])
WEBHOOK_DELIVERIES = Counter(
    "dispatch_webhook_attempts_total", "Department webhook attempts, by outcome (delivered, failed).", ["outcome"]
)
WEBHOOK_BACKLOG = Gauge("dispatch_webhook_backlog", "Department webhook deliveries not yet delivered.")
GRIDS_INDEXED = Gauge("dispatch_grids_indexed", "Grids in the point-lookup index.")
