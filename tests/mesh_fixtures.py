"""Shared fixtures: the real Kafka broker, PostgreSQL and Keycloak, started if they are not up.

A test that needs one of them gets it or fails loudly; it never skips.
`make test` starts them before pytest; run alone, pytest starts them here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from govmesh_runtime.kafka import KafkaSecurity, ensure_topics

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(os.environ.get("GOVMESH_TEST_DATA", ROOT / ".data" / "test"))
KAFKA = os.environ.get("GOVMESH_TEST_KAFKA", "127.0.0.1:19092")
POSTGRES = os.environ.get("GOVMESH_TEST_POSTGRES", "postgresql://mesh:mesh@127.0.0.1:15432")
KEYCLOAK = os.environ.get("GOVMESH_TEST_KEYCLOAK", "http://127.0.0.1:18180")
# The secured three-broker cluster: client ports PORT, PORT+2, PORT+4, controllers +1 each.
KAFKA_CLUSTER_PORT = int(os.environ.get("GOVMESH_TEST_KAFKA_CLUSTER_PORT", int(KAFKA.rsplit(":", 1)[1]) + 20))

# One keyring for every service the tests start, in-process or as a process (both read
# GOVMESH_KEYRING), so a token from support.auth_headers() is valid everywhere.
os.environ.setdefault("GOVMESH_KEYRING", str(TEST_DATA / "auth" / "keyring.json"))
# Tests fire requests faster than a client is allowed to; the limit has its own tests.
os.environ.setdefault("GOVMESH_RATE_LIMIT_PER_S", "0")
# Which closed cases get a return visit is a hash of their (random) id: no test leaves that to
# chance. Tests of return visits ask for them (share 1.0) in their settings.
os.environ.setdefault("DISPATCH_RETURN_VISIT_SHARE", "0")


def _port_open(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def _kafka_env() -> dict[str, str]:
    return {**os.environ, "KAFKA_PORT": KAFKA.rsplit(":", 1)[1], "KAFKA_DATA_DIR": str(TEST_DATA / "kafka")}


def kafka_script(command: str) -> None:
    """Run infra/kafka/kafka.sh for the test broker; fail the test loudly if it fails."""
    result = subprocess.run(
        [str(ROOT / "infra/kafka/kafka.sh"), command], env=_kafka_env(), capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        pytest.fail(f"kafka.sh {command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _port_open(KAFKA):
        kafka_script("start")
    if not _port_open(KAFKA):
        pytest.fail(f"Kafka is not reachable at {KAFKA} after start")
    asyncio.run(ensure_topics(KAFKA))
    return KAFKA


@dataclass(frozen=True)
class KafkaCluster:
    """A KRaft cluster run by infra/kafka/kafka.sh (every node broker + controller, 127.0.0.1):
    node i's client port is ``port + 2(i-1)``, its controller port the next one, its files in
    ``data_dir/node-<i>`` (with one broker: directly in ``data_dir``)."""

    port: int
    data_dir: Path
    brokers: int = 3
    secured: bool = False

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_BROKERS": str(self.brokers),
            "KAFKA_SECURITY": "sasl_ssl" if self.secured else "plaintext",
            "KAFKA_DATA_DIR": str(self.data_dir),
        }

    def script(self, *args: str, timeout: float = 400) -> str:
        """Run kafka.sh with this cluster's variables; fail the test loudly if it fails."""
        result = subprocess.run(
            [str(ROOT / "infra/kafka/kafka.sh"), *args], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if result.returncode != 0:
            pytest.fail(f"kafka.sh {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{self.node_port(i)}" for i in range(1, self.brokers + 1))

    def node_port(self, node: int) -> int:
        return self.port + 2 * (node - 1)

    def node_dir(self, node: int) -> Path:
        return self.data_dir if self.brokers == 1 else self.data_dir / f"node-{node}"

    def node_pid(self, node: int) -> int | None:
        """The JVM of node ``node`` (for chaos: SIGKILL, SIGSTOP), None when it does not run."""
        try:
            pid = int((self.node_dir(node) / "kafka.pid").read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def client_env(self, user: str | None = None) -> dict[str, str]:
        """The variables a client of this cluster needs (kafka.sh client-env): with ``user``, the
        mesh-wide KAFKA_SASL_* of that SCRAM user (admin, intake …); without, every service's own."""
        lines = self.script("client-env", *([user] if user else [])).splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def security(self, user: str = "admin") -> KafkaSecurity:
        return KafkaSecurity.from_env(self.client_env(user)) if self.secured else KafkaSecurity()

    def start(self) -> None:
        self.script("start")

    def stop(self) -> None:
        self.script("stop")


def start_kafka_cluster(
    port: int, data_dir: Path, *, brokers: int = 3, secured: bool = False, topics: bool = True
) -> KafkaCluster:
    """Start (or find running) a ``brokers``-node cluster on ``port``.. and create the mesh's topics
    (replication factor min(3, brokers), min ISR 2 with three); secured: SASL_SSL/SCRAM listeners,
    a user per service and the mesh's ACLs (govmesh-topics acls). Stop it with ``.stop()``."""
    from govmesh_runtime.kafka_acls import apply_acls, mesh_acls

    cluster = KafkaCluster(port, data_dir, brokers, secured)
    cluster.start()
    if topics:
        admin = cluster.security("admin")
        asyncio.run(ensure_topics(cluster.bootstrap, security=admin))
        if secured:
            asyncio.run(apply_acls(cluster.bootstrap, mesh_acls(), security=admin))
    return cluster


@pytest.fixture(scope="session")
def secured_kafka_cluster() -> Iterator[KafkaCluster]:
    """Three brokers with SASL_SSL, SCRAM users per service and the mesh's ACLs, once per session
    (GOVMESH_TEST_KAFKA_CLUSTER_PORT, default the test broker's port + 20); stopped at the end."""
    cluster = start_kafka_cluster(KAFKA_CLUSTER_PORT, TEST_DATA / "kafka-cluster", brokers=3, secured=True)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    address = POSTGRES.rsplit("@", 1)[1]
    if not _port_open(address):
        env = {**os.environ, "PG_PORT": address.rsplit(":", 1)[1], "PG_DATA_DIR": str(TEST_DATA / "postgres")}
        result = subprocess.run(
            [str(ROOT / "infra/postgres/postgres.sh"), "start"], env=env, capture_output=True, text=True, timeout=600
        )
        if result.returncode != 0:
            pytest.fail(f"postgres.sh start failed:\n{result.stdout}\n{result.stderr}")
    with psycopg.connect(f"{POSTGRES}/postgres", connect_timeout=5) as conn:
        conn.execute("SELECT 1")
    return POSTGRES


def _realm_answers(issuer: str) -> bool:
    try:
        return httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def keycloak_issuer() -> str:
    """The issuer URL of the development realm (infra/keycloak/govmesh-realm.json) on the test
    Keycloak, started here (infra/keycloak/keycloak.sh) if it does not answer."""
    issuer = f"{KEYCLOAK}/realms/govmesh"
    if not _realm_answers(issuer):
        env = {
            **os.environ,
            "KEYCLOAK_PORT": KEYCLOAK.rsplit(":", 1)[1],
            "KEYCLOAK_DATA_DIR": str(TEST_DATA / "keycloak"),
        }
        result = subprocess.run(
            [str(ROOT / "infra/keycloak/keycloak.sh"), "start"], env=env, capture_output=True, text=True, timeout=900
        )
        if result.returncode != 0:
            pytest.fail(f"keycloak.sh start failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    if not _realm_answers(issuer):
        pytest.fail(f"Keycloak's realm does not answer at {issuer} after start")
    return issuer


@pytest.fixture
def fresh_postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test (dropped afterwards)."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server}/{name}"
    with psycopg.connect(f"{postgres_server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store suite runs once per backend: embedded SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.sqlite'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


@pytest.fixture
async def test_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic (and its .dlq) of its own, so a test sees only its own records."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    name = f"test.t{uuid.uuid4().hex[:12]}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 3, 1), NewTopic(name + ".dlq", 1, 1)])
        yield name
    finally:
        await admin.close()
