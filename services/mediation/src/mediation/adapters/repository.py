"""Queries on mediation's tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, not_, or_, true
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mediation.adapters.tables import (
    AgreementRow,
    ConflictOfInterestRow,
    DisputeLogRow,
    DisputeRow,
    FollowUpRow,
    MediatorRow,
    PartyRow,
    SessionRow,
    StudioRow,
    WindowRequestRow,
)
from mediation.domain.disputes import DisputeStatus
from mediation.domain.sessions import SessionStatus


def within(column: Any, places: tuple[str, ...] | None) -> Any:
    """A filter: the code column starts with one of the places (None: everywhere). A record
    without a code is in no place."""
    if places is None:
        return true()
    return or_(*(col(column).startswith(place, autoescape=True) for place in places))


class SqlMediationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def dispute(self, dispute_id: uuid.UUID, *, for_update: bool = False) -> DisputeRow | None:
        return await self.session.get(DisputeRow, dispute_id, with_for_update=for_update)

    async def dispute_by_task(self, task_id: uuid.UUID) -> DisputeRow | None:
        result = await self.session.exec(select(DisputeRow).where(col(DisputeRow.task_id) == task_id))
        return result.first()

    async def parties(self, dispute_id: uuid.UUID) -> list[PartyRow]:
        result = await self.session.exec(
            select(PartyRow).where(col(PartyRow.dispute_id) == dispute_id).order_by(col(PartyRow.role))
        )
        return list(result.all())

    async def sessions_of(self, dispute_id: uuid.UUID) -> list[SessionRow]:
        result = await self.session.exec(
            select(SessionRow).where(col(SessionRow.dispute_id) == dispute_id).order_by(col(SessionRow.starts_at))
        )
        return list(result.all())

    async def agreement(self, dispute_id: uuid.UUID) -> AgreementRow | None:
        result = await self.session.exec(select(AgreementRow).where(col(AgreementRow.dispute_id) == dispute_id))
        return result.first()

    async def follow_ups(self, dispute_id: uuid.UUID) -> list[FollowUpRow]:
        result = await self.session.exec(
            select(FollowUpRow).where(col(FollowUpRow.dispute_id) == dispute_id).order_by(col(FollowUpRow.visited_at))
        )
        return list(result.all())

    async def log(self, dispute_id: uuid.UUID) -> list[DisputeLogRow]:
        result = await self.session.exec(
            select(DisputeLogRow)
            .where(col(DisputeLogRow.dispute_id) == dispute_id)
            .order_by(col(DisputeLogRow.at), col(DisputeLogRow.id))
        )
        return list(result.all())

    async def conflicted_mediators(self, dispute_id: uuid.UUID) -> set[str]:
        result = await self.session.exec(
            select(ConflictOfInterestRow.mediator_id).where(col(ConflictOfInterestRow.dispute_id) == dispute_id)
        )
        return set(result.all())

    async def conflicts(self, dispute_id: uuid.UUID) -> list[ConflictOfInterestRow]:
        result = await self.session.exec(
            select(ConflictOfInterestRow).where(col(ConflictOfInterestRow.dispute_id) == dispute_id)
        )
        return list(result.all())

    async def studios(self, *, limit: int | None = None, offset: int = 0) -> list[StudioRow]:
        query = select(StudioRow).order_by(col(StudioRow.id)).limit(limit).offset(offset)
        return list((await self.session.exec(query)).all())

    async def mediators(
        self, studio_id: str | None = None, *, mediator_id: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[MediatorRow]:
        query = select(MediatorRow).order_by(col(MediatorRow.id)).limit(limit).offset(offset)
        if mediator_id is not None:
            query = query.where(col(MediatorRow.id) == mediator_id)
        if studio_id is not None:
            query = query.where(col(MediatorRow.studio_id) == studio_id)
        return list((await self.session.exec(query)).all())

    async def loads(self) -> dict[str, int]:
        """Open disputes held by each mediator."""
        result = await self.session.exec(
            select(DisputeRow.mediator_id, func.count())
            .where(col(DisputeRow.status) != DisputeStatus.CLOSED.value, col(DisputeRow.mediator_id).is_not(None))
            .group_by(col(DisputeRow.mediator_id))
        )
        return {str(mediator): int(count) for mediator, count in result.all()}

    async def booked_between(self, starts_at: datetime, ends_at: datetime) -> list[SessionRow]:
        """Scheduled sessions overlapping [starts_at, ends_at)."""
        result = await self.session.exec(
            select(SessionRow).where(
                col(SessionRow.status) == SessionStatus.SCHEDULED.value,
                col(SessionRow.starts_at) < ends_at,
                col(SessionRow.ends_at) > starts_at,
            )
        )
        return list(result.all())

    async def board(
        self,
        *,
        studio_id: str | None,
        status: str | None,
        category: str | None,
        late: bool | None,
        now: datetime,
        limit: int,
        offset: int,
        places: tuple[str, ...] | None = None,
    ) -> list[DisputeRow]:
        query = select(DisputeRow).where(within(DisputeRow.grid_code, places))
        if late is not None:
            # the same rule as domain.disputes.is_late, or flagged by the sweeper
            is_late = or_(
                col(DisputeRow.late_flagged_at).is_not(None),
                func.coalesce(col(DisputeRow.closed_at), now) > col(DisputeRow.target_close_at),
            )
            query = query.where(is_late if late else not_(is_late))
        if studio_id is not None:
            query = query.where(col(DisputeRow.studio_id) == studio_id)
        if status is not None:
            query = query.where(col(DisputeRow.status) == status)
        else:
            query = query.where(col(DisputeRow.status) != DisputeStatus.CLOSED.value)
        if category is not None:
            query = query.where(col(DisputeRow.category) == category)
        query = query.order_by(col(DisputeRow.target_close_at), col(DisputeRow.id)).limit(limit).offset(offset)
        return list((await self.session.exec(query)).all())

    async def calendar(
        self,
        *,
        starts: datetime,
        ends: datetime,
        studio_id: str | None,
        mediator_id: str | None,
        places: tuple[str, ...] | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[SessionRow]:
        query = select(SessionRow).where(col(SessionRow.starts_at) < ends, col(SessionRow.ends_at) > starts)
        if places is not None:  # a session is where its dispute is
            query = query.join(DisputeRow, col(DisputeRow.id) == col(SessionRow.dispute_id)).where(
                within(DisputeRow.grid_code, places)
            )
        if studio_id is not None:
            query = query.where(col(SessionRow.studio_id) == studio_id)
        if mediator_id is not None:
            query = query.where(col(SessionRow.mediator_id) == mediator_id)
        query = query.order_by(col(SessionRow.starts_at), col(SessionRow.id)).limit(limit).offset(offset)
        return list((await self.session.exec(query)).all())

    async def outcomes_by_category(
        self,
        *,
        closed_from: datetime,
        closed_to: datetime,
        studio_id: str | None,
        places: tuple[str, ...] | None = None,
    ) -> list[tuple[str, str, int]]:
        query = select(DisputeRow.category, DisputeRow.outcome, func.count()).where(
            within(DisputeRow.grid_code, places),
            col(DisputeRow.status) == DisputeStatus.CLOSED.value,
            col(DisputeRow.closed_at) >= closed_from,
            col(DisputeRow.closed_at) < closed_to,
        )
        if studio_id is not None:
            query = query.where(col(DisputeRow.studio_id) == studio_id)
        query = query.group_by(col(DisputeRow.category), col(DisputeRow.outcome))
        return [(str(c), str(o), int(n)) for c, o, n in (await self.session.exec(query)).all()]

    # The sweep's candidates are locked and skipped when another instance holds them
    # (PostgreSQL; SQLite ignores it, one process): each fact is flagged by one sweep only.

    async def late_candidates(self, now: datetime) -> list[DisputeRow]:
        result = await self.session.exec(
            select(DisputeRow)
            .where(
                col(DisputeRow.status) != DisputeStatus.CLOSED.value,
                col(DisputeRow.late_flagged_at).is_(None),
                col(DisputeRow.target_close_at) < now,
            )
            .with_for_update(skip_locked=True)
        )
        return list(result.all())

    async def lapsing_agreements(self, now: datetime) -> list[AgreementRow]:
        result = await self.session.exec(
            select(AgreementRow)
            .where(col(AgreementRow.confirmation_status) == "open", col(AgreementRow.confirmation_deadline) < now)
            .with_for_update(skip_locked=True)
        )
        return list(result.all())

    async def disputes_of_case(self, case_id: uuid.UUID) -> list[DisputeRow]:
        query = select(DisputeRow).where(col(DisputeRow.case_id) == case_id).with_for_update()
        return list((await self.session.exec(query)).all())

    async def windows_of_case(self, case_id: uuid.UUID) -> list[WindowRequestRow]:
        query = select(WindowRequestRow).where(col(WindowRequestRow.case_id) == case_id).with_for_update()
        return list((await self.session.exec(query)).all())

    async def window_by_task(self, task_id: uuid.UUID) -> WindowRequestRow | None:
        result = await self.session.exec(select(WindowRequestRow).where(col(WindowRequestRow.task_id) == task_id))
        return result.first()

    async def window_requests(
        self,
        *,
        kind: str | None,
        status: str | None,
        studio_id: str | None,
        studio_ids: list[str] | None = None,
        limit: int = 500,
        offset: int = 0,
    ) -> list[WindowRequestRow]:
        """``studio_ids``: only requests at these studios (None: anywhere, walk-ins too)."""
        query = select(WindowRequestRow)
        if studio_ids is not None:
            query = query.where(col(WindowRequestRow.studio_id).in_(studio_ids))
        if kind is not None:
            query = query.where(col(WindowRequestRow.kind) == kind)
        if status is not None:
            query = query.where(col(WindowRequestRow.status) == status)
        if studio_id is not None:
            query = query.where(col(WindowRequestRow.studio_id) == studio_id)
        query = query.order_by(col(WindowRequestRow.opened_at), col(WindowRequestRow.id)).limit(limit).offset(offset)
        return list((await self.session.exec(query)).all())
