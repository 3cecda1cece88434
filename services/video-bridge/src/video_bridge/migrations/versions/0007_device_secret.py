"""Each device may have its own digest secret (HA1), set by import or the API.

Revision ID: device_sip_ha1
Revises: 0006_evidence_and_faults
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "device_sip_ha1"
down_revision: str | None = "0006_evidence_and_faults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("sip_ha1", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("sip_ha1")
