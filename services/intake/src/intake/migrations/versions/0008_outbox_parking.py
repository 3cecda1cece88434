"""Outbox rows that can never be published are set aside (parked_at, park_reason).

Revision ID: outbox_parking
Revises: 0007_audit_chain
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from govmesh_runtime.migrations import add_outbox_parking, drop_outbox_parking

revision: str = "outbox_parking"
down_revision: str | None = "0007_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    add_outbox_parking()


def downgrade() -> None:
    drop_outbox_parking()
