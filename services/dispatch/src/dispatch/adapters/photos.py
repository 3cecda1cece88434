"""Dispatch's store of task photos (its own database, table ``dispatch_task_photos``)."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import TaskPhotoRow

# every column but the bytes: lists never load the photos themselves
LISTED: tuple[Any, ...] = (
    TaskPhotoRow.photo_id,
    TaskPhotoRow.task_id,
    TaskPhotoRow.case_id,
    TaskPhotoRow.grid_code,
    TaskPhotoRow.media_type,
    TaskPhotoRow.size,
    TaskPhotoRow.uploaded_by,
    TaskPhotoRow.uploaded_at,
)


async def task_photo_ids(session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
    """The task's photos in upload order."""
    query = (
        select(TaskPhotoRow.photo_id)
        .where(col(TaskPhotoRow.task_id) == task_id)
        .order_by(col(TaskPhotoRow.uploaded_at), col(TaskPhotoRow.photo_id))
    )
    return list((await session.exec(query)).all())


async def count_task_photos(session: AsyncSession, task_id: uuid.UUID) -> int:
    query = sa.select(sa.func.count()).select_from(TaskPhotoRow).where(col(TaskPhotoRow.task_id) == task_id)
    return int((await session.execute(query)).scalar_one())


async def case_photos(session: AsyncSession, case_id: uuid.UUID) -> list[Any]:
    """The case's photos (without their bytes), task by task in upload order."""
    query = (
        sa.select(*LISTED)
        .where(col(TaskPhotoRow.case_id) == case_id)
        .order_by(col(TaskPhotoRow.uploaded_at), col(TaskPhotoRow.photo_id))
    )
    return list((await session.execute(query)).all())
