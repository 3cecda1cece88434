"""警务 policing: the rooms of the person's places, a room's board (its police tasks with status
and response time, the on-duty roster, the room's response figures) and the police tasks list.
An officer accepts a task (接警), arrives (到场) and closes it from the board. Over policing's
REST API with the ``policing`` scope; an officer bound to a place sees their room(s) only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from console import app as core
from console.i18n import translator
from console.sessions import Session

router = APIRouter()
TASK_STATUSES = ("unrouted", "open", "accepted", "on_scene", "closed")
STEPS = {"accept": "accept", "on-scene": "on-scene", "close": "close"}


def _require(session: Session) -> None:
    if not session.has("policing"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)


def response_s(task: dict[str, Any], until: str) -> float | None:
    """Seconds from the report to a step of the task (accepted_at or on_scene_at)."""
    if not task.get(until):
        return None
    return (datetime.fromisoformat(task[until]) - datetime.fromisoformat(task["reported_at"])).total_seconds()


def minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f}"


def _with_times(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **task,
            "response": minutes(response_s(task, "accepted_at")),
            "arrival": minutes(response_s(task, "on_scene_at")),
        }
        for task in tasks
    ]


@router.get("/policing")
async def rooms_and_tasks(request: Request, session: core.SessionDep) -> Response:
    """The person's rooms and the police tasks of their places, newest first."""
    _require(session)
    rooms = await core.call(request, session, "policing", "GET", "/v1/rooms")
    rooms.raise_for_status()
    wanted = request.query_params.get("status", "")
    params: dict[str, str | int] = {"limit": 200}
    if wanted in TASK_STATUSES:
        params["status"] = wanted
    tasks = await core.call(request, session, "policing", "GET", "/v1/tasks", params=params)
    tasks.raise_for_status()
    items = sorted(tasks.json(), key=lambda t: t["reported_at"], reverse=True)
    return core.page(
        request,
        "screens/policing.html",
        active="policing",
        rooms=rooms.json(),
        tasks=_with_times(items),
        statuses=TASK_STATUSES,
        wanted=wanted,
        minutes=minutes,
    )


@router.get("/policing/home")
async def officer_home(request: Request, session: core.SessionDep) -> Response:
    """A police officer's home: their own room's board (the room of their place), else the rooms."""
    _require(session)
    rooms = await core.call(request, session, "policing", "GET", "/v1/rooms")
    rooms.raise_for_status()
    codes = [room["room_code"] for room in rooms.json()]
    target = f"/policing/rooms/{codes[0]}" if len(codes) == 1 else "/policing"
    return RedirectResponse(target, status.HTTP_303_SEE_OTHER)


@router.get("/policing/rooms/{room_code}")
async def room_board(request: Request, room_code: str, session: core.SessionDep, closed: str = "") -> Response:
    """A room's board: its tasks (open, or all), the on-duty roster and its response figures."""
    _require(session)
    room = await core.call(request, session, "policing", "GET", f"/v1/rooms/{room_code}")
    if room.status_code in (403, 404, 422):
        t = translator(core._lang(request))
        return core.page(request, "error.html", 403, message=t("pol.forbidden"))
    room.raise_for_status()
    params = {"include_closed": "true"} if closed else {}
    tasks = await core.call(request, session, "policing", "GET", f"/v1/rooms/{room_code}/tasks", params=params)
    roster = await core.call(request, session, "policing", "GET", f"/v1/rooms/{room_code}/roster")
    figures = await core.call(request, session, "policing", "GET", f"/v1/rooms/{room_code}/response-times")
    items = sorted(tasks.json() if tasks.status_code == 200 else [], key=lambda t: t["reported_at"], reverse=True)
    officers = {o["officer_id"] for o in roster.json()["officers"]} if roster.status_code == 200 else set()
    # an officer of the room sees first the tasks they hold (accepted by them, not closed)
    mine = (
        [t for t in items if t.get("officer_id") == session.subject and t["status"] != "closed"]
        if session.subject in officers
        else None
    )
    return core.page(
        request,
        "screens/police_room.html",
        mine=_with_times(mine) if mine is not None else None,
        active="policing",
        room=room.json(),
        tasks=_with_times(items),
        roster=roster.json()["officers"] if roster.status_code == 200 else [],
        figures=figures.json() if figures.status_code == 200 else None,
        minutes=minutes,
        closed=bool(closed),
        error=request.query_params.get("error", ""),
    )


@router.post("/policing/tasks/{task_id}/{step}")
async def task_step(
    request: Request,
    task_id: str,
    step: str,
    session: core.SessionDep,
    csrf: Annotated[str, Form()] = "",
    room_code: Annotated[str, Form(max_length=32)] = "",
    outcome: Annotated[str, Form(max_length=32)] = "done",
    summary: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """An officer's step on a task: accept (the credential's subject accepts), on scene, close."""
    core._check_csrf(session, csrf)
    _require(session)
    if step not in STEPS:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    back = f"/policing/rooms/{room_code}" if room_code else "/policing"
    body: dict[str, Any] = {}
    if step == "close":
        if not summary.strip():
            return RedirectResponse(back + "?" + urlencode({"error": "pol.err.summary"}), status.HTTP_303_SEE_OTHER)
        body = {"outcome": outcome, "summary": summary.strip()}
    answer = await core.call(request, session, "policing", "POST", f"/v1/tasks/{task_id}/{STEPS[step]}", json=body)
    if answer.status_code >= 400:
        return RedirectResponse(
            back + "?" + urlencode({"error": core.problem_text(answer)[:300]}), status.HTTP_303_SEE_OTHER
        )
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)
