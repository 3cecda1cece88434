"""The audit log's hash chain: each row carries the hash of the row before it.

``row_hash = sha256(prev_hash + "\\n" + canonical fields)`` (id order, the first row's
``prev_hash`` is 64 zeros). A row rewritten no longer matches its own hash; a row
deleted, or one slipped in between, breaks the next row's ``prev_hash``. Deleting the
newest rows leaves a valid but shorter chain: compare the head ``govmesh-audit verify``
prints with one kept elsewhere (``--head``).

The hashes are set in the inserting transaction, by a ``before_flush`` hook on every ORM
session (so ``audit.add`` and ``audit.record`` need nothing more). The chain stays linear
with concurrent writers: on PostgreSQL the hook takes a transaction-scoped advisory lock
before it reads the last row (audit writes are few); SQLite has one writer at a time
(``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel import col

from govmesh_runtime.tables import AuditRecord

GENESIS = "0" * 64
# pg_advisory_xact_lock key of the audit chain (each service has its own database).
_LOCK_KEY = 0x61756469745F6C6F  # "audit_lo"


class AuditRow(Protocol):
    id: int | None
    at: datetime
    subject: str
    via: str
    action: str
    resource: str
    resource_id: str | None
    fields: str
    reason: str
    purpose: str
    route: str
    client: str
    trace_id: str | None
    prev_hash: str | None
    row_hash: str | None


def row_hash(prev_hash: str, row: AuditRow) -> str:
    """The hash of a row: its predecessor's hash and every field but the id and the hashes."""
    canonical = json.dumps(
        [
            row.at.astimezone(UTC).isoformat(timespec="microseconds"),
            row.subject,
            row.via,
            row.action,
            row.resource,
            row.resource_id,
            row.fields,
            row.reason,
            row.purpose,
            row.route,
            row.client,
            row.trace_id,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def last_hash(conn: sa.Connection) -> str:
    """The chain's head, under the chain's lock on PostgreSQL (held until the transaction ends)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    query = sa.select(col(AuditRecord.row_hash)).order_by(col(AuditRecord.id).desc()).limit(1)
    head = conn.execute(query).scalar()
    return head or GENESIS


@event.listens_for(Session, "before_flush")
def _chain_new_audit_records(session: Session, _flush_context: Any, _instances: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditRecord)]
    if not new:
        return
    with session.no_autoflush:
        prev = last_hash(session.connection())
    for record in sorted(new, key=lambda r: sa.inspect(r).insert_order):
        record.prev_hash = prev
        record.row_hash = prev = row_hash(prev, record)


@dataclass(frozen=True)
class Verdict:
    rows: int
    head: str
    broken_at: int | None = None  # id of the first row whose link is broken
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(rows: Iterable[AuditRow]) -> Verdict:
    """Walk the rows in id order; the first broken link is named by its row's id."""
    prev, prev_id, count = GENESIS, None, 0
    for row in rows:
        count += 1
        if row.prev_hash != prev:
            before = f"row {prev_id}" if prev_id is not None else "the start of the log"
            return Verdict(
                count, prev, row.id, f"its prev_hash does not match {before}: a row was deleted or inserted before it"
            )
        if row.row_hash != row_hash(prev, row):
            return Verdict(count, prev, row.id, "its contents do not match its hash: the row was changed")
        prev, prev_id = row.row_hash, row.id
    return Verdict(count, prev)
