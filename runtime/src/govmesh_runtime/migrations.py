"""Alembic helpers shared by every service's migrations.

``run_env()`` is the whole body of a service's ``env.py``; ``create_plumbing_tables()``
is called from each service's first revision (the outbox and inbox tables are the same
everywhere, and written out here so a later model change needs a new revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op
from sqlmodel import SQLModel

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def run_env() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=SQLModel.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(str(url), poolclass=sa.pool.NullPool, hide_parameters=True)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            # SQLite cannot ALTER most things; batch mode recreates the table instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_plumbing_tables() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "id"])
    op.create_table(
        "inbox",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("consumer", "event_id", name="uq_inbox_consumer_event"),
    )


def add_outbox_parking() -> None:
    """``outbox.parked_at`` and ``park_reason``: a row that can never be published is set aside
    (govmesh_runtime.relay) instead of holding back every row behind it."""
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outbox", sa.Column("park_reason", sa.String(2000), nullable=True))
    op.create_index(
        "ix_outbox_parked",
        "outbox",
        ["parked_at"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
        sqlite_where=sa.text("parked_at IS NOT NULL"),
    )


def drop_outbox_parking() -> None:
    op.drop_index("ix_outbox_parked", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("park_reason")
        batch.drop_column("parked_at")


def create_audit_table() -> None:
    """The append-only audit log (``govmesh_runtime.audit``): UPDATE, DELETE and TRUNCATE
    are refused by trigger on PostgreSQL, UPDATE and DELETE on SQLite."""
    op.create_table(
        "audit_log",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("resource_id", sa.String(200), nullable=True),
        sa.Column("fields", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("purpose", sa.String(500), nullable=False),
        sa.Column("route", sa.String(200), nullable=False),
        sa.Column("client", sa.String(100), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_subject", "audit_log", ["subject", "id"])
    op.create_index("ix_audit_log_resource", "audit_log", ["resource", "resource_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_rewrite BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


_SQLITE_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"


def chain_audit_log() -> None:
    """The audit log's hash chain (``govmesh_runtime.audit_chain``): two columns, the rows
    already there chained in id order, and on SQLite a trigger that refuses ``INSERT OR
    REPLACE`` over an existing row (REPLACE deletes without firing the DELETE trigger
    unless recursive_triggers is on)."""
    from govmesh_runtime.audit_chain import GENESIS, row_hash
    from govmesh_runtime.tables import AuditRecord

    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.add_column("audit_log", sa.Column("prev_hash", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("row_hash", sa.String(64), nullable=True))
    # The owner chains the existing rows with the append-only trigger off for this transaction.
    if postgres:
        op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite")
    else:
        op.execute("DROP TRIGGER audit_log_no_update")
    table = AuditRecord.__table__  # type: ignore[attr-defined]
    prev = GENESIS
    for row in bind.execute(sa.select(table).order_by(table.c.id)).all():
        digest = row_hash(prev, row)  # type: ignore[arg-type]
        bind.execute(table.update().where(table.c.id == row.id).values(prev_hash=prev, row_hash=digest))
        prev = digest
    if postgres:
        op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_rewrite")
    else:
        op.execute(f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log {_SQLITE_APPEND_ONLY}")
        op.execute(
            "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def unchain_audit_log() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("audit_log", "row_hash")
        op.drop_column("audit_log", "prev_hash")
        return
    op.execute("DROP TRIGGER audit_log_no_replace")
    # SQLite drops a column by copying the table, which loses its triggers: made again.
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("row_hash")
        batch.drop_column("prev_hash")
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS audit_log_no_{verb.lower()}")
        op.execute(f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log {_SQLITE_APPEND_ONLY}")


def drop_audit_table() -> None:
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")


def drop_plumbing_tables() -> None:
    op.drop_table("inbox")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.drop_table("outbox")


def create_reference_version(table: str = "reference_version") -> None:
    """The grid store's version table (``govmesh_runtime.grids.GridVersionFields``)."""
    op.create_table(
        table,
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_reference_version(table: str = "reference_version") -> None:
    op.drop_table(table)
