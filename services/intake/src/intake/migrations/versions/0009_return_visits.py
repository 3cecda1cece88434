"""Closing without feedback and return visits (回访): how a case closed, and the rating a
return visit brought back.

Revision ID: 0006_return_visits
Revises: outbox_parking
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_return_visits"
down_revision: str | None = "outbox_parking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "cases", sa.Column("closed_without_feedback", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("cases", sa.Column("return_visit_satisfaction", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("return_visit_satisfaction")
        batch.drop_column("closed_without_feedback")
