"""Return visits (回访): a task's kind and the satisfaction its answer carries; an index
for the feedback-window timer (resolved cases by when they resolved).

Revision ID: 0004_return_visits
Revises: outbox_parking
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_return_visits"
down_revision: str | None = "outbox_parking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_tasks") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="handling"))
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))
    op.create_index("ix_dispatch_cases_feedback_timer", "dispatch_cases", ["status", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_dispatch_cases_feedback_timer", table_name="dispatch_cases")
    with op.batch_alter_table("dispatch_tasks") as batch:
        batch.drop_column("satisfaction")
        batch.drop_column("kind")
