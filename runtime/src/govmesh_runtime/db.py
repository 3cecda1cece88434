"""The service's own database: async engine, sessions and Alembic migrations.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is production and CI.
Alembic runs with the matching sync driver (sqlite3, psycopg) in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


def async_url(url: str) -> str:
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.split(":///", 1)[1]
    return url


def sync_url(url: str) -> str:
    url = async_url(url)
    if url.startswith("postgresql+asyncpg://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith("sqlite+aiosqlite:///"):
        return "sqlite:///" + url.split(":///", 1)[1]
    return url


SqliteSynchronous = Literal["FULL", "NORMAL", "EXTRA"]


def _sqlite_pragmas(dbapi_connection: Any, synchronous: SqliteSynchronous) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE (below) instead of pysqlite's
    # deferred BEGIN: a deferred read-then-write transaction fails with SQLITE_BUSY when
    # another writer committed in between; an immediate one waits for busy_timeout.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL: in WAL mode NORMAL syncs only at checkpoints, so a commit the caller got its 201
    # for (and its outbox row) could vanish on power loss; FULL syncs the WAL on each commit.
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"sqlite synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.close()


def _sqlite_begin_immediate(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: SqliteSynchronous = "FULL") -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # hide_parameters: a failed statement's error (logged, or a dead letter's dlq_reason) shows
        # the SQL but never its values, which may be a resident's name or phone number.
        kwargs: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if not self.is_sqlite:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            sa.event.listen(
                self.engine.sync_engine, "connect", lambda conn, _: _sqlite_pragmas(conn, sqlite_synchronous)
            )
            sa.event.listen(self.engine.sync_engine, "begin", _sqlite_begin_immediate)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[AsyncSession]:
        """A session whose reads all see one state of the database: a view built from several
        SELECTs that must agree (a case and its timeline). PostgreSQL's READ COMMITTED gives each
        statement its own snapshot; REPEATABLE READ gives the transaction one. SQLite's transaction
        already reads one snapshot."""
        async with self.sessions() as session:
            if not self.is_sqlite:
                await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except Exception:
            return False

    async def migrate(self, script_location: Path, *, owner_url: str | None = None) -> None:
        """Upgrade to head in a child process: Alembic, the sync driver and what a migration
        builds never load into the long-running service (~10 MB of its idle memory).

        ``owner_url``: on PostgreSQL, migrations run as that (owner) role, and the service's own
        role then gets only rows to work with: no DDL anywhere (so it can neither drop nor
        disable the audit log's triggers) and only SELECT and INSERT on the audit log."""
        env = {**os.environ, _URL_ENV: async_url(owner_url) if owner_url else self.url}
        if owner_url and not self.is_sqlite:
            service_role = sa.engine.make_url(self.url).username
            if service_role and service_role != sa.engine.make_url(async_url(owner_url)).username:
                env[_GRANT_ENV] = service_role
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "govmesh_runtime.db",
            str(script_location),
            env=env,  # not argv: a URL may carry a password
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"migrations in {script_location} failed:\n{output.decode(errors='replace')[-4000:]}")

    async def dispose(self) -> None:
        await self.engine.dispose()


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    command.upgrade(cfg, revision)


def grant_service_role(url: str, role: str) -> None:
    """Rows, not schema, for the service's role: DML on every table but the audit log, which it
    may only read and append to. It owns nothing, so it cannot ALTER, DROP or disable triggers."""
    engine = sa.create_engine(sync_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        who = conn.dialect.identifier_preparer.quote(role)
        conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {who}"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}"))
        conn.execute(sa.text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {who}"))
        conn.execute(sa.text(f"REVOKE ALL ON alembic_version FROM {who}"))
        conn.execute(sa.text(f"GRANT SELECT ON alembic_version TO {who}"))
        if conn.execute(sa.text("SELECT to_regclass('audit_log')")).scalar() is not None:
            conn.execute(sa.text(f"REVOKE ALL ON audit_log FROM {who}"))
            conn.execute(sa.text(f"GRANT SELECT, INSERT ON audit_log TO {who}"))
    engine.dispose()


_MIGRATE_LOCK_KEY = 0x676F766D69677261  # "govmigra": one migrator per database


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """One migrator at a time per database: instances starting together (``make run INSTANCES=2``,
    a rolling deploy) would otherwise run the same DDL at once and all but one fail. PostgreSQL: a
    session advisory lock (freed by the server if the migrator dies); SQLite: a lock file next to
    the database (freed by the kernel likewise). The others wait, then find the schema at head."""
    sync = sync_url(url)
    if sync.startswith("sqlite"):
        path = sa.engine.make_url(sync).database
        if not path or path == ":memory:":
            yield
            return
        with open(f"{path}.migrate-lock", "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    engine = sa.create_engine(sync, poolclass=sa.pool.NullPool, hide_parameters=True)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATE_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATE_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


_URL_ENV = "GOVMESH_MIGRATE_URL"
_GRANT_ENV = "GOVMESH_MIGRATE_GRANT_TO"

if __name__ == "__main__":  # the child process of Database.migrate
    with migration_lock(os.environ[_URL_ENV]):
        upgrade(Path(sys.argv[1]), os.environ[_URL_ENV])
        if os.environ.get(_GRANT_ENV):
            grant_service_role(os.environ[_URL_ENV], os.environ[_GRANT_ENV])
