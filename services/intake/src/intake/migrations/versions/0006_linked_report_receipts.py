"""A linked report keeps what its resident sent (attachments, attributes, address), and a
retried request knows it was linked: its answer is the caller's own receipt, not the case.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_links", sa.Column("address", sa.String(length=500), nullable=True))
    op.add_column("case_links", sa.Column("attachments_json", sa.Text, nullable=False, server_default="[]"))
    op.add_column("case_links", sa.Column("attributes_json", sa.Text, nullable=False, server_default="{}"))
    op.add_column("idempotency_keys", sa.Column("link_id", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("link_id")
    with op.batch_alter_table("case_links") as batch:
        for name in ("attributes_json", "attachments_json", "address"):
            batch.drop_column(name)
