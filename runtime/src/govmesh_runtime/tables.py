"""The outbox and inbox tables every service has in its own database."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from govmesh_kit.clock import system_clock
from govmesh_runtime.types import utc_column

# BIGINT autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigIntId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class OutboxMessage(SQLModel, table=True):
    """An event written in the same transaction as the state change that caused it.

    The relay publishes unsent rows in id order and then sets ``sent_at``; a row the broker
    refuses for what it is (too large, invalid) gets ``parked_at`` and the reason instead, and
    the rows behind it go on (``govmesh_outbox_parked_rows``, alert ``GovmeshOutboxRowParked``)."""

    __tablename__ = "outbox"
    __table_args__ = (
        sa.Index("ix_outbox_unsent", "sent_at", "id"),
        # The relay counts parked rows each round: a partial index keeps that off the whole table.
        sa.Index(
            "ix_outbox_parked",
            "parked_at",
            postgresql_where=sa.text("parked_at IS NOT NULL"),
            sqlite_where=sa.text("parked_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigIntId, primary_key=True, autoincrement=True))
    event_id: str = Field(max_length=64, unique=True)
    event_type: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    headers: str = Field(sa_column=sa.Column(sa.Text, nullable=False), description="JSON list of [name, value] pairs")
    payload: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    parked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    park_reason: str | None = Field(default=None, max_length=2000)


class InboxMessage(SQLModel, table=True):
    """An event a consumer has applied; the unique key makes a redelivery a no-op."""

    __tablename__ = "inbox"
    __table_args__ = (sa.UniqueConstraint("consumer", "event_id", name="uq_inbox_consumer_event"),)

    id: int | None = Field(default=None, sa_column=sa.Column(BigIntId, primary_key=True, autoincrement=True))
    consumer: str = Field(max_length=100)
    event_id: str = Field(max_length=200)
    event_type: str = Field(max_length=200)
    topic: str = Field(max_length=200)
    partition: int
    offset: int = Field(sa_column=sa.Column("offset", sa.BigInteger, nullable=False))
    processed_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class AuditRecord(SQLModel, table=True):
    """One audited access: who, what, when, why. Append-only (UPDATE and DELETE refused by trigger),
    each row chained to the one before it by hash."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_subject", "subject", "id"),
        sa.Index("ix_audit_log_resource", "resource", "resource_id"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigIntId, primary_key=True, autoincrement=True))
    at: datetime = Field(default_factory=system_clock, sa_column=utc_column())
    subject: str = Field(max_length=200, description="The credential's subject; 'anonymous' without one.")
    via: str = Field(max_length=20, description="jwt, api_key or none.")
    action: str = Field(max_length=20, description="read, change, refused or unauthenticated.")
    resource: str = Field(max_length=100, description="What kind of record, e.g. case, dispute, police-task.")
    resource_id: str | None = Field(default=None, max_length=200)
    fields: str = Field(default="", max_length=500, description="Personal fields read or changed, comma-separated.")
    reason: str = Field(default="", max_length=500, description="Why it was refused, or what the change was.")
    purpose: str = Field(default="", max_length=500, description="The purpose the caller stated (X-Purpose).")
    route: str = Field(default="", max_length=200, description="Method and route template of the request.")
    client: str = Field(default="", max_length=100, description="The client's address.")
    trace_id: str | None = Field(default=None, max_length=32)
    # The hash chain (govmesh_runtime.audit_chain): set when the row is flushed.
    prev_hash: str | None = Field(default=None, max_length=64, description="row_hash of the row before it.")
    row_hash: str | None = Field(default=None, max_length=64, description="sha256 over prev_hash and this row.")
