"""The grid registry, people and places, routing rules, tasks, timers, webhooks, elements.

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
        "dispatch_admin_units",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False, index=True),
        sa.Column("parent_code", sa.String(12), nullable=True, index=True),
    )
    op.create_table(
        "dispatch_centres",
        sa.Column("centre_code", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.String(16), nullable=False, index=True),
        sa.Column("admin_code", sa.String(12), nullable=False, index=True),
        sa.Column("windows", sa.Text, nullable=False),
    )
    op.create_table(
        "dispatch_grids",
        sa.Column("grid_code", sa.String(15), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("community_code", sa.String(12), nullable=False, index=True),
        sa.Column("township_code", sa.String(9), nullable=False, index=True),
        sa.Column("county_code", sa.String(6), nullable=False, index=True),
        sa.Column("branch_code", sa.String(14), nullable=True),
        sa.Column("function", sa.String(16), nullable=False),
        sa.Column("households", sa.Integer, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("services", sa.Text, nullable=False),
        sa.Column("geometry", sa.Text, nullable=False),
    )
    op.create_table(
        "dispatch_buildings",
        sa.Column("building_code", sa.String(18), primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False, index=True),
        sa.Column("address", sa.String(300), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=True),
    )
    op.create_table(
        "dispatch_workers",
        sa.Column("worker_id", sa.String(64), primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False, index=True),
        sa.Column("community_code", sa.String(12), nullable=False, index=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(32), nullable=True),
        sa.Column("on_duty", sa.Boolean, nullable=False),
    )
    op.create_table(
        "dispatch_visit_plans",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False, index=True),
        sa.Column("cadre_ref", sa.String(64), nullable=False),
        sa.Column("every_days", sa.Integer, nullable=False),
        sa.Column("next_visit_on", TS, nullable=False),
    )
    op.create_table(
        "dispatch_visit_records",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("plan_id", sa.Uuid, nullable=True, index=True),
        sa.Column("grid_code", sa.String(15), nullable=False, index=True),
        sa.Column("cadre_ref", sa.String(64), nullable=False),
        sa.Column("visited_at", TS, nullable=False),
        sa.Column("households_visited", sa.Integer, nullable=False),
        sa.Column("views", sa.Text, nullable=False),
    )
    op.create_table(
        "dispatch_routing_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("matter_code", sa.String(64), nullable=False),
        sa.Column("grid_function", sa.String(16), nullable=True),
        sa.Column("targets", sa.String(500), nullable=False),
        sa.UniqueConstraint("matter_code", "grid_function", name="uq_rule_matter_function"),
    )
    with op.batch_alter_table("dispatch_cases") as batch:
        batch.add_column(sa.Column("level", sa.String(16), nullable=False, server_default="community"))
        batch.add_column(sa.Column("centre_code", sa.String(32), nullable=False, server_default=""))
        batch.add_column(sa.Column("due_at", TS, nullable=True))
        batch.add_column(sa.Column("description", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("lat", sa.Float, nullable=True))
        batch.add_column(sa.Column("lon", sa.Float, nullable=True))
        batch.add_column(sa.Column("address", sa.String(500), nullable=True))
        batch.add_column(sa.Column("resolved_at", TS, nullable=True))
        batch.add_column(sa.Column("closed_at", TS, nullable=True))
        batch.add_column(sa.Column("reopened", sa.Integer, nullable=False, server_default="0"))
        batch.create_index("ix_dispatch_cases_level", ["level"])
        batch.create_index("ix_dispatch_cases_centre_code", ["centre_code"])
    op.create_table(
        "dispatch_tasks",
        sa.Column("task_id", sa.Uuid, primary_key=True),
        sa.Column("case_id", sa.Uuid, nullable=False, index=True),
        sa.Column("target", sa.String(32), nullable=False),
        sa.Column("department", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(64), nullable=True, index=True),
        sa.Column("grid_code", sa.String(15), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("centre_code", sa.String(32), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("summary", sa.Text, nullable=True),
        sa.Column("referral_to", sa.String(64), nullable=True),
        sa.Column("parent_task_id", sa.Uuid, nullable=True),
    )
    op.create_index("ix_dispatch_tasks_timer", "dispatch_tasks", ["state", "due_at"])
    op.create_table(
        "dispatch_webhook_deliveries",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("task_id", sa.Uuid, nullable=False, index=True),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_dispatch_webhook_due", "dispatch_webhook_deliveries", ["delivered_at", "next_attempt_at"])
    op.create_table(
        "dispatch_elements",
        sa.Column("element_id", sa.String(64), primary_key=True),
        sa.Column("grid_code", sa.String(15), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("attributes", sa.Text, nullable=False),
    )
    op.create_index("ix_dispatch_elements_grid_category", "dispatch_elements", ["grid_code", "category", "element_id"])


def downgrade() -> None:
    op.drop_table("dispatch_elements")
    op.drop_table("dispatch_webhook_deliveries")
    op.drop_table("dispatch_tasks")
    with op.batch_alter_table("dispatch_cases") as batch:
        batch.drop_index("ix_dispatch_cases_level")
        batch.drop_index("ix_dispatch_cases_centre_code")
        for column in (
            "level",
            "centre_code",
            "due_at",
            "description",
            "lat",
            "lon",
            "address",
            "resolved_at",
            "closed_at",
            "reopened",
        ):
            batch.drop_column(column)
    for table in (
        "dispatch_routing_rules",
        "dispatch_visit_records",
        "dispatch_visit_plans",
        "dispatch_workers",
        "dispatch_buildings",
        "dispatch_grids",
        "dispatch_centres",
        "dispatch_admin_units",
    ):
        op.drop_table(table)
