"""Photos of a task (完成任务附照片): the task's assignee uploads them from the site before
completing it; whoever may see the case (its grid within their places) lists and views them.

A photo is the request body itself (one photo per request, any Content-Type): its kind is read
from its first bytes (JPEG, PNG or WebP), never from a name or a declared type. Bounded by the
settings ``DISPATCH_PHOTO_MAX_BYTES`` (413 beyond) and ``DISPATCH_PHOTOS_PER_TASK`` (409 beyond).
The completion's event (``TaskCompleted``) carries the photos' ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from pydantic import BaseModel

from dispatch.adapters.photos import case_photos, count_task_photos
from dispatch.adapters.repository import get_task_for_update, is_open
from dispatch.adapters.tables import DispatchCaseRow, TaskPhotoRow, TaskRow
from dispatch.domain.photos import KINDS, media_type_of
from dispatch.entrypoints.api.deps import CaseReader, RuntimeDep, TaskWorker, bad_request, refusals
from dispatch.settings import DispatchSettings
from govmesh_runtime import access
from govmesh_runtime.problems import Problem

router = APIRouter(tags=["photos"], responses=refusals(403, 404))

_UPLOAD_REFUSALS: dict[int | str, dict[str, Any]] = {
    **refusals(409, 422),
    413: {"model": Problem, "description": "The photo is larger than DISPATCH_PHOTO_MAX_BYTES."},
    415: {"model": Problem, "description": "The body is not a JPEG, PNG or WebP image (by its bytes)."},
}


class PhotoPublic(BaseModel):
    photo_id: UUID
    task_id: UUID
    case_id: UUID
    media_type: str
    size: int
    uploaded_by: str
    uploaded_at: datetime
    url: str  # where the photo's bytes are served (same credential)


def _public(row: Any) -> PhotoPublic:
    return PhotoPublic(
        photo_id=row.photo_id,
        task_id=row.task_id,
        case_id=row.case_id,
        media_type=row.media_type,
        size=row.size,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        url=f"/v1/photos/{row.photo_id}",
    )


def _limits(request: Request) -> tuple[int, int]:
    """(largest photo in bytes, photos per task) from dispatch's settings."""
    settings = request.app.state.runtime.settings
    assert isinstance(settings, DispatchSettings)
    return settings.photo_max_bytes, settings.photos_per_task


async def _read_photo(request: Request, max_bytes: int) -> bytes:
    """The body, refused (413) as soon as it passes the limit: a huge upload is not held whole."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"photo: larger than {max_bytes:,} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > max_bytes:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"photo: larger than {max_bytes:,} bytes")
    return bytes(data)


@router.post(
    "/v1/tasks/{task_id}/photos",
    status_code=status.HTTP_201_CREATED,
    summary="The task's assignee adds a photo taken on site (the body: JPEG, PNG or WebP)",
    responses=_UPLOAD_REFUSALS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in KINDS},
        }
    },
)
async def add_photo(task_id: UUID, request: Request, caller: TaskWorker, runtime: RuntimeDep) -> PhotoPublic:
    max_bytes, per_task = _limits(request)
    async with runtime.db.sessions() as session:
        task = await session.get(TaskRow, task_id)
    await access.guard_place(
        request, caller, resource="task", resource_id=str(task_id), place=task.grid_code if task else None,
        found=task is not None,
    )  # fmt: skip
    assert task is not None  # guard_place answered 404 otherwise
    if task.assignee is None or caller.subject != task.assignee:
        # only the one who works the task on site; a centre has no photos to add
        reason = f"photos of this task are added by its assignee ({task.assignee or 'none'}), not {caller.subject}"
        raise await access.refuse(request, caller, reason, "task", str(task_id))
    data = await _read_photo(request, max_bytes)
    if not data:
        raise bad_request("photo", "the body is empty: send the photo's bytes")
    kind = media_type_of(data)
    if kind is None:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "photo: not a JPEG, PNG or WebP image (judged by its bytes)"
        )
    async with runtime.db.sessions() as session:
        locked = await get_task_for_update(session, task_id)  # one count at a time per task
        if locked is None or not is_open(locked):
            state = locked.state if locked else "gone"
            raise HTTPException(status.HTTP_409_CONFLICT, f"task: {state}; photos are added before completing it")
        if await count_task_photos(session, task_id) >= per_task:
            raise HTTPException(status.HTTP_409_CONFLICT, f"photo: a task carries at most {per_task} photos")
        row = TaskPhotoRow(
            task_id=task_id,
            case_id=locked.case_id,
            grid_code=locked.grid_code,
            media_type=kind,
            size=len(data),
            content=data,
            uploaded_by=caller.subject,
            uploaded_at=datetime.now(UTC),
        )
        session.add(row)
        public = _public(row)
        await session.commit()
    return public


@router.get("/v1/cases/{case_id}/photos", summary="The photos of a case's tasks (without their bytes)")
async def list_case_photos(
    case_id: UUID, request: Request, caller: CaseReader, runtime: RuntimeDep
) -> list[PhotoPublic]:
    async with runtime.db.sessions() as session:
        case = await session.get(DispatchCaseRow, case_id)
        rows = await case_photos(session, case_id) if case is not None else []
    await access.guard_place(
        request, caller, resource="case", resource_id=str(case_id), place=case.grid_code if case else None,
        found=case is not None,
    )  # fmt: skip
    return [_public(row) for row in rows]


@router.get(
    "/v1/photos/{photo_id}",
    summary="A photo's bytes, to whoever may see its case",
    response_class=Response,
    responses={200: {"content": {kind: {} for kind in KINDS}}},
)
async def get_photo(photo_id: UUID, request: Request, caller: CaseReader, runtime: RuntimeDep) -> Response:
    async with runtime.db.sessions() as session:
        row = await session.get(TaskPhotoRow, photo_id)
    await access.guard_place(
        request, caller, resource="photo", resource_id=str(photo_id), place=row.grid_code if row else None,
        found=row is not None,
    )  # fmt: skip
    assert row is not None  # guard_place answered 404 otherwise
    # a photo never changes: the browser may keep it, for this person only
    return Response(row.content, media_type=row.media_type, headers={"Cache-Control": "private, max-age=86400"})
