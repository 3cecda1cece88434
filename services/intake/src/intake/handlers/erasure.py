"""Erasure of a resident's personal data from a case, on their request (the case stays as a tombstone)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_contracts import CasePersonalDataErased
from govmesh_runtime import audit
from govmesh_runtime.tables import OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseLinkRow, ReporterRow, TimelineEntryRow
from intake.handlers.cases import CaseNotFound, ChangeAudit

ERASED = "[erased at the resident's request]"


async def erase_personal_data(
    case_id: UUID, actor: str, at: datetime, uow: UnitOfWork, *, reason: str, audit_change: ChangeAudit
) -> list[str]:
    """Erase what a case holds about people: its text, address, attributes and attachments,
    its reporters' name, phone and ID number (theirs in every case), linked reports' text,
    timeline notes and the payloads of its sent events. The case stays as a tombstone (number,
    matter, status, times, grid) so statistics and the other services' references hold.
    Erased and audited (with the resident's request as the reason) together, or neither.
    Returns the fields erased."""
    session = uow.session
    case = await SqlCaseRepository(session).get(case_id)
    if case is None:
        raise CaseNotFound(str(case_id))
    links = (await session.exec(select(CaseLinkRow).where(col(CaseLinkRow.case_id) == case_id))).all()
    refs = {ref for ref in [case.reporter_ref, *(link.reporter_ref for link in links)] if ref}
    for ref in refs:
        reporter = await session.get(ReporterRow, ref)
        if reporter is not None:
            reporter.name = reporter.phone = reporter.id_number = None
            session.add(reporter)
    case.description = ERASED
    case.address = None
    case.attributes_json = "{}"
    case.attachments_json = "[]"
    case.updated_at = at
    session.add(case)
    for link in links:
        link.description = ERASED
        link.address = None
        link.attachments_json = "[]"
        link.attributes_json = "{}"
        session.add(link)
    notes = (
        await session.exec(
            select(TimelineEntryRow).where(
                col(TimelineEntryRow.case_id) == case_id, col(TimelineEntryRow.note).is_not(None)
            )
        )
    ).all()
    for entry in notes:
        entry.note, entry.note_key, entry.note_args = ERASED, None, None  # a message's values are words too
        session.add(entry)
    # sent events of the case (keyed by its id) keep no payload; unsent ones still go out
    await session.exec(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.key) == str(case_id), col(OutboxMessage.sent_at).is_not(None))
        .values(payload="")
    )
    session.add(TimelineEntryRow(case_id=case_id, kind="personal_data_erased", actor=actor, note=None, at=at))
    uow.emit(CasePersonalDataErased(case_id=case_id, erased_at=at))  # services holding copies erase theirs
    fields = ["description", "address", "attributes", "attachments", "reporter", "linked_reports", "timeline.note"]
    audit.add(session, audit_change(resource_id=str(case_id), fields=fields, reason=reason))
    return fields
