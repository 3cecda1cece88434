"""Timeline notes in the reader's language: each step keeps its message's key and values
(note_key, note_args) beside the English note, and is worded per Accept-Language when read.

Revision ID: 0011_timeline_note_messages
Revises: 0011_channel_fault_cases
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_timeline_note_messages"
down_revision: str | None = "0011_channel_fault_cases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Steps recorded before keep note_key NULL and are read as their stored (English) note.
    op.add_column("case_timeline", sa.Column("note_key", sa.String(64), nullable=True))
    op.add_column("case_timeline", sa.Column("note_args", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_timeline") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("note_args")
        batch.drop_column("note_key")
