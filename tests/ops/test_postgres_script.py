"""infra/postgres/postgres.sh runs from any clone location.

As root, PostgreSQL runs as the `postgres` OS user, which cannot traverse a clone under
/root or a fresh `mktemp -d` (mode 700). The script must still start a server there,
without chmod-ing anything outside the repo.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "postgres" / "postgres.sh"


def _spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _remove_outside_cluster(data_dir: Path) -> None:
    marker = data_dir / "cluster"  # names the postgres-owned directory outside, when there is one
    if marker.exists():
        subprocess.run(["rm", "-rf", marker.read_text().strip()], check=False)


def _script(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A directory like `mktemp -d`: mode 700, owned by whoever runs the tests."""
    path = Path(tempfile.mkdtemp(prefix="govmesh-clone-"))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def test_start_and_connect_with_the_data_dir_in_a_mode_700_folder(private_dir: Path) -> None:
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
    port = _spare_port()
    data_dir = private_dir / "clone" / ".data" / "test" / "postgres"
    env = {**os.environ, "PG_PORT": str(port), "PG_DATA_DIR": str(data_dir), "PG_DATABASES": "intake"}
    try:
        started = _script("start", env)
        assert started.returncode == 0, started.stdout + started.stderr
        with psycopg.connect(f"postgresql://mesh:mesh@127.0.0.1:{port}/intake", connect_timeout=10) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("intake",)
        # nothing outside the repo was opened up for the postgres user
        assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700
        again = _script("start", env)  # idempotent
        assert again.returncode == 0, again.stdout + again.stderr
        assert "already running" in again.stdout
        assert _script("stop", env).returncode == 0
        assert _script("status", env).stdout.strip() == "stopped"
    finally:
        stopped = _script("stop", env)
        _remove_outside_cluster(data_dir)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def test_deleting_the_data_dir_resets_the_cluster(private_dir: Path) -> None:
    """`make test` deletes its data dir between runs: the next start has a fresh cluster."""
    port = _spare_port()
    data_dir = private_dir / "pg"
    env = {**os.environ, "PG_PORT": str(port), "PG_DATA_DIR": str(data_dir), "PG_DATABASES": "intake"}
    url = f"postgresql://mesh:mesh@127.0.0.1:{port}/intake"
    try:
        assert _script("start", env).returncode == 0
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE left_over (id int)")
        assert _script("stop", env).returncode == 0
        subprocess.run(["rm", "-rf", str(data_dir)], check=True)
        restarted = _script("start", env)
        assert restarted.returncode == 0, restarted.stdout + restarted.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('left_over')").fetchone() == (None,)
    finally:
        _script("stop", env)
        _remove_outside_cluster(data_dir)
