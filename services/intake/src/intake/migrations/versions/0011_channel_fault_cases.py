"""Maintenance cases of camera outages: the bridge's fault id → the case (one case per outage).

Revision ID: 0011_channel_fault_cases
Revises: 0010_drop_police_task_cases
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_channel_fault_cases"
down_revision: str | None = "0010_drop_police_task_cases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_fault_cases",
        sa.Column("fault_id", sa.Uuid, primary_key=True),
        sa.Column("channel_id", sa.String(20), nullable=False, index=True),
        sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("cleared_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("channel_fault_cases")
