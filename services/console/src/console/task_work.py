"""我的任务 beyond accept and complete: the grid worker's return visits (回访) and grid visits (走访).

A return visit is a task of its own (``kind=return_visit``) that dispatch opens for a share of
closed cases; the worker answers it with whether the resident was reached and their
satisfaction (dispatch ``POST /v1/tasks/{id}/return-visit``). Grid visits follow the visit
plans a centre sets for the grid (dispatch ``/v1/visit-plans``); the worker records each one
(``POST /v1/visit-records``: households visited, residents' views), on a plan or not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from console.app import SessionDep, _check_csrf, call
from console.sessions import Session

router = APIRouter()


def _back(error: str | None = None, anchor: str = "") -> Response:
    query = "?" + urlencode({"error": error}) if error else ""
    return RedirectResponse(f"/tasks{query}{anchor}", status.HTTP_303_SEE_OTHER)


def _grid_of(session: Session) -> str | None:
    """A grid worker's grid: their place, when it is one grid (15 digits)."""
    return session.place if session.place and len(session.place) == 15 else None


async def visits(request: Request, session: Session) -> dict[str, Any]:
    """The visit plans and the latest visit records of the worker's grid (empty without a grid)."""
    grid = _grid_of(session)
    if grid is None or not session.has("grid:read"):
        return {"grid": None, "plans": [], "records": []}
    plans = await call(request, session, "dispatch", "GET", "/v1/visit-plans", params={"grid_code": grid})
    records = await call(
        request, session, "dispatch", "GET", "/v1/visit-records", params={"grid_code": grid, "limit": 10}
    )
    return {
        "grid": grid,
        "plans": plans.json() if plans.status_code == 200 else [],
        "records": records.json() if records.status_code == 200 else [],
    }


@router.post("/tasks/{task_id}/return-visit")
async def answer_return_visit(
    request: Request,
    task_id: str,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    reached: Annotated[str, Form(max_length=3)] = "",
    satisfaction: Annotated[str, Form(max_length=1)] = "",
    comment: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    _check_csrf(session, csrf)
    if not session.has("tasks:work"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    if reached not in ("yes", "no"):
        return _back("tasks.rv.reached.required")
    body: dict[str, Any] = {"reached": reached == "yes", "comment": comment.strip() or None}
    if reached == "yes":
        if satisfaction not in ("1", "2", "3", "4", "5"):
            return _back("tasks.rv.satisfaction.required")
        body["satisfaction"] = int(satisfaction)
    answer = await call(request, session, "dispatch", "POST", f"/v1/tasks/{task_id}/return-visit", json=body)
    if answer.status_code == 200:
        return _back()
    return _back("tasks.action.conflict" if answer.status_code == 409 else "tasks.action.failed")


@router.post("/tasks/visits")
async def record_visit(
    request: Request,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    plan_id: Annotated[str, Form(max_length=40)] = "",
    households: Annotated[str, Form(max_length=6)] = "",
    views: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    _check_csrf(session, csrf)
    grid = _grid_of(session)
    if not session.has("tasks:work") or grid is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    if not households.strip().isdigit() or int(households) > 10_000:
        return _back("tasks.visit.households.bad", "#visits")
    if not views.strip():
        return _back("tasks.visit.views.required", "#visits")
    body: dict[str, Any] = {
        "grid_code": grid,
        "visited_at": datetime.now(UTC).isoformat(),
        "households_visited": int(households),
        "views": views.strip(),
    }
    if plan_id:
        body["plan_id"] = plan_id
    answer = await call(request, session, "dispatch", "POST", "/v1/visit-records", json=body)
    if answer.status_code == 201:
        return _back(anchor="#visits")
    return _back("tasks.action.failed", "#visits")
