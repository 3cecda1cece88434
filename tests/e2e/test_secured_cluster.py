"""The mesh on a secured three-broker cluster (infra/kafka/kafka.sh KAFKA_BROKERS=3 KAFKA_SECURITY=sasl_ssl):
SASL_SSL with SCRAM-SHA-512, one principal per service, the ACLs of govmesh-topics acls.

The cluster starts once per session (tests/mesh_fixtures.py ``secured_kafka_cluster``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from mesh_fixtures import KafkaCluster
from support import ADMIN, Service

from govmesh_contracts.topics import TOPICS
from govmesh_runtime.kafka import DEFAULT_DLQ_RETENTION_MS, KafkaSecurity

pytestmark = pytest.mark.e2e


async def _produce(cluster: KafkaCluster, security: KafkaSecurity, topic: str) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=cluster.bootstrap, enable_idempotence=True, **security.client_options()
    )
    try:
        await producer.start()
        await producer.send_and_wait(topic, b"{}", key=b"acl-test")
    finally:
        await producer.stop()


def test_a_service_writes_its_own_topic_and_is_refused_on_another_services(
    secured_kafka_cluster: KafkaCluster,
) -> None:
    intake = secured_kafka_cluster.security("intake")
    # its own topic: accepted (so the refusal below is the ACL, not a broken connection)
    asyncio.run(_produce(secured_kafka_cluster, intake, "intake.cases.v1"))
    # dispatch's topic: a CaseDispatched from intake would move a case's grid
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_produce(secured_kafka_cluster, intake, "dispatch.cases.v1"))
    # and a topic it consumes is read-only for it
    with pytest.raises(TopicAuthorizationFailedError):
        asyncio.run(_produce(secured_kafka_cluster, intake, "video.alarms.v1"))


def test_a_client_without_credentials_gets_nothing(secured_kafka_cluster: KafkaCluster) -> None:
    wrong = KafkaSecurity(
        protocol="SASL_SSL",
        username="intake",
        password="not-the-password",  # noqa: S106 - a wrong one, on purpose
        cafile=secured_kafka_cluster.security("intake").cafile,
    )
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_produce(secured_kafka_cluster, wrong, "intake.cases.v1"))
    # nor does a plain-text client on the same ports
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_produce(secured_kafka_cluster, KafkaSecurity(), "intake.cases.v1"))


async def _layout(cluster: KafkaCluster) -> tuple[dict[str, int], dict[str, dict[str, str]]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, **cluster.security("admin").client_options())
    await admin.start()
    try:
        names = [t.name for t in TOPICS] + [t.dlq for t in TOPICS]
        described = await admin.describe_topics(names)
        replicas = {d["topic"]: len(d["partitions"][0]["replicas"]) for d in described}
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
        configs: dict[str, dict[str, str]] = {}
        for response in responses:
            for resource in response.resources:
                configs[resource[3]] = {entry[0]: entry[1] for entry in resource[4]}
        return replicas, configs
    finally:
        await admin.close()


def test_topics_are_replicated_on_three_brokers_and_dead_letters_kept_long(
    secured_kafka_cluster: KafkaCluster,
) -> None:
    replicas, configs = asyncio.run(_layout(secured_kafka_cluster))
    assert set(replicas.values()) == {3}, replicas
    assert {name: c["min.insync.replicas"] for name, c in configs.items()} == dict.fromkeys(configs, "2")
    for t in TOPICS:
        assert configs[t.dlq]["retention.ms"] == str(DEFAULT_DLQ_RETENTION_MS), t.dlq


@pytest.fixture
def secured_mesh(secured_kafka_cluster: KafkaCluster, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = {
        **os.environ,
        **secured_kafka_cluster.client_env(),  # bootstrap, SASL_SSL, CA file, each service's user and password
        "GOVMESH_DATA_DIR": str(tmp_path),
    }
    services = {name: Service(name, env, tmp_path / f"{name}.log") for name in ("intake", "dispatch")}
    try:
        for service in services.values():
            service.wait_ready(timeout=120)
        yield services
    finally:
        for s in services.values():
            s.terminate()


def test_a_case_is_dispatched_over_the_secured_cluster(secured_mesh: dict[str, Service]) -> None:
    intake = secured_mesh["intake"].url
    created = httpx.post(
        intake + "/v1/cases",
        json={
            "matter_code": "dispute.neighbour",
            "description": "Water leaks.",
            "lat": 38.93,
            "lon": 100.45,
            "attributes": {"parties_count": 2},
        },
        headers=ADMIN,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    case = created.json()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        case = httpx.get(f"{intake}/v1/cases/{case['id']}", headers=ADMIN, timeout=5).json()
        if "dispatched" in [step["kind"] for step in case["timeline"]]:
            break
        time.sleep(0.3)
    assert [step["kind"] for step in case["timeline"]][:2] == ["received", "dispatched"], case
    seen = httpx.get(f"{secured_mesh['dispatch'].url}/v1/cases/{case['id']}", headers=ADMIN, timeout=5)
    assert seen.status_code == 200
    # each service ran as its own principal: nothing was refused along the way
    for service in secured_mesh.values():
        assert "AuthorizationFailed" not in service.log.read_text(), service.package
