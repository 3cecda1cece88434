"""The append-only audit log of personal-data reads and changes and of refusals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

from govmesh_runtime.migrations import create_audit_table, drop_audit_table

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_audit_table()


def downgrade() -> None:
    drop_audit_table()
