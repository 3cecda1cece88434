"""Evidence follows the case (cases learnt from CaseReceived), dead cameras (channel faults).

Revision ID: 0006_evidence_and_faults
Revises: outbox_parking
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_evidence_and_faults"
down_revision: str | None = "outbox_parking"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Channels offline at upgrade time have no offline_since: only an outage seen from now opens a fault.
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("offline_since", TS, nullable=True))
        batch.create_index("ix_channels_offline_since", ["offline_since"])
    with op.batch_alter_table("evidence") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(200), nullable=True))
    op.create_table(
        "channel_faults",
        sa.Column("fault_id", sa.Uuid, primary_key=True),
        sa.Column("channel_id", sa.String(20), nullable=False, index=True),
        sa.Column("open_channel_id", sa.String(20), nullable=True, unique=True),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("offline_since", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("cleared_at", TS, nullable=True),
        sa.Column("clear_reason", sa.String(16), nullable=True),
    )
    op.create_table(
        "cases",
        sa.Column("case_id", sa.Uuid, primary_key=True),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("lat", sa.Float, nullable=True),
        sa.Column("lon", sa.Float, nullable=True),
        sa.Column("grid_code", sa.String(32), nullable=True, index=True),
        sa.Column("received_at", TS, nullable=False, index=True),
        sa.Column("evidence_due_at", TS, nullable=True, index=True),
        sa.Column("evidence_claimed_until", TS, nullable=True),
        sa.Column("evidence_attempts", sa.Integer, nullable=False),
        sa.Column("evidence_done_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("cases")
    op.drop_table("channel_faults")
    with op.batch_alter_table("evidence") as batch:
        batch.drop_column("requested_by")
    with op.batch_alter_table("channels") as batch:
        batch.drop_index("ix_channels_offline_since")
        batch.drop_column("offline_since")
