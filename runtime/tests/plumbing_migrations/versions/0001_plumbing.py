"""The runtime's own tables only, for the runtime's tests: outbox, inbox, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from govmesh_runtime.migrations import chain_audit_log, create_audit_table, create_plumbing_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables()
    create_audit_table()
    chain_audit_log()


def downgrade() -> None:
    raise NotImplementedError
