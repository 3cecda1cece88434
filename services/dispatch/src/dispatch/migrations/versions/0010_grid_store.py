"""The runtime's grid store: dispatch's grid table takes its columns (a grid code of up to 32
characters, as in policing and the video bridge; the registry still checks the 15 digits),
and a version table bumped by every grid import, so that each instance rebuilds its
point → grid index when the grids change.

Revision ID: 0010_grid_store
Revises: 0009_task_photos
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from govmesh_runtime.migrations import create_reference_version, drop_reference_version

revision: str = "0010_grid_store"
down_revision: str | None = "0009_task_photos"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dispatch_grids") as batch:
        batch.alter_column("grid_code", existing_type=sa.String(15), type_=sa.String(32), existing_nullable=False)
    create_reference_version("dispatch_reference_version")


def downgrade() -> None:
    drop_reference_version("dispatch_reference_version")
    with op.batch_alter_table("dispatch_grids") as batch:
        batch.alter_column("grid_code", existing_type=sa.String(32), type_=sa.String(15), existing_nullable=False)
