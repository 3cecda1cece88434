"""Devices, channels, grids, alarms, evidence.

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
        "devices",
        sa.Column("device_id", sa.String(20), primary_key=True),
        sa.Column("type_code", sa.String(3), nullable=False),
        sa.Column("known", sa.Boolean, nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("manufacturer", sa.String(100), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("firmware", sa.String(100), nullable=True),
        sa.Column("transport", sa.String(3), nullable=True),
        sa.Column("host", sa.String(64), nullable=True),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("registered", sa.Boolean, nullable=False),
        sa.Column("online", sa.Boolean, nullable=False, index=True),
        sa.Column("register_expires_at", TS, nullable=True),
        sa.Column("registered_at", TS, nullable=True),
        sa.Column("last_seen_at", TS, nullable=True, index=True),
        sa.Column("last_keepalive_at", TS, nullable=True),
        sa.Column("catalog_at", TS, nullable=True),
        sa.Column("info_json", sa.Text, nullable=True),
        sa.Column("status_json", sa.Text, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "channels",
        sa.Column("channel_id", sa.String(20), primary_key=True),
        sa.Column("device_id", sa.String(20), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("manufacturer", sa.String(100), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("civil_code", sa.String(20), nullable=True, index=True),
        sa.Column("address", sa.String(300), nullable=True),
        sa.Column("parent_id", sa.String(20), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("online", sa.Boolean, nullable=False, index=True),
        sa.Column("lat", sa.Float, nullable=True, index=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True, index=True),
        sa.Column("grid_source", sa.String(16), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "grids",
        sa.Column("grid_code", sa.String(32), primary_key=True),
        sa.Column("geometry", sa.Text, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
    )
    op.create_table(
        "alarms",
        sa.Column("alarm_id", sa.Uuid, primary_key=True),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("channel_id", sa.String(20), nullable=False, index=True),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("alarm_type", sa.String(32), nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("alarm_time", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_table(
        "evidence",
        sa.Column("evidence_id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False, index=True),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        sa.Column("radius_m", sa.Float, nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("channel_ids", sa.Text, nullable=False),
        sa.Column("recordings_json", sa.Text, nullable=False),
        sa.Column("unanswered_json", sa.Text, nullable=False),
        sa.Column("attached_at", TS, nullable=False),
    )


def downgrade() -> None:
    for table in ("evidence", "alarms", "grids", "channels", "devices"):
        op.drop_table(table)
