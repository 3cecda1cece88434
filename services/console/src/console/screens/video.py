"""视频 video: devices and channels with their online status (paged), recent alarms, and video
evidence on a case: what video-bridge's API offers today (``grid:read`` to read; a request for
evidence needs ``evidence:attach``). The case's evidence entries come from intake's timeline."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import Response

from console import app as core
from console.sessions import Session

router = APIRouter()
VIDEO_SCOPES = ("cases:manage", "policing", "devices:manage", "evidence:attach")


def may_see_video(session: Session) -> bool:
    """Video is for the centres, the police and the device administrators (not for every grid:read)."""
    return session.has("grid:read") and any(session.has(scope) for scope in VIDEO_SCOPES)


def _require(session: Session) -> None:
    if not may_see_video(session):
        raise HTTPException(status.HTTP_403_FORBIDDEN)


@router.get("/video")
async def channels(
    request: Request,
    session: core.SessionDep,
    online: str = "",
    q: str = "",
    cursor: str = "",
    page_no: int = 1,
    dev_cursor: str = "",
    dev_page: int = 1,
) -> Response:
    """Channels (paged by video-bridge's cursor, filter by online status or id/name), and the
    devices they belong to (paged the same way). A page links to the next one and to the first."""
    _require(session)
    size = core._console(request).settings.page_size
    params: dict[str, str | int] = {"limit": size}
    if cursor:
        params["cursor"] = cursor
    if online in ("true", "false"):
        params["online"] = online
    if q.strip():
        params["q"] = q.strip()
    answer = await core.call(request, session, "video", "GET", "/v1/channels", params=params)
    answer.raise_for_status()
    listing = answer.json()
    device_params: dict[str, str | int] = {"limit": size}
    if dev_cursor:
        device_params["cursor"] = dev_cursor
    devices = await core.call(request, session, "video", "GET", "/v1/devices", params=device_params)
    device_page = devices.json() if devices.status_code == 200 else {"items": [], "next_cursor": None}
    query = urlencode({k: v for k, v in {"online": online, "q": q}.items() if v})
    here = urlencode({"cursor": cursor, "page_no": max(page_no, 1)} if cursor else {})
    return core.page(
        request,
        "screens/video.html",
        active="video",
        tab="channels",
        listing=listing,
        devices=device_page["items"],
        dev_page=max(dev_page, 1),
        dev_next=urlencode({"dev_cursor": device_page["next_cursor"], "dev_page": max(dev_page, 1) + 1})
        if device_page["next_cursor"]
        else "",
        filters={"online": online, "q": q},
        filter_query=query,
        here=here,
        page_no=max(page_no, 1) if cursor else 1,
        next_page=urlencode({"cursor": listing["next_cursor"], "page_no": max(page_no, 1) + 1})
        if listing["next_cursor"]
        else "",
    )


@router.get("/video/alarms")
async def alarms(request: Request, session: core.SessionDep, channel: str = "") -> Response:
    _require(session)
    params: dict[str, str | int] = {"limit": 100}
    if channel:
        params["channel_id"] = channel
    answer = await core.call(request, session, "video", "GET", "/v1/alarms", params=params)
    rows = answer.json()["items"] if answer.status_code == 200 else []
    return core.page(request, "screens/video_alarms.html", active="video", tab="alarms", alarms=rows, channel=channel)


async def _case(request: Request, session: Session, number: str) -> dict[str, Any] | None:
    """A case by its number (or id), as intake shows it to this person."""
    number = number.strip()
    if not number:
        return None
    found = await core.call(request, session, "intake", "GET", "/v1/cases", params={"q": number, "limit": 5})
    if found.status_code == 200:
        for item in found.json()["items"]:
            if number in (item["case_number"], item["id"]):
                full = await core.call(request, session, "intake", "GET", f"/v1/cases/{item['id']}")
                if full.status_code == 200:
                    case: dict[str, Any] = full.json()
                    return case
    return None


def _evidence_page(
    request: Request,
    case: dict[str, Any] | None,
    number: str,
    result: dict[str, Any] | None,
    error: str,
    code: int = 200,
) -> Response:
    entries = [e for e in (case or {}).get("timeline", []) if e.get("kind") == "evidence_attached"]
    return core.page(
        request,
        "screens/video_evidence.html",
        code,
        active="video",
        tab="evidence",
        case=case,
        number=number,
        entries=entries,
        result=result,
        error=error,
    )


@router.get("/video/evidence")
async def evidence(request: Request, session: core.SessionDep, case: str = "") -> Response:
    _require(session)
    found = await _case(request, session, case)
    error = "video.case.none" if case and found is None else ""
    return _evidence_page(request, found, case, None, error)


@router.post("/video/evidence")
async def request_evidence(
    request: Request,
    session: core.SessionDep,
    csrf: Annotated[str, Form()] = "",
    case: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Ask video-bridge for the recordings of the cameras near the case's place around its time. The
    bridge knows the case's place and time (it learnt them from intake's CaseReceived): the request
    names only the case, so nobody can search cameras elsewhere in its name."""
    core._check_csrf(session, csrf)
    _require(session)
    if not session.has("evidence:attach"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    found = await _case(request, session, case)
    if found is None:
        return _evidence_page(request, None, case, None, "video.case.none", 404)
    if found.get("lat") is None or found.get("lon") is None:
        return _evidence_page(request, found, case, None, "video.case.no_place", 422)
    body = {"case_id": found["id"]}
    answer = await core.call(request, session, "video", "POST", "/v1/evidence", json=body)
    if answer.status_code != 201:
        return _evidence_page(request, found, case, None, core.problem_text(answer)[:300], answer.status_code)
    return _evidence_page(request, found, case, answer.json(), "")
