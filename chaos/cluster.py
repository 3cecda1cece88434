"""The cluster scenarios (issue 16 item 4): a three-broker KRaft cluster (infra/kafka/kafka.sh
with KAFKA_BROKERS=3; topics with replication factor 3, min ISR 2) and two instances of each
service (``<service>-a``, ``<service>-b``: one database per service shared by both, consumer
groups shared), intake and dispatch behind HAProxy health-checked on /readyz, the load and the
read-back going through it. Faults: the leader of the busiest partition SIGKILLed, a rolling
restart of the three brokers, one broker SIGSTOPped for 30 s, one broker cut off from the others
and from the services (each node in its own network namespace, its link set down), one instance
of each service SIGKILLed, PostgreSQL restarted while the relays publish."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import mesh
from aiokafka import AIOKafkaConsumer, TopicPartition
from mesh import Service, log
from scenarios import Clock, Mesh, Scenario, Size, _postgres_restart
from watch import Watch, create_probe_topic

BROKERS = 3
PORT = int(os.environ.get("CHAOS_KAFKA_CLUSTER_PORT", str(mesh.KAFKA_PORT + 10)))  # node i: PORT + 2(i-1)
DIR = mesh.DATA / "kafka-cluster"
BOOTSTRAP = ",".join(f"127.0.0.1:{PORT + 2 * i}" for i in range(BROKERS))
ENV = {**mesh.INFRA_ENV, "KAFKA_PORT": str(PORT), "KAFKA_BROKERS": str(BROKERS), "KAFKA_DATA_DIR": str(DIR)}
HAPROXY_PID = mesh.DATA / "haproxy" / "haproxy.pid"
HAPROXY_STATS = mesh.DATA / "haproxy" / "stats.sock"
NETNS = f"cm{PORT}"  # kafka.sh KAFKA_NETNS: bridge cm<port>, node i behind veth cm<port>n<i>
NODES: dict[int, tuple[str, int]] = {i + 1: ("127.0.0.1", PORT + 2 * i) for i in range(BROKERS)}


def use_netns() -> None:
    """Each node in its own network namespace (root only): what the cut scenario needs. The
    addresses change (10.x.y.11-13), so BOOTSTRAP and NODES are set again from kafka.sh."""
    global BOOTSTRAP
    ENV["KAFKA_NETNS"] = NETNS
    BOOTSTRAP = kafka("bootstrap")
    for i, address in enumerate(BOOTSTRAP.split(","), start=1):
        host, port = address.rsplit(":", 1)
        NODES[i] = (host, int(port))


def kafka(command: str, timeout: float = 400) -> str:
    result = subprocess.run(
        [str(mesh.ROOT / "infra/kafka/kafka.sh"), command], env=ENV, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"kafka.sh {command} (cluster) failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def node_pid(node: int) -> int | None:
    try:
        pid = int((DIR / f"node-{node}" / "kafka.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if mesh.pid_alive(pid) else None


def _wait_gone(pid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while mesh.pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def up() -> None:
    """The single broker goes; the cluster comes, with the mesh's topics (RF 3, min ISR 2)."""
    log(mesh.kafka("stop"))
    log(kafka("start"))
    mesh.sh(str(mesh.ROOT / ".venv/bin/govmesh-topics"), "--bootstrap-servers", BOOTSTRAP, "--wait", "120")
    asyncio.run(asyncio.wait_for(create_probe_topic(BOOTSTRAP), 120))


def down() -> None:
    balancer_down()
    try:
        log(kafka("stop"))
    except Exception as exc:
        log(f"cluster stop failed: {exc}")


# --- two instances of each service, intake and dispatch behind HAProxy ------------------------------


def build_mesh() -> Mesh:
    def pair(package: str, extra: dict[str, str] | None = None) -> list[Service]:
        env = {"KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP, "GOVMESH_RELAY_LEASE_S": "5", **(extra or {})}
        return [Service(f"{package}-{x}", package, dict(env)) for x in "ab"]

    intake = pair("intake", {"INTAKE_DUPLICATE_WINDOW_S": "0"})
    dispatch, mediation, policing = pair("dispatch"), pair("mediation"), pair("policing")
    m = Mesh(
        intake[0],
        dispatch[0],
        downstream=[mediation[0], policing[0]],
        extra=[intake[1], dispatch[1], mediation[1], policing[1]],
    )
    m.front = {"intake": mesh.free_port(), "dispatch": mesh.free_port()}
    return m


def balancer_config(m: Mesh) -> str:
    lines = [
        "global",
        "    maxconn 4096",
        f"    stats socket {HAPROXY_STATS} mode 600 level user",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    option redispatch",
        "    retries 3",
        "    retry-on conn-failure empty-response 503",
    ]
    for name, port in m.front.items():
        lines += [
            f"frontend {name}",
            f"    bind 127.0.0.1:{port}",
            f"    default_backend {name}-instances",
            f"backend {name}-instances",
            "    balance roundrobin",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            "    timeout check 5s",
            "    default-server inter 1s fall 3 rise 1",
        ]
        lines += [f"    server {s.name} 127.0.0.1:{s.port} check" for s in m.services if s.package == name]
    return "\n".join(lines) + "\n"


def balancer_up(m: Mesh) -> None:
    config = HAPROXY_PID.parent / "haproxy.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(balancer_config(m))
    binary = "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else "haproxy"
    if subprocess.run(["sh", "-c", f"command -v {binary}"], capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, capture_output=True)
    subprocess.run([binary, "-D", "-f", str(config), "-p", str(HAPROXY_PID)], check=True)
    deadline = time.monotonic() + 60
    while not all(mesh.http_ok(f"http://127.0.0.1:{p}/readyz") for p in m.front.values()):
        if time.monotonic() > deadline:
            raise RuntimeError("HAProxy does not answer /readyz for intake and dispatch")
        time.sleep(0.3)
    log(f"haproxy (pid {HAPROXY_PID.read_text().strip()}): {m.front}")


def balancer_down() -> None:
    try:
        pid = int(HAPROXY_PID.read_text())
        os.kill(pid, signal.SIGTERM)
        HAPROXY_PID.unlink()
    except (OSError, ValueError):
        pass


# --- faults -------------------------------------------------------------------------------------------


async def _busiest() -> tuple[TopicPartition, int, int]:
    """The partition of the mesh's case topics that holds the most records, its leader (node id =
    kafka.sh's node number) and its end offset."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=None, request_timeout_ms=20000)
    await consumer.start()
    try:
        # metadata of every topic (a consumer without subscriptions keeps none)
        cluster = await consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(t, p)
            for t in ("intake.cases.v1", "dispatch.cases.v1", "dispatch.tasks.v1")
            for p in sorted(cluster.partitions_for_topic(t) or ())
        ]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        tp = max(tps, key=lambda x: ends[x])
        leader = cluster.leader_for_partition(tp)
        return tp, int(leader if leader is not None else 1), ends[tp]
    finally:
        await consumer.stop()


def busiest() -> tuple[TopicPartition, int, int]:
    return asyncio.run(asyncio.wait_for(_busiest(), 60))


def watch(m: Mesh, avoid: set[int] | None = None) -> Watch:
    services = {s.name: s.url for s in m.services}
    return Watch(dict(NODES), services, str(HAPROXY_STATS), mesh.POSTGRES, avoid=set(avoid or ())).start()


def _baseline(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    """No fault, watched like the faults: what the same box does without one."""
    w = watch(m)
    try:
        clock.sleep_until(1.0)
    finally:
        w.stop()
    notes.extend(w.summarise(0.0, {}))


def _leader_kill(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.3, 0.5))
    tp, node, end = busiest()
    pid = node_pid(node)
    if pid is None:
        raise RuntimeError(f"node {node} (leader of {tp.topic}-{tp.partition}) does not run")
    at = clock.now()
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    time.sleep(size.outage_s)
    kafka("start")  # relaunches the node that is not running
    notes.append(
        f"SIGKILL node {node} (JVM pid {pid}), leader of the busiest partition {tp.topic}-{tp.partition}"
        f" ({end} records) at +{at:.1f} s; kafka.sh start after {size.outage_s:.0f} s, in again at +{clock.now():.1f} s"
    )
    log(notes[-1])


def _rolling_restart(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    w = watch(m)
    clock.sleep_until(rnd.uniform(0.1, 0.2))
    first = w.now()
    try:
        for node in range(1, BROKERS + 1):
            pid = node_pid(node)
            if pid is None:
                raise RuntimeError(f"node {node} does not run")
            at = clock.now()
            os.kill(pid, signal.SIGTERM)  # controlled shutdown: leadership moves first
            _wait_gone(pid, 90)
            down_at = clock.now()
            kafka("start")
            notes.append(
                f"node {node} (pid {pid}) SIGTERM at +{at:.1f} s, gone at +{down_at:.1f} s, restarted and ready"
                f" at +{clock.now():.1f} s"
            )
            log(notes[-1])
        time.sleep(5)
    finally:
        w.stop()
    notes.extend(w.summarise(first, {}))
    for line in notes[-5:]:
        log(line)


def _cut(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    """The busiest partition's leader cut off from the other nodes and from every client: its
    namespace's link on the bridge set down (packets dropped both ways, no RST: connections hang
    until their timeouts), for size.cut_s, then up again."""
    if "KAFKA_NETNS" not in ENV:
        raise RuntimeError("cluster-cut needs the nodes in network namespaces (cluster.use_netns)")
    clock.sleep_until(rnd.uniform(0.15, 0.25))
    tp, node, _ = busiest()
    veth = f"{NETNS}n{node}"
    w = watch(m, avoid={node})
    time.sleep(3)  # a few samples before the cut
    at, cut_at = clock.now(), w.now()
    subprocess.run(["ip", "link", "set", veth, "down"], check=True)
    try:
        time.sleep(size.cut_s)
    finally:
        subprocess.run(["ip", "link", "set", veth, "up"], check=True)
    healed, healed_w = clock.now(), w.now()
    w.avoid.clear()
    time.sleep(size.cut_s)  # the node catches up and rejoins the ISRs
    w.stop()
    notes.append(
        f"node {node} (leader of the busiest partition {tp.topic}-{tp.partition}) cut off at +{at:.1f} s"
        f" (`ip link set {veth} down`), healed at +{healed:.1f} s ({healed_w - cut_at:.0f} s cut)"
    )
    notes.extend(w.summarise(cut_at, {"healed": healed_w}, cut=node))
    for line in notes[-6:]:
        log(line)


def _broker_pause(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    clock.sleep_until(rnd.uniform(0.1, 0.2))
    tp, node, _ = busiest()
    pid = node_pid(node)
    if pid is None:
        raise RuntimeError(f"node {node} does not run")
    at = clock.now()
    os.kill(pid, signal.SIGSTOP)  # hangs: connections open, nothing answered
    try:
        time.sleep(30)
    finally:
        os.kill(pid, signal.SIGCONT)
    notes.append(
        f"SIGSTOP node {node} (pid {pid}, leader of {tp.topic}-{tp.partition}) at +{at:.1f} s for 30 s;"
        f" SIGCONT at +{clock.now():.1f} s"
    )
    log(notes[-1])


def _kill_instances(m: Mesh, clock: Clock, rnd: random.Random, size: Size, notes: list[str]) -> None:
    packages = ["intake", "dispatch", "mediation", "policing"]
    moments = sorted((rnd.uniform(0.1, 0.8), p) for p in packages)
    for moment, package in moments:
        clock.sleep_until(moment)
        svc = m.named(f"{package}-{rnd.choice('ab')}")
        if not svc.alive():
            raise RuntimeError(f"{svc.name} exited on its own; see {svc.log_path}")
        pid = svc.kill()
        at = clock.now()
        pause = rnd.uniform(0.5, 2.0)
        time.sleep(pause)
        svc.start()
        notes.append(f"SIGKILL {svc.name} pid {pid} at +{at:.1f} s; restarted {pause:.1f} s later (pid {svc.pid})")
        log(notes[-1])


CLUSTER_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "cluster-baseline",
        "3 brokers, 2 instances per service: no fault (the cluster's control row, watched like the faults)",
        _baseline,
        cluster=True,
        quick=False,
    ),
    Scenario(
        "cluster-leader-kill",
        "3 brokers, 2 instances per service: SIGKILL the leader of the busiest partition, restart after the outage",
        _leader_kill,
        cluster=True,
        quick=True,
    ),
    Scenario(
        "cluster-rolling-restart",
        "3 brokers, 2 instances per service: each broker in turn SIGTERMed and restarted",
        _rolling_restart,
        cluster=True,
        quick=False,
        min_load_s=60,
    ),
    Scenario(
        "cluster-broker-pause",
        "3 brokers, 2 instances per service: the busiest partition's leader SIGSTOPped for 30 s",
        _broker_pause,
        cluster=True,
        quick=False,
        min_load_s=45,
    ),
    Scenario(
        "cluster-cut",
        "3 brokers, 2 instances per service: the busiest partition's leader cut off from the other brokers and the"
        " services (network namespace link down), then healed",
        _cut,
        cluster=True,
        quick=False,
        min_load_s=60,
    ),
    Scenario(
        "cluster-kill-instances",
        "3 brokers, 2 instances per service: SIGKILL one instance of each service, restart after 0.5-2 s",
        _kill_instances,
        cluster=True,
        quick=False,
    ),
    Scenario(
        "cluster-postgres-restart",
        "3 brokers, 2 instances per service: PostgreSQL stopped (fast) and restarted while the relays publish",
        _postgres_restart,
        cluster=True,
        quick=False,
    ),
)
