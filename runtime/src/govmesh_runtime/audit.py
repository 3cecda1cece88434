"""The audit log: every read or change of personal data and every refusal, append-only.

Who (the credential's subject), what (action, resource, its id, the personal fields),
when, and why (the purpose the caller states in ``X-Purpose``, or the refusal's reason).
Each service keeps its own ``audit_log`` table in its own database; the table refuses
UPDATE and DELETE by trigger (see ``migrations.create_audit_table``), so not even the
service itself can rewrite history; each row carries the hash of the row before it
(``audit_chain``), and ``govmesh-audit verify`` names the first broken link. Auditors read
it at ``GET /v1/audit`` with the ``audit:read`` scope.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime import audit_chain, metrics  # noqa: F401  (audit_chain: its flush hook chains each new row)
from govmesh_runtime.tables import AuditRecord

if TYPE_CHECKING:
    from govmesh_runtime.auth import Principal

PURPOSE_HEADER = "X-Purpose"
AUDIT_SCOPE = "audit:read"


class Action(StrEnum):
    READ = "read"  # personal data shown unmasked
    CHANGE = "change"  # personal data written or changed
    REFUSED = "refused"  # 403: the credential does not allow it
    UNAUTHENTICATED = "unauthenticated"  # 401: no or a bad credential


def entry(
    *,
    principal: Principal | None,
    action: Action,
    resource: str,
    resource_id: str | None = None,
    fields: Iterable[str] = (),
    reason: str = "",
    purpose: str | None = None,
    route: str = "",
    client: str | None = None,
    trace_id: str | None = None,
) -> AuditRecord:
    metrics.AUDIT_RECORDS.labels(action.value).inc()
    return AuditRecord(
        at=datetime.now(UTC),
        subject=principal.subject if principal else "anonymous",
        via=principal.via if principal else "none",
        action=action.value,
        resource=resource[:100],
        resource_id=resource_id[:200] if resource_id else None,
        fields=",".join(sorted(set(fields)))[:500],
        reason=reason[:500],
        purpose=(purpose or "")[:500],
        route=route[:200],
        client=(client or "")[:100],
        trace_id=trace_id,
    )


def add(session: AsyncSession, record: AuditRecord) -> None:
    """Audit a change in the same transaction as the change: both commit or neither."""
    session.add(record)


async def record(sessions: async_sessionmaker[AsyncSession], *records: AuditRecord) -> None:
    """Audit a read or a refusal in its own short transaction."""
    async with sessions() as session, session.begin():
        session.add_all(records)


class FailedAuthentications:
    """401s counted per source (the client's address) per minute, in memory; ``take`` turns
    each finished minute (or, at shutdown, every minute) into one audit row with the count.

    Bounded: at most ``max_sources`` (source, minute) keys and a few distinct reasons each;
    beyond that the counts go to the source ``(many)``."""

    def __init__(self, clock: Clock = system_clock, max_sources: int = 10_000) -> None:
        self.clock = clock
        self.max_sources = max_sources
        self._counts: dict[tuple[str, datetime], Counter[str]] = {}

    def count(self, source: str, reason: str) -> None:
        minute = self.clock().replace(second=0, microsecond=0)
        key = (source, minute)
        if key not in self._counts and len(self._counts) >= self.max_sources:
            key = ("(many)", minute)
        reasons = self._counts.setdefault(key, Counter())
        if reason not in reasons and len(reasons) >= 5:
            reason = "other reasons"
        reasons[reason] += 1

    def take(self, *, everything: bool) -> list[AuditRecord]:
        current = self.clock().replace(second=0, microsecond=0)
        records = []
        for key in [k for k in self._counts if everything or k[1] < current]:
            source, minute = key
            reasons = self._counts.pop(key)
            total = sum(reasons.values())
            listed = "; ".join(f"{reason} ×{n}" for reason, n in reasons.most_common())
            row = entry(
                principal=None,
                action=Action.UNAUTHENTICATED,
                resource="request",
                reason=f"{total} failed authentication{'s' if total != 1 else ''} in the minute: {listed}",
                client=source,
            )
            row.at = minute
            records.append(row)
        return records
