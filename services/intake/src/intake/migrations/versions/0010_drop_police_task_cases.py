"""Drop the police-task → case join table: every police task event now names its case (case_id).

Revision ID: 0010_drop_police_task_cases
Revises: 0006_return_visits
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_drop_police_task_cases"
down_revision: str | None = "0006_return_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("police_task_cases")


def downgrade() -> None:
    # The table comes back empty: the events since the upgrade name their case themselves.
    op.create_table(
        "police_task_cases",
        sa.Column("police_task_id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False),
    )
