"""Topic layout and ACLs derived from the registry: what govmesh-topics creates and grants."""

from __future__ import annotations

import pytest

from govmesh_runtime.kafka import KafkaSecurity, KafkaSettingsError, topic_layout
from govmesh_runtime.kafka_acls import OPERATION_READ, OPERATION_WRITE, RESOURCE_GROUP, RESOURCE_TOPIC, service_acls


@pytest.mark.parametrize(("brokers", "rf", "isr"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)])
def test_replication_follows_the_cluster_size(brokers: int, rf: int, isr: int) -> None:
    layout = topic_layout(brokers)
    assert (layout.replication_factor, layout.min_insync_replicas) == (rf, isr)


def test_a_replication_factor_above_the_brokers_is_refused_by_name() -> None:
    with pytest.raises(KafkaSettingsError, match="KAFKA_REPLICATION_FACTOR"):
        topic_layout(1, replication_factor=3)
    with pytest.raises(KafkaSettingsError, match="KAFKA_MIN_INSYNC_REPLICAS"):
        topic_layout(3, min_insync_replicas=4)


def test_sasl_without_a_password_names_the_setting() -> None:
    with pytest.raises(KafkaSettingsError, match="KAFKA_SASL_PASSWORD"):
        KafkaSecurity(protocol="SASL_SSL", username="intake")


def test_a_service_writes_only_what_it_owns_and_the_dead_letters_of_what_it_reads() -> None:
    acls = service_acls("mediation")
    writes = {a.resource_name for a in acls if a.resource_type == RESOURCE_TOPIC and a.operation == OPERATION_WRITE}
    reads = {a.resource_name for a in acls if a.resource_type == RESOURCE_TOPIC and a.operation == OPERATION_READ}
    groups = {a.resource_name for a in acls if a.resource_type == RESOURCE_GROUP}
    assert writes == {
        "mediation.disputes.v1",
        "mediation.task-results.v1",
        "dispatch.tasks.v1.dlq",
        "intake.cases.v1.dlq",
    }
    assert reads == {"dispatch.tasks.v1", "intake.cases.v1"}
    assert groups == {"mediation-"}
    assert {a.principal for a in acls} == {"User:mediation"}


def test_a_service_on_sasl_without_its_password_names_its_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic_settings import SettingsConfigDict

    from govmesh_runtime.settings import ServiceSettings

    class DemoSettings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="DEMO_", extra="ignore")
        service_name: str = "demo"

    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(KafkaSettingsError, match="DEMO_KAFKA_SASL_PASSWORD"):
        DemoSettings().kafka_security()
    monkeypatch.setenv("DEMO_KAFKA_SASL_PASSWORD", "secret")
    security = DemoSettings().kafka_security()
    assert (security.protocol, security.username, security.password) == ("SASL_SSL", "demo", "secret")
