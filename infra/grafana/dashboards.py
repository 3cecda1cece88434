"""Grafana dashboards as code (Grafana Foundation SDK), generated to JSON for provisioning.

    python infra/grafana/dashboards.py write   # regenerate infra/grafana/dashboards/*.json
    python infra/grafana/dashboards.py check   # exit 1 if the committed JSON is stale

Dashboards are declared as data (rows of panels with their PromQL) so that the
panel-query test can run every query against a real Prometheus.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh

OUT = Path(__file__).parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="govmesh-prometheus")


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class PanelSpec:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    description: str = ""


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]
    job_variable: bool = False
    tags: tuple[str, ...] = field(default=("govmesh",))


def q(expr: str, legend: str = "") -> tuple[Query, ...]:
    return (Query(expr, legend),)


CITY = DashboardSpec(
    uid="govmesh-city",
    title="City overview",
    description="Do cases flow, where are they stuck, which grids are late.",
    rows=(
        (
            "One door",
            (
                PanelSpec(
                    "Cases received per minute by matter",
                    q("sum by (matter) (rate(govmesh_cases_received_total[5m])) * 60", "{{matter}}"),
                    "cpm",
                ),
                PanelSpec(
                    "Cases received per minute by channel",
                    q("sum by (channel) (rate(govmesh_cases_received_total[5m])) * 60", "{{channel}}"),
                    "cpm",
                ),
                PanelSpec(
                    "Time from acceptance to dispatch (p50, p95)",
                    (
                        Query(
                            "histogram_quantile(0.5, sum by (le) (rate(govmesh_case_dispatch_seconds_bucket[5m])))",
                            "p50",
                        ),
                        Query(
                            "histogram_quantile(0.95, sum by (le) (rate(govmesh_case_dispatch_seconds_bucket[5m])))",
                            "p95",
                        ),
                    ),
                    "s",
                ),
            ),
        ),
        (
            "Coordinated handling",
            (
                PanelSpec("Open cases by level", q("sum by (level) (govmesh_cases_open)", "{{level}}")),
                PanelSpec(
                    "Overdue cases by level and county",
                    q("sum by (level, county) (govmesh_cases_overdue)", "{{level}} {{county}}"),
                ),
                PanelSpec(
                    "Tasks done within their deadline",
                    q(
                        'sum(increase(govmesh_tasks_completed_total{within_sla="true"}[1h])) / sum(increase(govmesh_tasks_completed_total[1h]))'  # noqa: E501
                    ),
                    "percentunit",
                    kind="stat",
                ),
                PanelSpec(
                    "Escalations per hour by level",
                    q("sum by (to_level) (increase(govmesh_escalations_total[1h]))", "{{to_level}}"),
                ),
            ),
        ),
        (
            "Mediation and policing",
            (
                PanelSpec(
                    "Mediation outcomes (24 h)",
                    q("sum by (outcome) (increase(govmesh_mediation_outcomes_total[1d]))", "{{outcome}}"),
                ),
                PanelSpec(
                    "Police response time (p90)",
                    q(
                        "histogram_quantile(0.9, sum by (le) (rate(govmesh_policing_response_seconds_bucket[1h])))",
                        "p90",
                    ),
                    "s",
                ),
            ),
        ),
    ),
)

PIPELINE = DashboardSpec(
    uid="govmesh-pipeline",
    title="Pipeline and Kafka health",
    description="Outbox → Kafka → consumers: throughput, lag, backlog, dead letters.",
    rows=(
        (
            "Throughput",
            (
                PanelSpec(
                    "Events published per second by topic",
                    q("topic:govmesh_events_published:rate5m", "{{topic}}"),
                    "ops",
                ),
                PanelSpec(
                    "Events consumed per second by outcome",
                    q(
                        "sum by (topic, outcome) (consumer_topic_outcome:govmesh_events_consumed:rate5m)",
                        "{{topic}} {{outcome}}",
                    ),
                    "ops",
                ),
            ),
        ),
        (
            "Backlog",
            (
                PanelSpec(
                    "Consumer lag by topic",
                    q("consumer_topic:govmesh_consumer_lag_messages:sum", "{{consumer}} {{topic}}"),
                ),
                PanelSpec("Outbox backlog", q("job:govmesh_outbox_backlog:max", "{{job}}")),
                PanelSpec(
                    "Oldest unpublished outbox row",
                    q("max by (job) (govmesh_outbox_oldest_unsent_age_seconds)", "{{job}}"),
                    "s",
                ),
                PanelSpec(
                    "Dead letters (1 h)", q("sum(topic:govmesh_dlq_messages:increase1h) or vector(0)"), kind="stat"
                ),
            ),
        ),
        (
            "Handlers",
            (
                PanelSpec(
                    "Handler duration p95",
                    q("job_handler:govmesh_handler_duration_seconds:p95_5m", "{{job}} {{handler}}"),
                    "s",
                ),
                PanelSpec(
                    "Outbox relay errors per minute",
                    q("sum by (job) (rate(govmesh_outbox_relay_errors_total[5m])) * 60 or vector(0)", "{{job}}"),
                ),
            ),
        ),
    ),
)

SERVICE = DashboardSpec(
    uid="govmesh-service",
    title="Service",
    description="One service at a time: HTTP, handlers, outbox, process.",
    job_variable=True,
    rows=(
        (
            "HTTP",
            (
                PanelSpec(
                    "Requests per second",
                    q('sum by (route) (rate(govmesh_http_requests_total{job="$job"}[5m]))', "{{route}}"),
                    "reqps",
                ),
                PanelSpec("Error ratio (5xx)", q('job:govmesh_http_errors:ratio_rate5m{job="$job"}'), "percentunit"),
                PanelSpec("Latency p99", q('job:govmesh_http_request_duration_seconds:p99_5m{job="$job"}'), "s"),
            ),
        ),
        (
            "Process",
            (
                PanelSpec("Resident memory", q('process_resident_memory_bytes{job="$job"}'), "bytes"),
                PanelSpec("CPU", q('rate(process_cpu_seconds_total{job="$job"}[5m])'), "percentunit"),
                PanelSpec("Outbox backlog", q('govmesh_outbox_backlog{job="$job"}')),
            ),
        ),
    ),
)

VIDEO = DashboardSpec(
    uid="govmesh-video",
    title="Video network",
    description="The Sharp Eyes channels: online state, SIP signalling, alarms.",
    rows=(
        (
            "Channels",
            (
                PanelSpec("Channels online", q('sum(govmesh_video_channels{status="online"})'), kind="stat"),
                PanelSpec(
                    "Share offline",
                    q('sum(govmesh_video_channels{status="offline"}) / sum(govmesh_video_channels)'),
                    "percentunit",
                    kind="stat",
                ),
                PanelSpec("Channels by status", q("sum by (status) (govmesh_video_channels)", "{{status}}")),
            ),
        ),
        (
            "Signalling and alarms",
            (
                PanelSpec(
                    "SIP messages per second by method",
                    q("sum by (method) (rate(govmesh_sip_messages_total[5m]))", "{{method}}"),
                    "ops",
                ),
                PanelSpec("Alarms per minute", q("sum(rate(govmesh_video_alarms_total[5m])) * 60"), "cpm"),
            ),
        ),
    ),
)

DASHBOARDS = (CITY, PIPELINE, SERVICE, VIDEO)


def build(spec: DashboardSpec) -> dict[str, object]:
    board = (
        Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .refresh("10s")
        .time("now-1h", "now")
        .timezone("browser")
    )
    if spec.job_variable:
        board = board.with_variable(
            QueryVariable("job")
            .label("Service")
            .datasource(DATASOURCE)
            .query("label_values(govmesh_http_requests_total, job)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        )
    panel_id = 0
    for row_title, panels in spec.rows:
        panel_id += 1
        board = board.with_row(Row(row_title).id(panel_id))
        for panel in panels:
            panel_id += 1
            builder = StatPanel() if panel.kind == "stat" else TimeseriesPanel()
            builder = builder.id(panel_id).title(panel.title).datasource(DATASOURCE).unit(panel.unit).height(8).span(8)
            if panel.description:
                builder = builder.description(panel.description)
            for ref, query in zip("ABCDEFGH", panel.queries, strict=False):
                builder = builder.with_target(
                    Dataquery().expr(query.expr).legend_format(query.legend or "__auto").ref_id(ref)
                )
            board = board.with_panel(builder)
    return json.loads(JSONEncoder(sort_keys=True, indent=2).encode(board.build()))  # type: ignore[no-any-return]


def rendered() -> dict[Path, str]:
    return {
        OUT / f"{spec.uid}.json": json.dumps(build(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for spec in DASHBOARDS
    }


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    files = rendered()
    if command == "write":
        OUT.mkdir(exist_ok=True)
        for path, text in files.items():
            path.write_text(text)
            print(f"wrote {path}")
        return 0
    stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
    for path in stale:
        print(f"stale: {path} (run: python infra/grafana/dashboards.py write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
