"""Contact-data reads move into the runtime's audit log: the old rows are copied over (their
reader was the self-declared ``X-Reader`` header, kept as ``via``), then contact_reads goes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_reads = sa.table(
    "contact_reads",
    sa.column("party_id", sa.Uuid()),
    sa.column("dispute_id", sa.Uuid()),
    sa.column("reader", sa.String()),
    sa.column("purpose", sa.String()),
    sa.column("read_at", sa.DateTime(timezone=True)),
)
_audit_log = sa.table(
    "audit_log",
    *(sa.column(name, sa.String()) for name in ("subject", "via", "action", "resource", "resource_id")),
    *(sa.column(name, sa.String()) for name in ("fields", "reason", "purpose", "route", "client")),
    sa.column("at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_reads).order_by(_reads.c.read_at)).all()
    if rows:
        bind.execute(
            sa.insert(_audit_log),
            [
                {
                    "at": row.read_at,
                    "subject": row.reader,
                    "via": "x-reader",  # self-declared, not a verified credential
                    "action": "read",
                    "resource": "party",
                    "resource_id": str(row.party_id),
                    "fields": "id_number,name,phone",
                    "reason": f"dispute {row.dispute_id}",
                    "purpose": row.purpose,
                    "route": "GET /v1/disputes/{dispute_id}/parties/{party_id}/contact",
                    "client": "",
                }
                for row in rows
            ],
        )
    op.drop_index("ix_contact_reads_party_id", table_name="contact_reads")
    op.drop_table("contact_reads")


def downgrade() -> None:
    # The moved rows stay in the append-only audit log.
    op.create_table(
        "contact_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("reader", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_reads_party_id", "contact_reads", ["party_id"])
