"""The audit log's hash chain: each row carries the hash of the row before it.

Revision ID: 0005_audit_chain
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from govmesh_runtime.migrations import chain_audit_log, unchain_audit_log

revision: str = "0005_audit_chain"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    chain_audit_log()


def downgrade() -> None:
    unchain_audit_log()
