"""The faults. Each scenario injects its faults while the load runs, at moments drawn
from the run's seeded random generator, and writes down exactly what it did."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import mesh
from aiokafka.admin import AIOKafkaAdminClient
from mesh import Service, log


@dataclass
class Size:
    load_s: float  # seconds of load per scenario (longer when a fault needs it)
    rate: float  # cases per second
    kills: int  # SIGKILLs per service-kill scenario
    outage_s: float  # how long the broker / database stays down
    drain_s: float  # bound on waiting for the pipeline to finish after the load
    settle_s: float  # bound on a client's retries after the load stopped
    cut_s: float = 30  # how long a broker stays cut off from the others (cluster-cut)


QUICK = Size(load_s=12, rate=8, kills=1, outage_s=3, drain_s=90, settle_s=60, cut_s=20)
FULL = Size(load_s=40, rate=15, kills=3, outage_s=8, drain_s=180, settle_s=90, cut_s=30)


@dataclass
class Mesh:
    intake: Service
    dispatch: Service
    downstream: list[Service] = field(default_factory=list)  # mediation, policing
    extra: list[Service] = field(default_factory=list)  # a second dispatch instance, when a scenario needs one
    front: dict[str, int] = field(default_factory=dict)  # service -> HAProxy port in front of its instances

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.front['intake']}" if "intake" in self.front else self.intake.url

    @property
    def dispatch_url(self) -> str:
        return f"http://127.0.0.1:{self.front['dispatch']}" if "dispatch" in self.front else self.dispatch.url

    @property
    def services(self) -> list[Service]:
        return [self.intake, self.dispatch, *self.downstream, *self.extra]

    def named(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    def ensure_running(self) -> None:
        for svc in self.services:
            if not svc.alive():
                log(f"{svc.name} was not running: starting it")
                svc.start()
        for svc in self.services:
            svc.wait_ready()

    def stop(self) -> None:
        for svc in reversed(self.services):
            svc.stop()


@dataclass
class Clock:
    """Moments within the load window."""

    started: float
    load_s: float

    def now(self) -> float:
        return time.monotonic() - self.started

    def sleep_until(self, fraction: float) -> None:
        delay = self.started + fraction * self.load_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)


Inject = Callable[[Mesh, Clock, random.Random, Size, list[str]], None]


# After the pipeline drained: what else the scenario holds the mesh to; the problems found (none: held).
Verify = Callable[[Mesh, Size, list[str]], list[str]]


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    inject: Inject
    setup: Callable[[Mesh], None] | None = None
    teardown: Callable[[Mesh], None] | None = None
    min_load_s: float = 0
    verify: Verify | None = None
    cluster: bool = False  # on the three-broker cluster with two instances of each service (cluster.py)
    quick: bool = True  # part of --quick


def _nothing(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    return None


def _kill(pick: Callable[[Mesh], Service]) -> Inject:
    def inject(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
        moments = sorted(rnd.uniform(0.1, 0.8) for _ in range(size.kills))
        for moment in moments:
            clock.sleep_until(moment)
            svc = pick(m)
            if not svc.alive():
                raise RuntimeError(f"{svc.name} exited on its own; see {svc.log_path}")
            pid = svc.kill()
            at = clock.now()
            pause = rnd.uniform(0.5, 2.0)
            time.sleep(pause)
            svc.start()
            notes.append(f"SIGKILL {svc.name} pid {pid} at +{at:.1f} s; restarted {pause:.1f} s later (pid {svc.pid})")
            log(notes[-1])

    return inject


def _kafka_stop(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.2, 0.4))
    at = clock.now()
    out = mesh.kafka("stop")
    stopped = clock.now()
    time.sleep(size.outage_s)
    mesh.kafka("start")
    notes.append(
        f"kafka.sh stop (SIGTERM, controlled shutdown: {out}) at +{at:.1f} s, down by +{stopped:.1f} s; "
        f"kafka.sh start after {size.outage_s:.0f} s, serving again at +{clock.now():.1f} s"
    )
    log(notes[-1])


def _kafka_kill9(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.2, 0.4))
    at = clock.now()
    pid = mesh.kill_kafka_hard()
    time.sleep(size.outage_s)
    mesh.kafka("start")
    notes.append(
        f"kill -9 of the broker (JVM pid {pid}) at +{at:.1f} s; kafka.sh start after {size.outage_s:.0f} s, "
        f"serving again (log recovery) at +{clock.now():.1f} s"
    )
    log(notes[-1])


def _postgres_restart(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.2, 0.4))
    at = clock.now()
    mesh.postgres("stop")  # pg_ctl stop -m fast: open connections are terminated, transactions rolled back
    stopped = clock.now()
    time.sleep(size.outage_s)
    mesh.postgres("start")
    notes.append(
        f"postgres.sh stop (pg_ctl -m fast: every connection terminated) at +{at:.1f} s, down by +{stopped:.1f} s; "
        f"postgres.sh start after {size.outage_s:.0f} s, serving again at +{clock.now():.1f} s"
    )
    log(notes[-1])


# --- the slow consumer ----------------------------------------------------------------------------

GROUP = "dispatch-cases"  # dispatch's consumer group on intake.cases.v1


async def _group_members(group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=mesh.KAFKA, client_id="chaos-admin")
    await admin.start()
    try:
        described = await admin.describe_consumer_groups([group])
        # DescribeGroupsResponse: groups = [(error_code, group_id, state, protocol_type, protocol, members, ...)]
        return sum(len(g[5]) for resp in described for g in resp.groups if g[1] == group)
    finally:
        await admin.close()


def group_members(group: str = GROUP) -> int:
    return asyncio.run(asyncio.wait_for(_group_members(group), 30))


def _wait_members(expected: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if group_members() == expected:
                return time.monotonic() - started
        except Exception as exc:
            log(f"describe group: {exc!r}")
        time.sleep(0.5)
    raise RuntimeError(f"group {GROUP} did not reach {expected} members within {timeout} s")


def _second_dispatch(m: Mesh) -> None:
    second = Service("dispatch-b", "dispatch")
    m.extra.append(second)
    second.start()
    second.wait_ready()
    took = _wait_members(2, 60)
    log(f"dispatch-b joined group {GROUP} ({took:.1f} s): 2 members")


def _drop_second_dispatch(m: Mesh) -> None:
    for svc in m.extra:
        svc.stop()
    m.extra.clear()


def _slow_consumer(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.1, 0.2))
    at = clock.now()
    m.dispatch.pause()
    # frozen: no heartbeats, no polls. The coordinator drops it after the session timeout
    # (aiokafka default 10 s) and gives its partitions to dispatch-b.
    took = _wait_members(1, 60)
    time.sleep(2)  # dispatch-b now owns every partition and works on them
    m.dispatch.resume()
    resumed = clock.now()
    back = _wait_members(2, 60)
    notes.append(
        f"SIGSTOP dispatch (pid {m.dispatch.pid}) at +{at:.1f} s while dispatch-b (pid {m.extra[0].pid}) runs in group "
        f"{GROUP}; the group fell to 1 member {took:.1f} s later (rebalanced); SIGCONT at +{resumed:.1f} s "
        f"(stopped {resumed - at:.1f} s); it rejoined, 2 members again {back:.1f} s later"
    )
    log(notes[-1])


# --- poison and oversized records ------------------------------------------------------------------

# The topics the services consume (every consumer group of the mesh but video alarms, which has no load).
POISONED = (
    "intake.cases.v1",
    "dispatch.cases.v1",
    "dispatch.tasks.v1",
    "mediation.disputes.v1",
    "mediation.task-results.v1",
    "policing.police-tasks.v1",
    "policing.task-results.v1",
)
_POISONS: dict[str, tuple[bytes, str | None]] = {  # kind -> value, ce_type (None: the topic's first)
    "nested JSON (RecursionError)": (b"[" * 100_000 + b"]" * 100_000, None),
    "bad UTF-8": (b'{"description": "\xff\xfe"}', None),
    "wrong type": (b"[1, 2, 3]", None),
    "unknown event type": (b"{}", "gov.chaos.unknown"),
    "1 MB not JSON, near the topic's limit": (b"x" * 1_040_000, None),
}


@dataclass
class PoisonState:
    records: dict[tuple[str, int], int] = field(default_factory=dict)  # (topic, partition) -> highest poison offset
    parked_event_id: str | None = None


POISON = PoisonState()


async def _produce_poison() -> dict[tuple[str, int], int]:
    from aiokafka import AIOKafkaProducer

    from govmesh_contracts import TOPICS, Envelope

    producer = AIOKafkaProducer(bootstrap_servers=mesh.KAFKA, max_request_size=2_000_000, client_id="chaos-poison")
    await producer.start()
    placed: dict[tuple[str, int], int] = {}
    try:
        for topic in TOPICS:
            if topic.name not in POISONED:
                continue
            kinds = list(_POISONS.items())
            for partition in range(topic.partitions):
                # every partition gets poison, and every kind lands on every topic
                chosen = kinds if partition == 0 else [kinds[partition % (len(kinds) - 1)]]
                for _, (value, ce_type) in chosen:
                    envelope = Envelope.new(source="/chaos/poison", type=ce_type or topic.events[0].event_type)
                    meta = await producer.send_and_wait(
                        topic.name, value=value, key=b"chaos-poison", headers=envelope.to_headers(), partition=partition
                    )
                    placed[(topic.name, partition)] = meta.offset
    finally:
        await producer.stop()
    return placed


def _park_a_row_in_dispatch() -> str:
    """An outbox row dispatch's relay can never publish (1.2 MB, above dispatch.tasks.v1's limit), as one
    written before the limit was checked at write time: it must be set aside, not hold every row behind it."""
    import json
    import uuid

    import psycopg

    event_id = str(uuid.uuid4())
    with psycopg.connect(f"{mesh.POSTGRES}/dispatch", autocommit=True) as conn:
        conn.execute(
            "INSERT INTO outbox (event_id, event_type, topic, key, headers, payload, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, now())",
            (
                event_id,
                "gov.dispatch.task.assigned",
                "dispatch.tasks.v1",
                "chaos-oversized",
                json.dumps([["ce_id", event_id], ["ce_type", "gov.dispatch.task.assigned"]]),
                json.dumps({"blob": "x" * 1_200_000}),
            ),
        )
    return event_id


def _poison(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.2, 0.3))
    at = clock.now()
    POISON.records = asyncio.run(asyncio.wait_for(_produce_poison(), 120))
    notes.append(
        f"at +{at:.1f} s: {len(POISON.records)} partitions of {len(POISONED)} consumed topics got poison "
        f"({', '.join(_POISONS)}), done by +{clock.now():.1f} s"
    )
    log(notes[-1])
    clock.sleep_until(rnd.uniform(0.4, 0.5))
    at = clock.now()
    POISON.parked_event_id = _park_a_row_in_dispatch()
    notes.append(
        f"at +{at:.1f} s: a 1.2 MB outbox row for dispatch.tasks.v1 written into dispatch's database "
        f"(event {POISON.parked_event_id})"
    )
    log(notes[-1])


async def _groups_behind() -> list[str]:
    """(group, partition) pairs whose committed offset is not past the poison on that partition."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=mesh.KAFKA, client_id="chaos-admin")
    await admin.start()
    try:
        groups = [g[0] for g in await admin.list_consumer_groups()]
        behind: list[str] = []
        for group in sorted(groups):
            committed = {
                (tp.topic, tp.partition): meta.offset
                for tp, meta in (await admin.list_consumer_group_offsets(group)).items()
            }
            topics = {topic for topic, _ in committed}
            for (topic, partition), offset in sorted(POISON.records.items()):
                if topic not in topics:
                    continue
                got = committed.get((topic, partition), -1)
                if got <= offset:
                    behind.append(f"{group} on {topic}[{partition}]: committed {got}, poison at {offset}")
        return behind
    finally:
        await admin.close()


def _parked() -> tuple[bool, str | None]:
    import psycopg

    with psycopg.connect(f"{mesh.POSTGRES}/dispatch", autocommit=True) as conn:
        row = conn.execute(
            "SELECT parked_at IS NOT NULL, park_reason FROM outbox WHERE event_id = %s", (POISON.parked_event_id,)
        ).fetchone()
    return (bool(row[0]), row[1]) if row else (False, None)


def _verify_poison(m: Mesh, size: Size, notes: list[str]) -> list[str]:
    deadline = time.monotonic() + size.drain_s
    while True:
        behind = asyncio.run(asyncio.wait_for(_groups_behind(), 60))
        parked, reason = _parked()
        if (not behind and parked) or time.monotonic() > deadline:
            break
        time.sleep(1)
    problems = [f"consumer group stuck behind poison: {b}" for b in behind]
    if not parked:
        problems.append(f"the 1.2 MB outbox row {POISON.parked_event_id} was not parked")
    else:
        notes.append(f"dispatch's relay parked the 1.2 MB row: {reason}")
    if not behind:
        notes.append("every consumer group committed past the poison on every partition")
    return problems


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("baseline", "no fault (control)", _nothing),
    Scenario("kill-intake", "SIGKILL intake at random moments, restart after 0.5-2 s", _kill(lambda m: m.intake)),
    Scenario("kill-dispatch", "SIGKILL dispatch at random moments, restart after 0.5-2 s", _kill(lambda m: m.dispatch)),
    Scenario(
        "kill-mediation",
        "SIGKILL mediation at random moments, restart after 0.5-2 s",
        _kill(lambda m: m.named("mediation")),
    ),
    Scenario(
        "kill-policing",
        "SIGKILL policing at random moments, restart after 0.5-2 s",
        _kill(lambda m: m.named("policing")),
    ),
    Scenario("kafka-stop", "broker stopped (SIGTERM) and restarted", _kafka_stop),
    Scenario("kafka-kill9", "broker killed (kill -9) and restarted", _kafka_kill9),
    Scenario("postgres-restart", "PostgreSQL stopped (fast) and restarted", _postgres_restart),
    Scenario(
        "slow-consumer",
        "one of two dispatch instances SIGSTOPped until the group rebalances, then SIGCONT",
        _slow_consumer,
        setup=_second_dispatch,
        teardown=_drop_second_dispatch,
        min_load_s=30,
    ),
    Scenario(
        "poison",
        "poison and oversized records under load: undecodable records on every partition of every consumed"
        " topic, a 1.2 MB outbox row in dispatch",
        _poison,
        verify=_verify_poison,
    ),
)
