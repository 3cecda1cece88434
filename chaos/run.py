"""``make chaos``: faults under load against the real mesh, measured.

Starts its own Kafka and PostgreSQL (ports 29792 / 26132, data in .data/chaos; override
with CHAOS_KAFKA_PORT, CHAOS_PG_PORT, CHAOS_DATA), intake, dispatch, mediation and policing as processes on
PostgreSQL, then runs each scenario under a steady load of cases posted to intake, and
prints one row per scenario: cases accepted, completed, lost, handled twice. Writes
chaos/RESULTS.md. Exits 1 when any case was lost or handled twice, 2 when the harness
itself failed. Everything it started is stopped, also on failure.

    .venv/bin/python chaos/run.py [--quick] [--seed N] [--scenarios baseline,kill-intake,...]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cluster
import mesh
from ledger import IntakeView, Ledger, Verdict, dispatch_views, intake_gaps, intake_views, judge, selfcheck
from load import LoadGenerator
from mesh import Service, log
from scenarios import FULL, QUICK, SCENARIOS, Clock, Mesh, Scenario, Size
from watch import WATCHED

HERE = Path(__file__).resolve().parent
CLUSTER_SETUP = (
    "three KRaft brokers (RF 3, min ISR 2) with two instances of each service, intake and dispatch behind HAProxy"
)


@dataclass
class Result:
    scenario: Scenario
    verdict: Verdict = field(default_factory=Verdict)
    notes: list[str] = field(default_factory=list)
    load_s: float = 0
    retried_requests: int = 0
    client_errors: dict[str, int] = field(default_factory=dict)
    unacked: int = 0
    accepted_per_5s: list[int] = field(default_factory=list)
    rate: float = 0
    rejected: list[str] = field(default_factory=list)
    drained_s: float | None = None
    signs: dict[str, int] = field(default_factory=dict)  # what the service logs said
    sign_lines: list[str] = field(default_factory=list)  # and the lines that matter
    wall_s: float = 0
    error: str | None = None
    problems: list[str] = field(default_factory=list)  # what the scenario's own check found

    @property
    def failed(self) -> bool:
        return bool(
            self.error
            or self.verdict.lost
            or self.verdict.twice
            or self.verdict.disordered
            or self.rejected
            or self.problems
        )


def run_scenario(
    sc: Scenario, m: Mesh, size: Size, rnd: random.Random, headers: dict[str, str], ledger: Ledger
) -> Result:
    result = Result(sc)
    started = time.monotonic()
    try:
        if sc.setup is not None:
            sc.setup(m)
        m.ensure_running()
        marks = mesh.log_marks()
        result.load_s = max(size.load_s, sc.min_load_s)
        gen = LoadGenerator(
            m.intake_url + "/v1/cases",
            tag=f"{sc.name}-{rnd.getrandbits(24):06x}",
            rate=size.rate,
            seed=rnd.getrandbits(64),
            headers=headers,
        )
        log(f"{sc.name}: {sc.what}; load {size.rate:g} cases/s for {result.load_s:g} s")
        gen.start()
        clock = Clock(gen.started_at, result.load_s)
        try:
            sc.inject(m, clock, rnd, size, result.notes)
            clock.sleep_until(1.0)
        finally:
            gen.stop(size.settle_s)
        load_end = time.monotonic()
        result.retried_requests = gen.stats.retried_requests
        result.client_errors = dict(gen.stats.errors_by_kind)
        result.unacked = len(gen.unacked)
        result.accepted_per_5s = gen.accepted_per(5)
        result.rate = size.rate
        result.rejected = [f"{s.key}: {s.rejected}" for s in gen.rejected]
        m.ensure_running()
        accepted = gen.accepted
        case_ids = sorted(set(accepted.values()))
        deadline = load_end + size.drain_s
        intake: dict[str, IntakeView | None] = {}
        while True:
            try:
                ledger.poll()
            except Exception as exc:  # the broker may still be recovering; bounded by the deadline
                log(f"reading the topics failed: {exc!r}")
            pending = [c for c in case_ids if not ledger.completed(c)]
            if not pending:
                # the topics are complete: has intake's timeline caught up with them?
                behind = [c for c in case_ids if intake_gaps(c, ledger, intake.get(c))[0]]
                intake.update(asyncio.run(intake_views(m.intake_url, behind, headers)))
                pending = [c for c in behind if intake_gaps(c, ledger, intake.get(c))[0]]
            if not pending:
                result.drained_s = time.monotonic() - load_end
                break
            if time.monotonic() > deadline:
                log(f"{sc.name}: {len(pending)} accepted cases still not complete after {size.drain_s:g} s")
                break
            time.sleep(1)
        intake = asyncio.run(intake_views(m.intake_url, case_ids, headers))  # the final word, for every case
        views = asyncio.run(dispatch_views(m.dispatch_url, case_ids, headers))
        result.verdict = judge(accepted, ledger, views, intake)
        if sc.verify is not None:
            result.problems = sc.verify(m, size, result.notes)
        result.signs = mesh.log_scan(marks, result.sign_lines)
    except Exception as exc:
        result.error = f"{exc!r}"
        log(f"{sc.name} failed:\n{traceback.format_exc()}")
    finally:
        if sc.teardown is not None:
            try:
                sc.teardown(m)
            except Exception as exc:
                result.error = (result.error or "") + f" teardown: {exc!r}"
        result.wall_s = time.monotonic() - started
    v = result.verdict
    log(
        f"{sc.name}: accepted {v.accepted}, completed {v.completed}, lost {len(v.lost)}, twice {len(v.twice)}, "
        f"redelivered copies {v.copies}, client retries {result.retried_requests}"
    )
    return result


def table(results: list[Result]) -> str:
    lines = [
        "| scenario | faults injected | cases accepted | completed | lost | handled twice | "
        "out of order (per key) | redelivered copies (same event id) | duplicates dropped by an inbox | "
        "client retries | drained after load |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        v = r.verdict
        injected = [n for n in r.notes if not n.startswith(WATCHED)]
        faults = f"{len(injected)} × {r.scenario.what}" if injected else r.scenario.what
        if r.error:
            faults += f" — **harness error**: {r.error[:200]}"
        if r.problems:
            faults += f" — **{len(r.problems)} problem(s)**: {r.problems[0][:200]}"
        drained = f"{r.drained_s:.1f} s" if r.drained_s is not None else "not drained"
        lines.append(
            f"| {r.scenario.name} | {faults} | {v.accepted} | {v.completed} | {len(v.lost)} | {len(v.twice)} | "
            f"{len(v.disordered)} | {v.copies} | {r.signs.get('inbox duplicates dropped', 0)} | "
            f"{r.retried_requests} | {drained} |"
        )
    return "\n".join(lines) + "\n"


def details(results: list[Result]) -> str:
    out: list[str] = []
    for r in results:
        out.append(f"### {r.scenario.name}\n")
        out.append(f"- load: {r.load_s:g} s; scenario wall time {r.wall_s:.0f} s")
        out.extend(f"- {note}" for note in r.notes)
        if r.accepted_per_5s:
            out.append(
                f"- cases accepted per 5 s since the load started (it posts {r.rate * 5:g} new ones per 5 s): "
                + " ".join(str(n) for n in r.accepted_per_5s)
            )
        if r.client_errors:
            errors = ", ".join(f"{k} × {n}" for k, n in sorted(r.client_errors.items()))
            out.append(f"- what the client saw before retrying: {errors}")
        if r.signs:
            out.append("- the services' logs: " + ", ".join(f"{k} {n}" for k, n in sorted(r.signs.items())))
            out.extend(f"    - `{line}`" for line in r.sign_lines)
        if r.unacked:
            out.append(f"- {r.unacked} requests never answered 2xx before the client gave up (not counted as accepted)")
        for line in r.rejected[:10]:
            out.append(f"- REJECTED (4xx): {line}")
        for case_id, why in list(r.verdict.lost.items())[:20]:
            out.append(f"- LOST {case_id}: {why}")
            out.extend(f"    - `{line}`" for line in log_lines(case_id))
        for case_id, why in list(r.verdict.twice.items())[:20]:
            out.append(f"- TWICE {case_id}: {why}")
            out.extend(f"    - `{line}`" for line in log_lines(case_id))
        for case_id, why in list(r.verdict.disordered.items())[:20]:
            out.append(f"- OUT OF ORDER {case_id}: {why}")
        for problem in r.problems:
            out.append(f"- PROBLEM: {problem}")
        if r.error:
            out.append(f"- harness error: {r.error}")
        out.append("")
    return "\n".join(out)


def log_lines(needle: str, limit: int = 8) -> list[str]:
    found: list[str] = []
    for path in sorted((mesh.DATA / "logs").glob("*.log")):
        with path.open(errors="replace") as f:
            found.extend(f"{path.name}: {line.strip()[:400]}" for line in f if needle in line)
    return found[:limit]


def load_average() -> str:
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3]) + " (1 / 5 / 15 min)"


LOAD_AT_START = load_average()
NETNS_NOTE = " (but the three brokers of the cluster- scenarios: each in a network namespace on a local bridge)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short scenarios (about 5 minutes in all)")
    parser.add_argument("--seed", type=int, default=9, help="seed of the fault moments and the load (default 9)")
    everything = (*SCENARIOS, *cluster.CLUSTER_SCENARIOS)
    parser.add_argument("--scenarios", default="", help="comma-separated (default: all; --quick: those marked quick)")
    parser.add_argument("--results", type=Path, default=HERE / "RESULTS.md", help="where to write the results")
    parser.add_argument("--note", default="", help="a sentence for the results header (how busy the box was)")
    args = parser.parse_args()
    wanted = args.scenarios.split(",") if args.scenarios else [s.name for s in everything if s.quick or not args.quick]
    unknown = set(wanted) - {s.name for s in everything}
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    selected = [s for s in everything if s.name in wanted and not s.cluster]
    on_cluster = [s for s in everything if s.name in wanted and s.cluster]
    size = QUICK if args.quick else FULL
    selfcheck()  # the rules must catch a lost and a duplicated case before they judge a run
    rnd = random.Random(args.seed)

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)  # run the finally blocks: stop everything

    signal.signal(signal.SIGTERM, on_term)
    started = time.monotonic()
    results: list[Result] = []
    no_duplicates = {"INTAKE_DUPLICATE_WINDOW_S": "0"}  # random points would be linked to each other's cases
    m = Mesh(
        Service("intake", "intake", no_duplicates),
        Service("dispatch", "dispatch"),
        downstream=[Service("mediation", "mediation"), Service("policing", "policing")],
    )
    harness_error: str | None = None
    cm: Mesh | None = None
    try:
        log(f"infrastructure: Kafka {mesh.KAFKA}, PostgreSQL 127.0.0.1:{mesh.PG_PORT}, data {mesh.DATA}")
        cluster.down()  # a cluster a killed run left behind (by its pid files)
        mesh.infra_up(single_broker=bool(selected))
        headers = mesh.auth_headers()
        if selected:
            for svc in m.services:
                svc.start()
            m.ensure_running()
            ledger = Ledger(mesh.KAFKA, downstream=frozenset(svc.name for svc in m.downstream))
            for sc in selected:
                results.append(run_scenario(sc, m, size, rnd, headers, ledger))
            m.stop()
        if on_cluster:
            if any(s.name == "cluster-cut" for s in on_cluster):
                cluster.use_netns()  # each node in its own network namespace: one can be cut off
            log(f"cluster: {cluster.BROKERS} brokers on {cluster.BOOTSTRAP}, two instances of each service")
            cluster.up()
            cm = cluster.build_mesh()
            first = [cm.intake, cm.dispatch, *cm.downstream]
            for svc in first:  # the first instances migrate (one at a time anyway) and seed
                svc.start()
            for svc in first:
                svc.wait_ready()
            cm.ensure_running()
            cluster.balancer_up(cm)
            ledger = Ledger(cluster.BOOTSTRAP, downstream=frozenset({"mediation", "policing"}))
            for sc in on_cluster:
                results.append(run_scenario(sc, cm, size, rnd, headers, ledger))
    except BaseException as exc:
        harness_error = f"{exc!r}"
        log(f"harness failed:\n{traceback.format_exc()}")
    finally:
        log("stopping services and infrastructure")
        m.stop()
        if cm is not None:
            cm.stop()
        cluster.down()
        mesh.infra_down()
    total = time.monotonic() - started
    text = table(results)
    print(text)
    mode = "quick" if args.quick else "full"
    verdict = "FAIL" if harness_error or any(r.failed for r in results) else "PASS"
    if harness_error:
        text += f"\n**The harness failed**: {harness_error}\n"
    brokers = " and, for the cluster- scenarios, ".join(
        ([] if not selected else ["one Kafka broker (KRaft)"]) + ([] if not on_cluster else [CLUSTER_SETUP])
    )
    netns = NETNS_NOTE if any(sc.name == "cluster-cut" for sc in on_cluster) else ""
    args.results.write_text(
        f"# Chaos results\n\n"
        f"`.venv/bin/python chaos/run.py{' --quick' if args.quick else ''} --seed {args.seed}` — {mode} run, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {total / 60:.1f} min, on {mesh.machine()}; everything on one box, "
        f"loopback only{netns}; intake, dispatch, mediation and policing as processes on PostgreSQL 15, {brokers}. "
        f"Load {size.rate:g} cases/s per scenario. Verdict: **{verdict}**.\n\n"
        + (f"{args.note}\n\n" if args.note else "")
        + f"Load average at the start {LOAD_AT_START}, at the end {load_average()}.\n\n"
        f"What the columns mean (and the exact rules): [README.md](README.md).\n\n{text}\n"
        f"## What happened, scenario by scenario\n\n{details(results)}"
    )
    log(f"{verdict} in {total / 60:.1f} min; written {args.results}")
    if harness_error or any(r.error for r in results):
        return 2
    return 1 if verdict == "FAIL" else 0


if __name__ == "__main__":
    sys.exit(main())
