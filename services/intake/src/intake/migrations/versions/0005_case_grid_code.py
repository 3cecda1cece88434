"""The grid a case is in (the creator's hint, then dispatch's location): reads by place use it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("grid_code", sa.String(length=15), nullable=True))
    op.create_index("ix_cases_grid_code", "cases", ["grid_code"])


def downgrade() -> None:
    op.drop_index("ix_cases_grid_code", table_name="cases")
    with op.batch_alter_table("cases") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("grid_code")
