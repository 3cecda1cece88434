"""Unit of work: one database transaction holding a state change, the events it
emits (outbox rows) and, for consumers, the inbox record of the event it applies."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_contracts import Envelope, Event, encode, envelope_for, topic_for
from govmesh_runtime.errors import EventTooLarge
from govmesh_runtime.kafka import record_size
from govmesh_runtime.tables import InboxMessage, OutboxMessage


class UnitOfWork:
    """Use as ``async with uow_factory(...) as uow``; handlers change state through
    ``uow.session`` and call ``uow.emit``; whoever opened the unit commits it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        source: str,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        on_commit: Callable[[], None] | None = None,
        max_event_bytes: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._max_event_bytes = max_event_bytes  # below the topics' own limits (a smaller cluster's)
        self.source = source
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.traceparent = traceparent
        self._on_commit = on_commit
        self._session: AsyncSession | None = None
        self.emitted: list[tuple[Envelope, Event]] = []
        # Values read once per transaction (a consumer batch is one): routing rules, centres …
        self.memo: dict[str, Any] = {}

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("UnitOfWork used outside 'async with'")
        return self._session

    async def __aenter__(self) -> UnitOfWork:
        self._session = self._sessions()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        session = self.session
        try:
            if session.in_transaction():
                await session.rollback()
        finally:
            await session.close()
            self._session = None

    def emit(self, event: Event) -> Envelope:
        """Queue an event for publication; it is written with the transaction.

        Raises :class:`EventTooLarge` when the record exceeds its topic's limit: the caller's
        transaction then rolls back, instead of an outbox row the broker will always refuse."""
        envelope = envelope_for(
            event,
            source=self.source,
            correlationid=self.correlation_id,
            causationid=self.causation_id,
            traceparent=self.traceparent,  # this hop's span is the parent of the next
        )
        record = encode(event, envelope)
        limit = topic_for(event).max_message_bytes
        if self._max_event_bytes is not None:
            limit = min(limit, self._max_event_bytes)
        size = record_size(record.key, record.value, record.headers)
        if size > limit:
            raise EventTooLarge(envelope.type, record.topic, size, limit)
        self.session.add(
            OutboxMessage(
                event_id=envelope.id,
                event_type=envelope.type,
                topic=record.topic,
                key=record.key.decode(),
                headers=json.dumps([[name, value.decode()] for name, value in record.headers]),
                payload=record.value.decode(),
            )
        )
        self.emitted.append((envelope, event))
        return envelope

    async def seen(self, consumer: str, event_id: str) -> bool:
        result = await self.session.exec(
            select(InboxMessage.id).where(
                col(InboxMessage.consumer) == consumer, col(InboxMessage.event_id) == event_id
            )
        )
        return result.first() is not None

    async def seen_many(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Which of these event ids the consumer has applied already: one query for a batch."""
        if not event_ids:
            return set()
        result = await self.session.exec(
            select(InboxMessage.event_id).where(
                col(InboxMessage.consumer) == consumer, col(InboxMessage.event_id).in_(set(event_ids))
            )
        )
        return set(result.all())

    def record_inbox(self, consumer: str, envelope: Envelope, topic: str, partition: int, offset: int) -> None:
        self.session.add(
            InboxMessage(
                consumer=consumer,
                event_id=envelope.id,
                event_type=envelope.type,
                topic=topic,
                partition=partition,
                offset=offset,
            )
        )

    async def commit(self) -> None:
        await self.session.commit()
        if self.emitted and self._on_commit is not None:
            self._on_commit()


UnitOfWorkFactory = Callable[..., UnitOfWork]


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction commits (never on rollback): for
    counters and histograms that must not count work that was undone."""
    sa.event.listen(session.sync_session, "after_commit", lambda _session: action(), once=True)
