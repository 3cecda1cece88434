"""Migration 0004: contact reads recorded before the audit log move into it, nothing lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa

from govmesh_runtime.db import sync_url, upgrade
from mediation.bootstrap import MIGRATIONS


def test_old_contact_reads_move_into_the_audit_log(database_url: str) -> None:
    upgrade(MIGRATIONS, database_url, "0003")
    engine = sa.create_engine(sync_url(database_url))
    reads = sa.table(
        "contact_reads",
        sa.column("party_id", sa.Uuid()),
        sa.column("dispute_id", sa.Uuid()),
        sa.column("reader", sa.String()),
        sa.column("purpose", sa.String()),
        sa.column("read_at", sa.DateTime(timezone=True)),
    )
    party, dispute = uuid.uuid4(), uuid.uuid4()
    read_at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(reads),
            [{"party_id": party, "dispute_id": dispute, "reader": "M-0001", "purpose": "notice", "read_at": read_at}],
        )
    try:
        upgrade(MIGRATIONS, database_url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT subject, via, action, resource, resource_id, fields, reason, purpose FROM audit_log")
            ).all()
            assert not sa.inspect(conn).has_table("contact_reads")
    finally:
        engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("M-0001", "x-reader", "read", "party", str(party), "id_number,name,phone", f"dispute {dispute}", "notice")
    ]
