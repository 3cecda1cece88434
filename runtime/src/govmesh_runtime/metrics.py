"""Prometheus metrics of the shared plumbing (one process = one service).

Labels are bounded: routes are templates, topics and event types come from the
contracts registry, outcomes are a fixed set. Never a case id or a person.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("govmesh_http_requests_total", "HTTP requests answered.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "govmesh_http_request_duration_seconds",
    "HTTP request duration.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HANDLER_DURATION = Histogram(
    "govmesh_handler_duration_seconds",
    "Duration of one handler run, by outcome (ok, error).",
    ["handler", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
USE_CASES = Counter(
    "govmesh_use_cases_total",
    "Commands run through the service's registry, by outcome (ok, refused: a domain error, error).",
    ["use_case", "outcome"],
)
JOB_RUNS = Counter(
    "govmesh_job_runs_total",
    "Rounds of a periodic job (govmesh_runtime.jobs), by outcome (ok, error).",
    ["job", "outcome"],
)
EVENTS_CONSUMED = Counter(
    "govmesh_events_consumed_total",
    "Kafka records taken by a consumer, by outcome (processed, duplicate, ignored, dead_lettered).",
    ["consumer", "topic", "outcome"],
)
CONSUMER_LAG = Gauge(
    "govmesh_consumer_lag_messages",
    "Records behind the partition's high watermark.",
    ["consumer", "topic", "partition"],
)
EVENTS_PUBLISHED = Counter("govmesh_events_published_total", "Outbox events acknowledged by Kafka.", ["topic"])
OUTBOX_BACKLOG = Gauge("govmesh_outbox_backlog", "Outbox rows not yet published.")
OUTBOX_OLDEST_AGE = Gauge("govmesh_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished outbox row.")
OUTBOX_PARKED_ROWS = Gauge(
    "govmesh_outbox_parked_rows", "Outbox rows set aside because the broker refuses them (too large, invalid)."
)
OUTBOX_PARKED = Counter("govmesh_outbox_parked_total", "Outbox rows set aside by the relay.", ["topic"])
ROWS_PRUNED = Counter(
    "govmesh_rows_pruned_total", "Rows deleted past their retention (outbox, inbox, idempotency keys).", ["table"]
)
RELAY_ERRORS = Counter("govmesh_outbox_relay_errors_total", "Failed outbox publish attempts.")
DLQ_MESSAGES = Counter("govmesh_dlq_messages_total", "Records sent to a dead-letter topic.", ["topic"])
AUDIT_RECORDS = Counter("govmesh_audit_records_total", "Audit log entries written.", ["action"])
RATE_LIMITED = Counter("govmesh_http_rate_limited_total", "Requests refused by the per-client rate limit.")
BODY_TIMEOUTS = Counter("govmesh_http_body_timeouts_total", "Requests whose body did not arrive in time (408).")
AUTH_FAILURES = Counter("govmesh_http_auth_failures_total", "Requests refused for no or a bad credential (401).")
# HTTP methods as labels: an allow-list, anything else is "other" (a method is the client's to invent).
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


BODY_TOO_LARGE = Counter("govmesh_http_body_too_large_total", "Requests refused for a body above the size limit.")
