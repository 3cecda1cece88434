"""The audit log can be proved untouched (issue 14.8).

Each row carries the hash of the row before it; ``govmesh-audit verify`` names the first
broken link. On PostgreSQL the service's own role (migrations ran as the owner) can neither
rewrite, delete, truncate nor un-trigger the log; on SQLite ``INSERT OR REPLACE`` is refused
and whatever gets past the triggers (someone with the file drops them) is caught by the chain.
The database is a real service's (intake's migrations), on both backends.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from govmesh_runtime import audit
from govmesh_runtime.audit_cli import verify_database
from govmesh_runtime.db import Database
from intake.bootstrap import MIGRATIONS

pytestmark = pytest.mark.integration

SERVICE_ROLE = "mesh_service:mesh_service"  # made by infra/postgres/postgres.sh, owns nothing


def _entry(n: int) -> object:
    return audit.entry(
        principal=None,
        action=audit.Action.READ,
        resource="case",
        resource_id=f"case-{n}",
        fields=["reporter_phone"],
        purpose="callback",
        route="GET /v1/cases/{id}",
    )


async def _write(db: Database, rows: int) -> None:
    for n in range(rows):
        await audit.record(db.sessions, _entry(n))  # type: ignore[arg-type]


def _cli(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "govmesh_runtime.audit_cli", "verify", url, *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


# --- SQLite --------------------------------------------------------------------------------------


@pytest.fixture
async def sqlite_log(tmp_path: Path) -> str:
    """Intake's SQLite database with five audit rows written through the runtime."""
    path = tmp_path / "intake.sqlite"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate(MIGRATIONS)
    await _write(db, 5)
    await db.dispose()
    return str(path)


def test_an_untouched_log_verifies_and_prints_its_head(sqlite_log: str) -> None:
    verdict, _ = verify_database(f"sqlite:///{sqlite_log}")
    assert (verdict.ok, verdict.rows) == (True, 5)
    result = _cli(f"sqlite:///{sqlite_log}", "--head", verdict.head)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"intact: 5 rows, head {verdict.head}"


def test_sqlite_refuses_insert_or_replace_update_and_delete(sqlite_log: str) -> None:
    with sqlite3.connect(sqlite_log) as conn:
        for sql in (
            "INSERT OR REPLACE INTO audit_log (id, at, subject, via, action, resource, fields, reason, purpose, "
            "route, client) SELECT id, at, 'nobody', via, action, resource, '', '', '', route, client "
            "FROM audit_log WHERE id = 2",
            "REPLACE INTO audit_log SELECT * FROM audit_log WHERE id = 3",
            "UPDATE audit_log SET reason = 'x' WHERE id = 2",
            "DELETE FROM audit_log WHERE id = 2",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
    assert verify_database(f"sqlite:///{sqlite_log}")[0].ok


def test_a_row_rewritten_behind_the_triggers_back_is_named(sqlite_log: str) -> None:
    with sqlite3.connect(sqlite_log) as conn:
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET subject = 'someone-else' WHERE id = 3")
    result = _cli(f"sqlite:///{sqlite_log}")
    assert result.returncode == 1
    assert result.stdout.startswith("broken at audit_log id 3: its contents do not match its hash")


def test_a_deleted_row_is_named_by_the_row_after_it(sqlite_log: str) -> None:
    with sqlite3.connect(sqlite_log) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = 2")
    result = _cli(f"sqlite:///{sqlite_log}")
    assert result.returncode == 1
    assert result.stdout.startswith("broken at audit_log id 3: its prev_hash does not match row 1")


def test_cutting_off_the_newest_rows_is_caught_with_a_kept_head(sqlite_log: str) -> None:
    head = verify_database(f"sqlite:///{sqlite_log}")[0].head
    with sqlite3.connect(sqlite_log) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("DELETE FROM audit_log WHERE id = 5")
    assert _cli(f"sqlite:///{sqlite_log}").returncode == 0  # a shorter chain is still a chain
    result = _cli(f"sqlite:///{sqlite_log}", "--head", head)
    assert result.returncode == 1
    assert "no longer in the chain" in result.stdout


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture
async def pg_log(fresh_postgres_url: str) -> tuple[str, str]:
    """Intake's database migrated by the owner role; the service writes as its own role."""
    owner_url = fresh_postgres_url
    service_url = owner_url.replace("mesh:mesh@", SERVICE_ROLE + "@", 1)
    db = Database(service_url)
    await db.migrate(MIGRATIONS, owner_url=owner_url)
    await _write(db, 5)
    await db.dispose()
    return owner_url, service_url


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_log SET reason = 'x' WHERE id = 2",
        "DELETE FROM audit_log WHERE id = 2",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_no_rewrite ON audit_log",
        "DROP TABLE audit_log",
        "SET session_replication_role = replica",
        "CREATE TABLE sneaky (id int)",
    ],
)
def test_the_service_role_cannot_rewrite_or_untrigger_the_log(pg_log: tuple[str, str], sql: str) -> None:
    _, service_url = pg_log
    with psycopg.connect(service_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)
    assert verify_database(pg_log[0])[0] == verify_database(service_url)[0]
    assert verify_database(service_url)[0].ok


def test_the_service_role_still_works_its_own_rows(pg_log: tuple[str, str]) -> None:
    _, service_url = pg_log
    with psycopg.connect(service_url) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, topic, key, headers, payload, created_at) "
            "VALUES ('e1', 't', 'x', 'k', '[]', '{}', now())"
        )
        conn.execute("UPDATE outbox SET sent_at = now() WHERE event_id = 'e1'")
        conn.execute("DELETE FROM outbox WHERE event_id = 'e1'")


def test_even_the_owner_cannot_rewrite_or_delete_unseen(pg_log: tuple[str, str]) -> None:
    owner_url, _ = pg_log
    with psycopg.connect(owner_url) as conn, pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        conn.execute("UPDATE audit_log SET reason = 'x' WHERE id = 2")
    with psycopg.connect(owner_url) as conn:  # the owner may switch the trigger off; the chain remains
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_rewrite")
        conn.execute("UPDATE audit_log SET purpose = 'curiosity' WHERE id = 4")
    verdict, _ = verify_database(owner_url)
    assert (verdict.broken_at, verdict.reason) == (4, "its contents do not match its hash: the row was changed")
    with psycopg.connect(owner_url) as conn:
        conn.execute("DELETE FROM audit_log WHERE id IN (2, 4)")
    assert _cli(owner_url).stdout.startswith("broken at audit_log id 3: its prev_hash does not match row 1")


async def test_concurrent_writers_keep_one_linear_chain(pg_log: tuple[str, str]) -> None:
    _, service_url = pg_log
    writers = [Database(service_url) for _ in range(4)]
    try:
        await asyncio.gather(*(_write(db, 10) for db in writers for _ in range(3)))
    finally:
        for db in writers:
            await db.dispose()
    verdict, _ = verify_database(service_url)
    assert (verdict.ok, verdict.rows) == (True, 5 + 4 * 3 * 10), verdict


async def test_rows_written_before_the_chain_are_chained_by_the_migration(fresh_postgres_url: str) -> None:
    """An existing log (rows from before this revision) is chained in id order at upgrade."""
    db = Database(fresh_postgres_url)
    script = MIGRATIONS
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from govmesh_runtime.db import upgrade; from pathlib import Path; "
        "upgrade(Path(sys.argv[1]), sys.argv[2], '0005')",
        str(script),
        fresh_postgres_url,
    )
    assert await proc.wait() == 0
    engine = sa.create_engine(fresh_postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        for n in range(3):
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (at, subject, via, action, resource, fields, reason, purpose, route, "
                    "client) VALUES (now(), :s, 'jwt', 'read', 'case', '', '', '', '', '')"
                ),
                {"s": f"clerk-{n}-{uuid.uuid4().hex[:4]}"},
            )
    engine.dispose()
    await db.migrate(script)
    await _write(db, 2)
    await db.dispose()
    verdict, _ = verify_database(fresh_postgres_url)
    assert (verdict.ok, verdict.rows) == (True, 5)
