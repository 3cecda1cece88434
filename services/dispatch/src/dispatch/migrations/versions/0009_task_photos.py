"""Photos of a task taken on site (完成任务附照片): their bytes, kind and who uploaded them.

Revision ID: 0009_task_photos
Revises: 0006_case_satisfaction
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_task_photos"
down_revision: str | None = "0006_case_satisfaction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatch_task_photos",
        sa.Column("photo_id", sa.Uuid(), primary_key=True),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("media_type", sa.String(32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dispatch_task_photos_task_id", "dispatch_task_photos", ["task_id"])
    op.create_index("ix_dispatch_task_photos_case_id", "dispatch_task_photos", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_dispatch_task_photos_case_id", table_name="dispatch_task_photos")
    op.drop_index("ix_dispatch_task_photos_task_id", table_name="dispatch_task_photos")
    op.drop_table("dispatch_task_photos")
