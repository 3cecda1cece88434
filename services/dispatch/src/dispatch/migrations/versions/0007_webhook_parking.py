"""Webhook deliveries that failed webhook_max_attempts times are parked for an operator.

Revision ID: 0005_webhook_parking
Revises: 0004_return_visits
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_webhook_parking"
down_revision: str | None = "0004_return_visits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_webhook_deliveries") as batch:
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatch_webhook_deliveries") as batch:
        batch.drop_column("parked_at")
