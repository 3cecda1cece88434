"""Photos of a task (现场照片): the grid worker's completion form uploads them to dispatch (one
request per photo, the bytes as they came; dispatch judges their kind by their bytes and bounds
their size and number), and the case drawer shows them as thumbnails served through the console
with the signed-in person's token (dispatch checks the person's places; the browser never
holds the token)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, HTTPException, Request, UploadFile, status
from fastapi.responses import Response

from console import app as core
from console.i18n import translator
from console.sessions import Session

router = APIRouter()
# dispatch's refusals of a photo, in the reader's words (the status says which; the text may
# be JSON of FastAPI's shape or problem+json, so it is only the fallback)
REFUSALS = {413: "photo.too_large", 415: "photo.unsupported", 409: "photo.conflict", 403: "photo.forbidden"}


def _detail(answer: httpx.Response) -> str:
    """The reason a service gave: ``detail`` of problem+json or FastAPI's body, else the text."""
    try:
        body: Any = answer.json()
    except ValueError:
        return answer.text[:200]
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)[:200]
    return str(detail or body.get("title") or answer.text)[:200] if isinstance(body, dict) else answer.text[:200]


async def upload(request: Request, session: Session, task_id: str, files: list[UploadFile]) -> str | None:
    """Each chosen photo to dispatch, in order; the first refusal as a message, or None."""
    t = translator(core._lang(request))
    for file in files:
        if not file.filename:  # an untouched file input sends one empty part
            continue
        data = await file.read()
        answer = await core.call(
            request,
            session,
            "dispatch",
            "POST",
            f"/v1/tasks/{task_id}/photos",
            content=data,
            headers={"Content-Type": "application/octet-stream"},  # dispatch reads the bytes, not this
        )
        if answer.status_code != status.HTTP_201_CREATED:
            key = REFUSALS.get(answer.status_code)
            if key is not None:
                return t(key, name=file.filename)
            return t("photo.refused", name=file.filename, detail=_detail(answer))
    return None


async def of_case(request: Request, session: Session, case_id: str) -> list[dict[str, Any]]:
    """The case's photos (without their bytes), or none when dispatch does not show them."""
    answer = await core.call(request, session, "dispatch", "GET", f"/v1/cases/{case_id}/photos")
    return list(answer.json()) if answer.status_code == 200 else []


@router.get("/photos/{photo_id}")
async def photo(request: Request, photo_id: str, session: core.SessionDep) -> Response:
    """A photo's bytes, fetched with the person's own token (403/404 as dispatch decides)."""
    if not session.has("cases:read"):
        raise HTTPException(status.HTTP_403_FORBIDDEN)
    answer = await core.call(request, session, "dispatch", "GET", f"/v1/photos/{photo_id}")
    if answer.status_code != 200:
        raise HTTPException(answer.status_code if answer.status_code in (403, 404, 422) else 502)
    kind = answer.headers.get("content-type", "")
    if kind not in ("image/jpeg", "image/png", "image/webp"):
        raise HTTPException(status.HTTP_502_BAD_GATEWAY)
    return Response(answer.content, media_type=kind, headers={"Cache-Control": "private, max-age=86400"})
