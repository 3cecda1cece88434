"""Studios, mediators, disputes (parties, conflicts of interest, log), sessions, agreements,
follow-up visits, window services, residents' deliberations, contact-read audit.

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

    op.create_table(
        "contact_reads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("reader", sa.String(100), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_contact_reads_party_id", "contact_reads", ["party_id"])

    op.create_table(
        "deliberations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("community_code", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(500), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("participants", sa.JSON(), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deliberations_community_code", "deliberations", ["community_code"])

    op.create_table(
        "disputes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("case_number", sa.String(64), nullable=False),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("grid_code", sa.String(64), nullable=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("risk_level", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("referral_to", sa.String(100), nullable=True),
        sa.Column("closing_note", sa.String(2000), nullable=True),
        sa.Column("mediator_id", sa.String(64), nullable=True),
        sa.Column("studio_id", sa.String(64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_close_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("late_flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_disputes_case_id", "disputes", ["case_id"])
    op.create_index("ix_disputes_category", "disputes", ["category"])
    op.create_index("ix_disputes_grid_code", "disputes", ["grid_code"])
    op.create_index("ix_disputes_mediator_id", "disputes", ["mediator_id"])
    op.create_index("ix_disputes_status", "disputes", ["status"])
    op.create_index("ix_disputes_studio_id", "disputes", ["studio_id"])

    op.create_table(
        "studios",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("rooms", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "window_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("studio_id", sa.String(64), nullable=True),
        sa.Column("case_id", sa.Uuid(), nullable=True),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("topic", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("referral_to", sa.String(100), nullable=True),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_window_requests_case_id", "window_requests", ["case_id"])
    op.create_index("ix_window_requests_kind", "window_requests", ["kind"])
    op.create_index("ix_window_requests_status", "window_requests", ["status"])
    op.create_index("ix_window_requests_studio_id", "window_requests", ["studio_id"])

    op.create_table(
        "agreements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmation_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmation_status", sa.String(16), nullable=False),
        sa.Column("confirmation_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dispute_id"),
    )
    op.create_index("ix_agreements_confirmation_deadline", "agreements", ["confirmation_deadline"])
    op.create_index("ix_agreements_confirmation_status", "agreements", ["confirmation_status"])

    op.create_table(
        "conflicts_of_interest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("mediator_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_conflicts_of_interest_dispute_id", "conflicts_of_interest", ["dispute_id"])

    op.create_table(
        "dispute_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispute_log_dispute_id", "dispute_log", ["dispute_id"])

    op.create_table(
        "dispute_parties",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("id_number", sa.String(32), nullable=True),
        sa.Column("party_key", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dispute_parties_dispute_id", "dispute_parties", ["dispute_id"])
    op.create_index("ix_dispute_parties_party_key", "dispute_parties", ["party_key"])

    op.create_table(
        "follow_up_visits",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("performed_terms", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_follow_up_visits_dispute_id", "follow_up_visits", ["dispute_id"])

    op.create_table(
        "mediation_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dispute_id", sa.Uuid(), nullable=False),
        sa.Column("studio_id", sa.String(64), nullable=False),
        sa.Column("room", sa.String(64), nullable=False),
        sa.Column("mediator_id", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("party_keys", sa.JSON(), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("attendance", sa.JSON(), nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mediation_sessions_dispute_id", "mediation_sessions", ["dispute_id"])
    op.create_index("ix_mediation_sessions_mediator_id", "mediation_sessions", ["mediator_id"])
    op.create_index("ix_mediation_sessions_starts_at", "mediation_sessions", ["starts_at"])
    op.create_index("ix_mediation_sessions_status", "mediation_sessions", ["status"])
    op.create_index("ix_mediation_sessions_studio_id", "mediation_sessions", ["studio_id"])

    op.create_table(
        "mediators",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("studio_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["studio_id"],
            ["studios.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_mediators_studio_id", "mediators", ["studio_id"])


def downgrade() -> None:
    op.drop_table("mediators")
    op.drop_table("mediation_sessions")
    op.drop_table("follow_up_visits")
    op.drop_table("dispute_parties")
    op.drop_table("dispute_log")
    op.drop_table("conflicts_of_interest")
    op.drop_table("agreements")
    op.drop_table("window_requests")
    op.drop_table("studios")
    op.drop_table("disputes")
    op.drop_table("deliberations")
    op.drop_table("contact_reads")
