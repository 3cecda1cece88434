"""The broker ACLs of each service's principal, derived from the contracts' topic registry.

A service may write only the topics it owns (``Topic.producer``) and the dead-letter topics of
what it consumes; read only the topics it consumes (``Topic.consumers``), in consumer groups
named ``<service>-…``. Its idempotent producer needs no cluster right: since Kafka 3.0
(KIP-679) WRITE on a topic is enough to get a producer id. Nothing else: no topic creation,
no configuration, no other group. Topics and ACLs are made by the admin (a super user).

aiokafka has no ACL API, so the CreateAcls / DescribeAcls requests are sent as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest, DescribeAclsRequest

from govmesh_contracts.topics import TOPICS, consumed_by, produced_by
from govmesh_runtime.kafka import PLAINTEXT, KafkaSecurity

# Kafka's wire codes (org.apache.kafka.common.resource / acl).
RESOURCE_TOPIC, RESOURCE_GROUP = 2, 3
PATTERN_ANY, PATTERN_LITERAL, PATTERN_PREFIXED = 1, 3, 4
OPERATION_ANY, OPERATION_READ, OPERATION_WRITE, OPERATION_DESCRIBE = 1, 3, 4, 8
PERMISSION_ANY, PERMISSION_ALLOW = 1, 3
RESOURCE_ANY = 1

_RESOURCE_NAMES = {RESOURCE_TOPIC: "topic", RESOURCE_GROUP: "group"}
_OPERATION_NAMES = {OPERATION_READ: "READ", OPERATION_WRITE: "WRITE", OPERATION_DESCRIBE: "DESCRIBE"}


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW binding: principal may do operation on a resource (from any host)."""

    principal: str
    resource_type: int
    resource_name: str
    pattern_type: int
    operation: int

    def __str__(self) -> str:
        pattern = "prefixed" if self.pattern_type == PATTERN_PREFIXED else "literal"
        return (
            f"{self.principal} {_OPERATION_NAMES[self.operation]} "
            f"{_RESOURCE_NAMES[self.resource_type]} {self.resource_name} ({pattern})"
        )


def services() -> list[str]:
    """Every service that produces or consumes a topic of the registry."""
    return sorted({t.producer for t in TOPICS} | {c for t in TOPICS for c in t.consumers})


def service_acls(service: str, principal: str | None = None) -> list[Acl]:
    """What ``service`` (as ``User:<principal>``, default its name) may do on the broker."""
    who = f"User:{principal or service}"
    acls: set[Acl] = set()
    for t in produced_by(service):
        acls.add(Acl(who, RESOURCE_TOPIC, t.name, PATTERN_LITERAL, OPERATION_WRITE))
        acls.add(Acl(who, RESOURCE_TOPIC, t.name, PATTERN_LITERAL, OPERATION_DESCRIBE))
    consumed = consumed_by(service)
    for t in consumed:
        acls.add(Acl(who, RESOURCE_TOPIC, t.name, PATTERN_LITERAL, OPERATION_READ))
        acls.add(Acl(who, RESOURCE_TOPIC, t.name, PATTERN_LITERAL, OPERATION_DESCRIBE))
        # a record it cannot apply goes to the topic's dead letters
        acls.add(Acl(who, RESOURCE_TOPIC, t.dlq, PATTERN_LITERAL, OPERATION_WRITE))
        acls.add(Acl(who, RESOURCE_TOPIC, t.dlq, PATTERN_LITERAL, OPERATION_DESCRIBE))
    if consumed:
        acls.add(Acl(who, RESOURCE_GROUP, f"{service}-", PATTERN_PREFIXED, OPERATION_READ))
    return sorted(acls)


def mesh_acls(principals: dict[str, str] | None = None) -> list[Acl]:
    """Every service's ACLs; ``principals`` maps a service to its user name where they differ."""
    principals = principals or {}
    return [acl for s in services() for acl in service_acls(s, principals.get(s))]


async def apply_acls(bootstrap_servers: str, acls: list[Acl], *, security: KafkaSecurity = PLAINTEXT) -> int:
    """Create the bindings that do not exist yet (as a super user); returns how many were created.
    Creating an existing binding is harmless, but it is checked first so a re-run says 0."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="govmesh-acls", **security.client_options()
    )
    await admin.start()
    try:
        existing = await _existing(admin)
        created = 0
        for acl in acls:
            if acl in existing:
                continue
            request = CreateAclsRequest(
                acl.resource_type,
                acl.resource_name,
                acl.pattern_type,
                acl.principal,
                "*",
                acl.operation,
                PERMISSION_ALLOW,
            )
            response = await admin._send_request(request)
            for error_code, error_message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"creating the ACL {acl} failed: error {error_code} {error_message}")
            created += 1
        return created
    finally:
        await admin.close()


async def existing_acls(bootstrap_servers: str, *, security: KafkaSecurity = PLAINTEXT) -> set[Acl]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="govmesh-acls", **security.client_options()
    )
    await admin.start()
    try:
        return await _existing(admin)
    finally:
        await admin.close()


async def _existing(admin: AIOKafkaAdminClient) -> set[Acl]:
    request = DescribeAclsRequest(RESOURCE_ANY, None, PATTERN_ANY, None, None, OPERATION_ANY, PERMISSION_ANY)
    response = await admin._send_request(request)
    if response.error_code:
        raise RuntimeError(f"describing the ACLs failed: error {response.error_code} {response.error_message}")
    found: set[Acl] = set()
    for resource_type, resource_name, pattern_type, bindings in response.resources:
        for principal, host, operation, permission in bindings:
            if permission == PERMISSION_ALLOW and host == "*" and operation in _OPERATION_NAMES:
                found.add(Acl(principal, resource_type, resource_name, pattern_type, operation))
    return found
