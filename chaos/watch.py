"""What the cluster and the mesh did during a fault, sampled once a second: the brokers' view
(which nodes the metadata lists, the leader and ISR of every partition), a probe producer
configured like the outbox relays (acks=all, idempotent) acknowledging one record per partition
of its own topic, each service instance's /readyz, HAProxy's view of its servers and the
database sessions of each service waiting on a lock. Runs in a
thread with its own event loop; summarise() turns the samples into the lines RESULTS.md shows."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.cluster import ClusterMetadata
from aiokafka.conn import create_conn
from aiokafka.protocol.metadata import MetadataRequest

PROBE_TOPIC = "chaos.probe"
WATCHED = "watched: "  # the lines summarise() adds to a scenario's notes (not faults)
MESH_TOPICS = ("intake.cases.v1", "dispatch.cases.v1", "dispatch.tasks.v1")


async def create_probe_topic(bootstrap: str, partitions: int = 3) -> None:
    """One partition per broker (the controller spreads the leaders), RF 3, min ISR 2 like the mesh's."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="chaos-probe-admin")
    await admin.start()
    try:
        if PROBE_TOPIC not in await admin.list_topics():
            topic = NewTopic(PROBE_TOPIC, partitions, 3, topic_configs={"min.insync.replicas": "2"})
            await admin.create_topics([topic])
    finally:
        await admin.close()


@dataclass
class Sample:
    t: float  # seconds since the watch started
    brokers: frozenset[int]
    leaders: dict[tuple[str, int], int]
    isr: dict[tuple[str, int], frozenset[int]]


@dataclass
class Watch:
    nodes: dict[int, tuple[str, int]]  # node id -> (host, client port)
    services: dict[str, str] = field(default_factory=dict)  # instance name -> base url
    haproxy_socket: str | None = None
    postgres: str | None = None  # postgresql://user:pw@host:port (no database)
    started: float = 0.0
    metadata: list[Sample] = field(default_factory=list)
    acks: dict[int, list[tuple[float, float | None]]] = field(default_factory=dict)  # partition -> (sent, acked)
    ready: dict[str, list[tuple[float, str]]] = field(default_factory=dict)  # instance -> (t, "ok" | why not)
    balancer: list[tuple[float, dict[str, str]]] = field(default_factory=list)  # (t, server -> UP/DOWN)
    # (t, database -> (sessions, sessions waiting on a lock, longest wait s, the statement most of them wait in))
    locks: list[tuple[float, dict[str, tuple[int, int, float, str]]]] = field(default_factory=list)
    avoid: set[int] = field(default_factory=set)  # nodes not to ask for metadata (cut off: they would hang)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def now(self) -> float:
        return time.monotonic() - self.started

    def start(self) -> Watch:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="chaos-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    async def _main(self) -> None:
        await asyncio.gather(
            self._sample_metadata(), self._probe(), self._sample_ready(), self._sample_balancer(), self._sample_locks()
        )

    async def _sample_locks(self) -> None:
        if self.postgres is None:
            return
        import psycopg

        query = """
            SELECT datname, count(*),
                   count(*) FILTER (WHERE wait_event_type = 'Lock'),
                   coalesce(max(extract(epoch FROM now() - query_start)) FILTER (WHERE wait_event_type = 'Lock'), 0),
                   coalesce(mode() WITHIN GROUP (ORDER BY left(query, 48)) FILTER (WHERE wait_event_type = 'Lock'), '')
            FROM pg_stat_activity
            WHERE datname IN ('intake', 'dispatch', 'mediation', 'policing') AND pid <> pg_backend_pid()
            GROUP BY datname"""
        conn: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = await psycopg.AsyncConnection.connect(f"{self.postgres}/intake", autocommit=True)
                rows = await (await conn.execute(query)).fetchall()
                self.locks.append(
                    (self.now(), {str(r[0]): (int(r[1]), int(r[2]), float(r[3]), str(r[4])) for r in rows})
                )
            except (psycopg.Error, OSError):
                conn = None
            await asyncio.sleep(1.0)
        if conn is not None:
            await conn.close()

    async def _sample_metadata(self) -> None:
        while not self._stop.is_set():
            tick = time.monotonic()
            for node, (host, port) in sorted(self.nodes.items()):
                if node in self.avoid:
                    continue
                try:
                    conn = await asyncio.wait_for(create_conn(host, port, request_timeout_ms=3000), 3)
                    try:
                        resp = await asyncio.wait_for(conn.send(MetadataRequest(None)), 3)
                    finally:
                        conn.close()
                except Exception:  # this node does not answer now: ask the next  # noqa: S112
                    continue
                cluster = ClusterMetadata()
                cluster.update_metadata(resp)
                leaders: dict[tuple[str, int], int] = {}
                isr: dict[tuple[str, int], frozenset[int]] = {}
                for topic in (*MESH_TOPICS, PROBE_TOPIC):
                    for p, meta in (cluster._partitions.get(topic) or {}).items():
                        leaders[(topic, p)] = meta.leader
                        isr[(topic, p)] = frozenset(meta.isr)
                brokers = frozenset(b.nodeId for b in cluster.brokers())
                self.metadata.append(Sample(self.now(), brokers, leaders, isr))
                break
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    async def _probe(self) -> None:
        bootstrap = ",".join(f"{h}:{p}" for n, (h, p) in sorted(self.nodes.items()) if n not in self.avoid)
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id="chaos-probe",
            enable_idempotence=True,
            acks="all",
            request_timeout_ms=15000,
        )
        try:
            await producer.start()
        except Exception:
            return
        pending: set[asyncio.Task[None]] = set()

        async def one(partition: int) -> None:
            sent = self.now()
            entry: tuple[float, float | None] = (sent, None)
            self.acks.setdefault(partition, []).append(entry)
            index = len(self.acks[partition]) - 1
            try:
                await producer.send_and_wait(PROBE_TOPIC, b"probe", partition=partition)
                self.acks[partition][index] = (sent, self.now())
            except Exception:  # not acknowledged: stays (sent, None) and counts as failed  # noqa: S110
                pass

        try:
            partitions = sorted(await producer.partitions_for(PROBE_TOPIC))
            while not self._stop.is_set():
                for p in partitions:
                    task = asyncio.create_task(one(p))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                await asyncio.sleep(0.5)
            if pending:
                await asyncio.wait(set(pending), timeout=20)
        finally:
            for task in pending:
                task.cancel()
            await producer.stop()

    async def _sample_ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            while not self._stop.is_set():
                tick = time.monotonic()

                async def check(name: str, url: str) -> None:
                    t = self.now()
                    try:
                        resp = await client.get(url + "/readyz")
                        if resp.status_code == 200:
                            why = "ok"
                        else:
                            checks = resp.json().get("checks", {})
                            why = "+".join(sorted(k for k, v in checks.items() if not v)) or str(resp.status_code)
                    except httpx.TimeoutException:
                        why = "no answer in 2 s"
                    except (httpx.HTTPError, ValueError) as exc:
                        why = type(exc).__name__
                    self.ready.setdefault(name, []).append((t, why))

                await asyncio.gather(*(check(n, u) for n, u in self.services.items()))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))

    async def _sample_balancer(self) -> None:
        if self.haproxy_socket is None:
            return
        while not self._stop.is_set():
            try:
                reader, writer = await asyncio.open_unix_connection(self.haproxy_socket)
                writer.write(b"show stat\n")
                await writer.drain()
                text = (await asyncio.wait_for(reader.read(), 3)).decode()
                writer.close()
                state: dict[str, str] = {}
                for line in text.splitlines():
                    cols = line.split(",")
                    if len(cols) > 17 and cols[1] not in ("FRONTEND", "BACKEND", "svname"):
                        state[cols[1]] = cols[17]  # svname -> status (UP, DOWN, UP 1/3, ...)
                self.balancer.append((self.now(), state))
            except (OSError, TimeoutError):
                pass
            await asyncio.sleep(1.0)

    # --- what the samples say ---------------------------------------------------------------------

    def summarise(self, at: float, marks: dict[str, float], cut: int | None = None) -> list[str]:
        """Lines for RESULTS.md; ``at`` the watch-relative moment of the fault, ``marks`` named
        watch-relative moments (healed, restarted ...) used to phrase the findings."""
        out: list[str] = []

        def rel(t: float) -> str:
            return f"{t - at:+.1f} s"

        if self.metadata:
            first = next((s for s in self.metadata if s.t <= at), self.metadata[0])
            out.append(
                f"metadata sampled {len(self.metadata)} × from the other nodes (times relative to the fault): "
                + self._metadata_story(first, at, cut, rel)
            )
        out.extend(self._probe_story(at, cut, rel))
        out.extend(self._ready_story())
        out.extend(self._balancer_story())
        out.extend(self._lock_story())
        return [WATCHED + line for line in out]

    def _lock_story(self) -> list[str]:
        if not self.locks:
            return []
        parts: list[str] = []
        for db in ("intake", "dispatch", "mediation", "policing"):
            seen = [d[db] for _, d in self.locks if db in d]
            waiting = [w for _, w, _, _ in seen if w]
            if not waiting:
                parts.append(f"{db}: none waiting (at most {max((n for n, *_ in seen), default=0)} sessions)")
                continue
            statements: dict[str, int] = {}
            for _, w, _, stmt in seen:
                if w:
                    statements[stmt] = statements.get(stmt, 0) + 1
            top = max(statements, key=lambda k: statements[k])
            most = max(n for n, *_ in seen)
            longest = max(x for _, _, x, _ in seen)
            parts.append(
                f"{db}: sessions waiting on a lock in {len(waiting)} of {len(seen)} samples, up to {max(waiting)}"
                f" at once (of at most {most} sessions), the longest for {longest:.0f} s, mostly in `{top.strip()}…`"
            )
        return ["PostgreSQL, once a second: " + "; ".join(parts)]

    def _metadata_story(self, first: Sample, at: float, cut: int | None, fmt: Callable[[float], str]) -> str:
        parts: list[str] = []
        if cut is None:
            return "no node cut"
        led = [tp for tp, leader in first.leaders.items() if leader == cut]
        after = [s for s in self.metadata if s.t > at]
        gone = next((s for s in after if cut not in s.brokers), None)
        parts.append(
            f"node {cut} listed as a broker until {fmt(gone.t)} (fenced)"
            if gone
            else f"node {cut} never left the brokers list"
        )
        moved = [next((s.t for s in after if s.leaders.get(tp, cut) != cut), None) for tp in led]
        done = [t for t in moved if t is not None]
        if led:
            parts.append(
                f"it led {len(led)} of the watched partitions; their leadership moved to other nodes by "
                f"{fmt(max(done))}"
                if len(done) == len(led)
                else f"it led {len(led)} watched partitions; {len(done)} moved"
            )
        followed = [tp for tp, isr in first.isr.items() if cut in isr]
        shrunk = [next((s.t for s in after if cut not in s.isr.get(tp, frozenset())), None) for tp in followed]
        done_isr = [t for t in shrunk if t is not None]
        if done_isr:
            parts.append(
                f"dropped from the ISR of {len(done_isr)} of {len(followed)} partitions by {fmt(max(done_isr))}"
            )
        healed = [s for s in after if gone is not None and s.t > gone.t and cut in s.brokers]
        if healed:
            parts.append(f"listed again from {fmt(healed[0].t)}")
            back = next((s for s in healed if all(cut in s.isr.get(tp, frozenset()) for tp in followed)), None)
            parts.append(
                f"back in every ISR by {fmt(back.t)}" if back else "not yet back in every ISR when the watch ended"
            )
            last = self.metadata[-1]
            parts.append(f"leading {sum(1 for v in last.leaders.values() if v == cut)} partitions at the end")
        return "; ".join(parts)

    def _probe_story(self, at: float, cut: int | None, fmt: Callable[[float], str]) -> list[str]:
        if not self.acks:
            return ["probe producer: no acknowledgement at all"]
        leaders = self.metadata[0].leaders if self.metadata else {}
        lines: list[str] = []
        for p, entries in sorted(self.acks.items()):
            acked = sorted(a for _, a in entries if a is not None)
            latencies = [a - s for s, a in entries if a is not None]
            lost = sum(1 for _, a in entries if a is None)
            gaps = [(b - a, a) for a, b in itertools.pairwise(acked)]
            gap, gap_from = max(gaps, default=(0.0, 0.0))
            lines.append(
                f"partition {p} (leader at start: node {leaders.get((PROBE_TOPIC, p), '?')}): {len(acked)} acked, "
                f"{lost} failed or unanswered; slowest ack {max(latencies, default=0):.1f} s; longest gap between "
                f"acks {gap:.1f} s (from {fmt(gap_from)})"
            )
        what = "probe producer (acks=all, idempotent, like the relays), one record per partition every 0.5 s"
        return [f"{what}: {'; '.join(lines)}"]

    def _ready_story(self) -> list[str]:
        parts: list[str] = []
        for name, samples in sorted(self.ready.items()):
            bad = [why for _, why in samples if why != "ok"]
            if not bad:
                parts.append(f"{name} ready in all {len(samples)}")
                continue
            kinds: dict[str, int] = {}
            for why in bad:
                kinds[why] = kinds.get(why, 0) + 1
            spans = ", ".join(f"{k} × {n}" for k, n in sorted(kinds.items()))
            parts.append(f"{name} not ready in {len(bad)} of {len(samples)} ({spans})")
        return ["/readyz once a second: " + "; ".join(parts)] if parts else []

    def _balancer_story(self) -> list[str]:
        if not self.balancer:
            return []
        down: dict[str, int] = {}
        all_down: dict[str, int] = {}
        for _, state in self.balancer:
            for server, status in state.items():
                if not status.startswith("UP"):
                    down[server] = down.get(server, 0) + 1
            for package in ("intake", "dispatch"):
                servers = [s for s in state if s.startswith(package + "-")]
                if servers and all(not state[s].startswith("UP") for s in servers):
                    all_down[package] = all_down.get(package, 0) + 1
        n = len(self.balancer)
        parts = [f"{s} down in {k}" for s, k in sorted(down.items())] or ["every server up in every sample"]
        parts += [f"every {p} instance down at once in {k}" for p, k in sorted(all_down.items())]
        return [f"HAProxy's view, {n} samples: " + "; ".join(parts)]
