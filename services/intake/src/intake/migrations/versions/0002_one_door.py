"""The one door: reporters (personal data), linked duplicate reports, video-alarm bursts;
case deadline, attributes, attachments, feedback.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reporter_ref", sa.String(40), nullable=True))
        batch.add_column(sa.Column("attributes_json", sa.Text, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("attachments_json", sa.Text, nullable=False, server_default="[]"))
        batch.add_column(sa.Column("source_ref", sa.String(64), nullable=True))
        batch.add_column(sa.Column("linked_reports", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("satisfaction", sa.Integer, nullable=True))
        batch.add_column(sa.Column("feedback_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_cases_received_at", "cases", ["received_at"])
    op.create_table(
        "reporters",
        sa.Column("ref", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(50), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("id_number", sa.String(18), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("reporter_ref", sa.String(40), nullable=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alarm_bursts",
        sa.Column("channel_id", sa.String(20), primary_key=True),
        sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("alarms", sa.Integer, nullable=False),
        sa.Column("first_alarm_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alarm_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("alarm_bursts")
    op.drop_table("case_links")
    op.drop_table("reporters")
    op.drop_index("ix_cases_received_at", "cases")
    with op.batch_alter_table("cases") as batch:
        for name in (
            "feedback_at",
            "satisfaction",
            "linked_reports",
            "source_ref",
            "attachments_json",
            "attributes_json",
            "reporter_ref",
            "due_at",
        ):
            batch.drop_column(name)
