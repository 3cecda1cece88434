"""Dispatch cases; outbox and inbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from govmesh_runtime.migrations import create_plumbing_tables, drop_plumbing_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables()
    op.create_table(
        "dispatch_cases",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("case_number", sa.String(32), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False, index=True),
        sa.Column("grid_code", sa.String(32), nullable=True, index=True),
        sa.Column("status", sa.String(32), nullable=False, index=True),
        sa.Column("handled_by", sa.String(100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dispatch_cases")
    drop_plumbing_tables()
