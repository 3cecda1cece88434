"""The case board's decisions of a centre (cases:manage): cancel (撤销), escalate (上报), close (结案).

Each is one form in the case drawer, posted here and passed on with the person's own token to
the service that owns the decision: intake cancels a case, dispatch escalates and closes it.
The console checks what it can say in the person's words (a reason given, a case number that
exists) and turns the services' refusals into the board's own messages (``action.*`` keys of
the catalogue), so an error reads in Chinese whatever the service answered."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response

from console.app import SessionDep, _check_csrf, call

router = APIRouter()

CANCEL_REASONS = ("withdrawn", "mis_report", "merged")
# What a refusal of the owning service means on the board, per HTTP status (else action.failed).
REFUSALS = {403: "action.forbidden", 404: "action.forbidden", 409: "action.{name}.conflict"}


def _back(case_id: str, error: str | None = None) -> Response:
    query = "?" + urlencode({"error": error}) if error else ""
    return RedirectResponse(f"/cases/{case_id}{query}", status.HTTP_303_SEE_OTHER)


def _refused(case_id: str, name: str, code: int) -> Response:
    if code == 200:
        return _back(case_id)
    return _back(case_id, REFUSALS.get(code, "action.failed").format(name=name))


@router.post("/cases/{case_id}/cancel")
async def cancel_case(
    request: Request,
    case_id: str,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=20)] = "",
    merged_into: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A centre cancels the whole case (intake): withdrawn, a mis-report, or merged into another."""
    _check_csrf(session, csrf)
    if not session.has("cases:manage"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    if reason not in CANCEL_REASONS:
        return _back(case_id, "action.cancel.reason")
    body: dict[str, str] = {"reason": reason}
    if reason == "merged":
        number = merged_into.strip()
        if not number:
            return _back(case_id, "action.cancel.merged_into")
        # People know the other case by its number; intake wants its id.
        found = await call(request, session, "intake", "GET", "/v1/cases", params={"q": number, "limit": 5})
        match = [c for c in found.json()["items"] if c["case_number"] == number] if found.status_code == 200 else []
        if not match or match[0]["id"] == case_id:
            return _back(case_id, "action.cancel.merged_unknown")
        body["merged_into"] = match[0]["id"]
    if note.strip():
        body["note"] = note.strip()
    answer = await call(request, session, "intake", "POST", f"/v1/cases/{case_id}/cancel", json=body)
    return _refused(case_id, "cancel", answer.status_code)


@router.post("/cases/{case_id}/escalate")
async def escalate_case(
    request: Request,
    case_id: str,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A centre sends the case one level up (dispatch)."""
    _check_csrf(session, csrf)
    if not session.has("cases:manage"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    if not reason.strip():
        return _back(case_id, "action.reason.required")
    body = {"reason": reason.strip()}
    answer = await call(request, session, "dispatch", "POST", f"/v1/cases/{case_id}/escalate", json=body)
    return _refused(case_id, "escalate", answer.status_code)


@router.post("/cases/{case_id}/close")
async def close_case(
    request: Request,
    case_id: str,
    session: SessionDep,
    csrf: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A centre closes a resolved case (dispatch)."""
    _check_csrf(session, csrf)
    if not session.has("cases:manage"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    if not note.strip():
        return _back(case_id, "action.note.required")
    answer = await call(request, session, "dispatch", "POST", f"/v1/cases/{case_id}/close", json={"note": note.strip()})
    return _refused(case_id, "close", answer.status_code)
