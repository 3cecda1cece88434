"""调解 mediation: a mediator's actions on a dispute, each studio's session calendar (a week,
server-rendered) and the agreements with their judicial-confirmation deadlines.

All over mediation's REST API (``mediation`` scope to act; reading needs ``cases:read``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from console import app as core
from console.sessions import Session

router = APIRouter()
NEAR_DEADLINE = timedelta(days=7)  # an agreement's confirmation deadline this near is highlighted
ACTIONS = ("sessions", "agreement", "withdrawal", "referral", "assignment", "judicial-confirmation")
PARTY_ROLES = ("applicant", "respondent", "third_party")


def _require(session: Session) -> None:
    if not session.has("mediation"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)


def beijing(day: date, clock: str) -> datetime:
    """A day and HH:MM as read in Beijing, as an aware time."""
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=core.BEIJING)


def _body(action: str, form: dict[str, str]) -> dict[str, Any] | str:
    """The service's request body for an action, or the key of the form's error."""
    if action == "sessions":
        try:
            starts = beijing(date.fromisoformat(form["day"]), form["start"])
        except (KeyError, ValueError):
            return "med.err.when"
        minutes = int(form.get("minutes") or 60)
        if not form.get("room", "").strip():
            return "med.err.room"
        return {
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(minutes=minutes)).isoformat(),
            "room": form["room"].strip(),
        }
    if action == "agreement":
        if not form.get("term", "").strip():
            return "med.err.term"
        if not form.get("due_on"):
            return "med.err.due_on"
        body: dict[str, Any]
        term = {
            "obligor": form.get("obligor") or "respondent",
            "action": form["term"].strip(),
            "due_on": form["due_on"],
        }
        body = {"terms": [term]}
        # An agreement signed on an earlier day is recorded with that day (its confirmation
        # deadline counts from the signing); today's is signed now.
        if form.get("signed_on") and form["signed_on"] != datetime.now(core.BEIJING).date().isoformat():
            try:
                body["signed_at"] = beijing(date.fromisoformat(form["signed_on"]), "12:00").isoformat()
            except ValueError:
                return "med.err.signed_on"
        return body
    if action in ("withdrawal", "referral"):
        if not form.get("reason", "").strip():
            return "med.err.reason"
        body = {"reason": form["reason"].strip()}
        if action == "referral":
            body["referral_to"] = form.get("referral_to") or "court"
        return body
    if action == "assignment":
        return {"mediator_id": form.get("mediator_id", "").strip() or None, "reason": form.get("reason") or None}
    return {}


@router.post("/mediation/{dispute_id}/{action}")
async def act(request: Request, dispute_id: str, action: str, session: core.SessionDep) -> Response:
    """One of the mediator's steps on a dispute; back to the dispute's file with the outcome."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    core._check_csrf(session, form.get("csrf", ""))
    _require(session)
    if action not in ACTIONS:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    back = f"/mediation?open={dispute_id}"
    body = _body(action, form)
    if isinstance(body, str):
        return RedirectResponse(back + "&" + urlencode({"error": body}), status.HTTP_303_SEE_OTHER)
    path = f"/v1/disputes/{dispute_id}/{action}"
    answer = await core.call(request, session, "mediation", "POST", path, json=body)
    if answer.status_code >= 400:
        return RedirectResponse(
            back + "&" + urlencode({"error": core.problem_text(answer)[:300]}), status.HTTP_303_SEE_OTHER
        )
    return RedirectResponse(back + "&" + urlencode({"done": action}), status.HTTP_303_SEE_OTHER)


@router.post("/mediation/sessions/{session_id}/cancel")
async def cancel_session(
    request: Request,
    session_id: str,
    session: core.SessionDep,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form()] = "/mediation/calendar",
) -> Response:
    core._check_csrf(session, csrf)
    _require(session)
    back = back if back.startswith("/") and not back.startswith("//") else "/mediation/calendar"
    body = {"reason": reason.strip() or "cancelled at the studio"}
    answer = await core.call(request, session, "mediation", "POST", f"/v1/sessions/{session_id}/cancel", json=body)
    sep = "&" if "?" in back else "?"
    if answer.status_code >= 400:
        return RedirectResponse(
            back + sep + urlencode({"error": core.problem_text(answer)[:300]}), status.HTTP_303_SEE_OTHER
        )
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


def week_start(value: str) -> date:
    """The Monday of the week of a date (today in Beijing when none or a bad one is given)."""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = datetime.now(core.BEIJING).date()
    return day - timedelta(days=day.weekday())


@router.get("/mediation/calendar")
async def calendar(request: Request, session: core.SessionDep, studio: str = "", week: str = "") -> Response:
    """A studio's sessions in one week (Monday to Sunday, Beijing time), one column per day."""
    if not session.has("cases:read") or not session.has("mediation"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    monday = week_start(week)
    studios_answer = await core.call(request, session, "mediation", "GET", "/v1/studios")
    studios: list[dict[str, Any]] = studios_answer.json() if studios_answer.status_code == 200 else []
    if not studio and studios:
        studio = studios[0]["studio_id"]
    starts = beijing(monday, "00:00")
    params = {"from": starts.isoformat(), "to": (starts + timedelta(days=7)).isoformat()}
    if studio:
        params["studio_id"] = studio
    answer = await core.call(request, session, "mediation", "GET", "/v1/sessions", params=params)
    rows: list[dict[str, Any]] = answer.json() if answer.status_code == 200 else []
    days: list[dict[str, Any]] = [{"date": monday + timedelta(days=i), "sessions": []} for i in range(7)]
    for row in sorted(rows, key=lambda r: r["starts_at"]):
        local = datetime.fromisoformat(row["starts_at"]).astimezone(core.BEIJING)
        index = (local.date() - monday).days
        if 0 <= index < 7:
            days[index]["sessions"].append(
                {
                    **row,
                    "start": local.strftime("%H:%M"),
                    "end": datetime.fromisoformat(row["ends_at"]).astimezone(core.BEIJING).strftime("%H:%M"),
                }
            )
    return core.page(
        request,
        "screens/mediation_calendar.html",
        active="mediation",
        studios=studios,
        studio=studio,
        days=days,
        today=datetime.now(core.BEIJING).date(),
        prev_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
        monday=monday,
        error=request.query_params.get("error", ""),
        back=core._next_url(request),
    )


def deadline_tone(deadline: str | None, confirmation: str, now: datetime) -> str:
    """over: the deadline passed (or lapsed) without an application; near: within a week; else calm."""
    if confirmation == "lapsed":
        return "over"
    if not deadline or confirmation != "open":
        return "calm"
    at = datetime.fromisoformat(deadline)
    if at < now:
        return "over"
    return "near" if at - now <= NEAR_DEADLINE else "calm"


@router.get("/mediation/agreements")
async def agreements(request: Request, session: core.SessionDep) -> Response:
    """Agreed disputes and their agreements, the nearest confirmation deadline first."""
    if not session.has("cases:read") or not session.has("mediation"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    answer = await core.call(
        request, session, "mediation", "GET", "/v1/disputes", params={"status": "agreed", "limit": 100}
    )
    answer.raise_for_status()
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []
    for dispute in answer.json():
        found = await core.call(request, session, "mediation", "GET", f"/v1/disputes/{dispute['dispute_id']}")
        if found.status_code != 200 or not found.json().get("agreement"):
            continue
        agreement = found.json()["agreement"]
        tone = deadline_tone(agreement.get("confirmation_deadline"), agreement.get("confirmation_status") or "", now)
        items.append({"dispute": dispute, "agreement": agreement, "tone": tone})
    items.sort(key=lambda i: i["agreement"].get("confirmation_deadline") or "9999")
    return core.page(request, "screens/mediation_agreements.html", active="mediation", items=items)
