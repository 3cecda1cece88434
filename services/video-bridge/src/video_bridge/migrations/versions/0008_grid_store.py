"""The runtime's grid store: a version table bumped by every grid import, so that each
instance rebuilds its point → grid index when the grids change.

Revision ID: 0008_grid_store
Revises: device_sip_ha1
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from govmesh_runtime.migrations import create_reference_version, drop_reference_version

revision: str = "0008_grid_store"
down_revision: str | None = "device_sip_ha1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_reference_version()


def downgrade() -> None:
    drop_reference_version()
