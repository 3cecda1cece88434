"""考核 assessment: by grid, worker, department and centre — cases received, resolved on time,
escalated and the residents' satisfaction — as tables and charts over time, with CSV and Excel
exports. Every figure is dispatch's (``GET /v1/board/stats``); the distribution of cases by
matter, state or level is dispatch's ``GET /v1/board/counts``. For ``cases:manage`` or ``audit:read``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from console import app as core
from console.i18n import translator
from console.screens.charts import line_chart
from console.screens.xlsx import workbook
from console.sessions import Session

router = APIRouter()
STATS_BY = ("grid", "worker", "department", "centre")
BUCKETS = ("day", "week", "month")
COUNT_BY = ("matter", "state", "level")
COLUMNS = ("received", "resolved", "on_time", "on_time_rate", "escalated", "satisfaction_count", "satisfaction_mean")


def _require(session: Session) -> None:
    if not (session.has("cases:manage") or session.has("audit:read")):
        raise HTTPException(status.HTTP_403_FORBIDDEN)


def on_time_rate(row: dict[str, Any]) -> float | None:
    return round(100 * row["on_time"] / row["received"], 1) if row["received"] else None


async def figures(request: Request, session: Session, by: str, bucket: str, days: int) -> list[dict[str, Any]]:
    _require(session)
    since = datetime.now(UTC) - timedelta(days=days)
    params = {"by": by, "bucket": bucket, "since": since.isoformat()}
    answer = await core.call(request, session, "dispatch", "GET", "/v1/board/stats", params=params)
    answer.raise_for_status()
    rows: list[dict[str, Any]] = answer.json()
    return [{**row, "on_time_rate": on_time_rate(row)} for row in rows]


def _choices(request: Request) -> tuple[str, str, int, str]:
    q = request.query_params
    by = q.get("by", "grid") if q.get("by") in STATS_BY else "grid"
    bucket = q.get("bucket", "day") if q.get("bucket") in BUCKETS else "day"
    try:
        days = min(max(int(q.get("days", "30")), 1), 366)
    except ValueError:
        days = 30
    return by, bucket, days, q.get("key", "")


@router.get("/assessment")
async def assessment(request: Request, session: core.SessionDep) -> Response:
    by, bucket, days, key = _choices(request)
    rows = await figures(request, session, by, bucket, days)
    t = translator(core._lang(request))
    totals = [r for r in rows if r["period"] == "total"]
    periods = sorted({r["period"] for r in rows if r["period"] != "total"})
    chosen = [r for r in rows if r["period"] != "total" and (not key or r["key"] == key)]

    def series(name: str) -> list[float | None]:
        return [float(sum(r[name] for r in chosen if r["period"] == p)) for p in periods]

    def mean_satisfaction(period: str) -> float | None:
        rated = [r for r in chosen if r["period"] == period and r["satisfaction_count"]]
        count = sum(r["satisfaction_count"] for r in rated)
        return round(sum(r["satisfaction_mean"] * r["satisfaction_count"] for r in rated) / count, 2) if count else None

    counts = [("received", "assess.received"), ("on_time", "assess.on_time"), ("escalated", "assess.escalated")]
    chart = line_chart(periods, [(t(words), series(name)) for name, words in counts], t("assess.chart"))
    means = [mean_satisfaction(p) for p in periods]
    satisfaction = line_chart(periods, [(t("assess.satisfaction_mean"), means)], t("assess.satisfaction_mean"))
    return core.page(
        request,
        "screens/assessment.html",
        active="assessment",
        rows=totals,
        by=by,
        bucket=bucket,
        days=days,
        key=key,
        stats_by=STATS_BY,
        buckets=BUCKETS,
        columns=COLUMNS,
        chart=chart,
        satisfaction=satisfaction,
        query=f"by={by}&bucket={bucket}&days={days}",
    )


def _table(rows: list[dict[str, Any]], by: str, t: Callable[..., str]) -> list[list[object]]:
    header: list[object] = [t("assess.by." + by), t("assess.period"), *(t("assess." + c) for c in COLUMNS)]
    ordered = sorted(rows, key=lambda r: (r["key"], r["period"] != "total", r["period"]))
    body: list[list[object]] = [
        [r["key"], t("assess.total") if r["period"] == "total" else r["period"]]
        + ["" if r[c] is None else r[c] for c in COLUMNS]
        for r in ordered
    ]
    return [header, *body]


@router.get("/assessment.csv")
async def assessment_csv(request: Request, session: core.SessionDep) -> Response:
    by, bucket, days, _ = _choices(request)
    t = translator(core._lang(request))
    table = _table(await figures(request, session, by, bucket, days), by, t)
    lines = [",".join(str(v).replace(",", " ") for v in row) for row in table]
    body = "\ufeff" + "\r\n".join(lines) + "\r\n"  # a BOM: Excel opens the Chinese header as UTF-8
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="assessment-by-{by}.csv"'},
    )


@router.get("/assessment.xlsx")
async def assessment_xlsx(request: Request, session: core.SessionDep) -> Response:
    by, bucket, days, _ = _choices(request)
    t = translator(core._lang(request))
    table = _table(await figures(request, session, by, bucket, days), by, t)
    return Response(
        workbook(t("assess.title"), table),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="assessment-by-{by}.xlsx"'},
    )


@router.get("/assessment/counts")
async def counts(request: Request, session: core.SessionDep, by: str = "matter") -> Response:
    """Cases by matter, state or level (dispatch's counts)."""
    _require(session)
    by = by if by in COUNT_BY else "matter"
    answer = await core.call(request, session, "dispatch", "GET", "/v1/board/counts", params={"by": by})
    answer.raise_for_status()
    rows: list[dict[str, Any]] = answer.json()
    names = core._matter_names(await core.matters(request, session), core._lang(request))
    return core.page(
        request,
        "screens/assessment_counts.html",
        active="assessment",
        rows=rows,
        by=by,
        count_by=COUNT_BY,
        total=sum(r["cases"] for r in rows),
        peak=max([r["cases"] for r in rows] or [1]),
        names=names,
    )
