"""A closed case keeps the resident's satisfaction (from their feedback) for the assessment figures.

Revision ID: 0006_case_satisfaction
Revises: 0005_webhook_parking
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_case_satisfaction"
down_revision: str | None = "0005_webhook_parking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_cases") as batch:
        batch.add_column(sa.Column("satisfaction", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_cases") as batch:
        batch.drop_column("satisfaction")
