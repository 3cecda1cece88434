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


QUICK = Size(load_s=12, rate=8, kills=1, outage_s=3, drain_s=90, settle_s=60)
FULL = Size(load_s=40, rate=15, kills=3, outage_s=8, drain_s=180, settle_s=90)


@dataclass
class Mesh:
    intake: Service
    dispatch: Service
    downstream: list[Service] = field(default_factory=list)  # mediation, policing
    extra: list[Service] = field(default_factory=list)  # a second dispatch instance, when a scenario needs one

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


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    inject: Inject
    setup: Callable[[Mesh], None] | None = None
    teardown: Callable[[Mesh], None] | None = None
    min_load_s: float = 0


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
)
