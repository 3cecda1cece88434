"""``govmesh-topics``: create every topic of the contracts registry (idempotent), and
``govmesh-topics acls``: grant each service's principal its ACLs (idempotent; ``--print`` only lists them).

Connection: ``KAFKA_BOOTSTRAP_SERVERS`` and the mesh-wide security variables
(``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``,
``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``): on a secured cluster, the admin's.
Topic layout: ``KAFKA_REPLICATION_FACTOR`` (default min(3, brokers)), ``KAFKA_MIN_INSYNC_REPLICAS``
(default 2 when the replication factor is 3 or more, else 1), ``KAFKA_DLQ_RETENTION_MS``
(default 90 days).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from govmesh_runtime.kafka import DEFAULT_DLQ_RETENTION_MS, KafkaSecurity, KafkaSettingsError, ensure_topics
from govmesh_runtime.kafka_acls import apply_acls, mesh_acls

T = TypeVar("T")


def _int_env(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise KafkaSettingsError(f"{name}: {value!r} is not a whole number") from None


def _retrying(what: Callable[[], Coroutine[Any, Any, T]], bootstrap: str, wait_s: float) -> T:
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return asyncio.run(what())
        except KafkaSettingsError:
            raise
        except Exception as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(f"cannot reach Kafka at {bootstrap}: {exc!r}") from exc
            time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("create", "acls"), default="create")
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the broker")
    parser.add_argument(
        "--principal",
        action="append",
        default=[],
        metavar="SERVICE=USER",
        help="acls: the user a service connects as, where it is not the service's name (repeatable)",
    )
    parser.add_argument("--print", action="store_true", help="acls: list the ACLs, change nothing")
    args = parser.parse_args(argv)
    try:
        security = KafkaSecurity.from_env()
        if args.command == "acls":
            principals = dict(p.split("=", 1) for p in args.principal)
            acls = mesh_acls(principals)
            if args.print:
                print("\n".join(str(acl) for acl in acls))
                return 0
            n = _retrying(
                lambda: apply_acls(args.bootstrap_servers, acls, security=security), args.bootstrap_servers, args.wait
            )
            print(f"acls: {n} created, {len(acls) - n} present")
            return 0
        dlq_retention = _int_env("KAFKA_DLQ_RETENTION_MS")
        created = _retrying(
            lambda: ensure_topics(
                args.bootstrap_servers,
                security=security,
                replication_factor=_int_env("KAFKA_REPLICATION_FACTOR"),
                min_insync_replicas=_int_env("KAFKA_MIN_INSYNC_REPLICAS"),
                dlq_retention_ms=DEFAULT_DLQ_RETENTION_MS if dlq_retention is None else dlq_retention,
            ),
            args.bootstrap_servers,
            args.wait,
        )
    except (KafkaSettingsError, ConnectionError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(f"topics: {len(created)} created" + (f" ({', '.join(created)})" if created else ", all present"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
