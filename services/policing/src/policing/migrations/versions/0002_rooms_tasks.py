"""Grids (reference), police rooms, jurisdictions, officers, duty shifts, police tasks, patrols, visits,
key persons and key places.

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

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "grids",
        sa.Column("grid_code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("community_code", sa.String(32), nullable=True),
        sa.Column("township_code", sa.String(32), nullable=True),
        sa.Column("county_code", sa.String(32), nullable=True),
        sa.Column("geometry", sa.Text, nullable=False),
    )
    op.create_table(
        "reference_version",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
    )
    op.create_table(
        "police_rooms",
        sa.Column("room_code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("county_code", sa.String(32), nullable=False, index=True),
    )
    op.create_table(
        "room_grids",
        sa.Column("grid_code", sa.String(32), primary_key=True),
        sa.Column("room_code", sa.String(32), sa.ForeignKey("police_rooms.room_code"), nullable=False, index=True),
    )
    op.create_table(
        "officers",
        sa.Column("officer_id", sa.String(32), primary_key=True),
        sa.Column("room_code", sa.String(32), sa.ForeignKey("police_rooms.room_code"), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("on_duty", sa.Boolean, nullable=False),
    )
    op.create_table(
        "duty_shifts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("room_code", sa.String(32), nullable=False, index=True),
        sa.Column("officer_id", sa.String(32), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
    )
    op.create_index("ix_duty_shifts_officer_time", "duty_shifts", ["officer_id", "starts_at", "ends_at"])
    op.create_table(
        "police_tasks",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(64), nullable=False),
        sa.Column("case_id", sa.Uuid, nullable=True, index=True),
        sa.Column("dispatch_task_id", sa.Uuid, nullable=True),
        sa.Column("case_number", sa.String(64), nullable=True),
        sa.Column("matter_code", sa.String(64), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("room_code", sa.String(32), nullable=True),
        sa.Column("officer_id", sa.String(32), nullable=True, index=True),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("escalated_to", sa.String(32), nullable=True),
        sa.Column("accepted_at", TS, nullable=True),
        sa.Column("on_scene_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("referral_to", sa.String(64), nullable=True),
        sa.Column("mediated", sa.Boolean, nullable=False),
        sa.Column("summary", sa.String(2000), nullable=True),
        sa.UniqueConstraint("source", "source_ref", name="uq_police_task_source"),
    )
    op.create_index("ix_police_tasks_room_status", "police_tasks", ["room_code", "status"])
    op.create_table(
        "patrols",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("room_code", sa.String(32), nullable=False, index=True),
        sa.Column("grid_code", sa.String(32), nullable=False, index=True),
        sa.Column("officer_id", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("room_code", sa.String(32), nullable=False, index=True),
        sa.Column("grid_code", sa.String(32), nullable=False, index=True),
        sa.Column("officer_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("visited_at", TS, nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
    )
    op.create_table(
        "key_persons",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("room_code", sa.String(32), nullable=False, index=True),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "key_places",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("room_code", sa.String(32), nullable=False, index=True),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("key_places", "key_persons", "visits", "patrols"):
        op.drop_table(table)
    op.drop_index("ix_police_tasks_room_status", table_name="police_tasks")
    op.drop_index("ix_duty_shifts_officer_time", table_name="duty_shifts")
    for table in (
        "duty_shifts",
        "police_tasks",
        "officers",
        "room_grids",
        "police_rooms",
        "reference_version",
        "grids",
    ):
        op.drop_table(table)
