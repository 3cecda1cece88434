"""``make bench``: benchmarks on the real parts, printed as one table with the ceilings
measured in the same run, and written to bench/RESULTS.md. Bounded; loopback only.

    python bench/run.py [--quick] [--stages kafka,bare,intake,sqlite,pipeline,dispatch,grid,elements,video,console]
                        [--seconds N] [--connections N] [--profile] [--results FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

import citygen
from citygen.writer import grid_features
from govmesh_contracts import CaseDispatched, CaseReceived, DecodeError, TaskAssigned, decode
from govmesh_runtime.geo import GridIndex

sys.path.insert(0, str(Path(__file__).resolve().parent))
import console_bench
import harness
import video
from harness import KAFKA, Proc, Row, percentile, service, wrk

# Random points a few metres apart would be linked as duplicates of one open case: off here.
NO_DUPLICATES = {"INTAKE_DUPLICATE_WINDOW_S": "0"}
CASE_BODY = (
    '{"matter_code": "convenience.service", "description": "bench case {n}", '
    '"lat": {lat}, "lon": {lon}, "channel": "api", "attributes": {"service_item": "residence certificate"}}'
)


# --- Kafka ceiling -------------------------------------------------------------------------


async def kafka_ceiling(messages: int) -> Row:
    topic = f"bench.raw.{int(time.time())}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 6, 1)])
    await admin.close()
    latencies: list[float] = []
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, group_id=f"bench-{topic}", auto_offset_reset="earliest")
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    payload = b"x" * 400  # about the size of a CaseReceived

    async def consume() -> None:
        while len(latencies) < messages:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                now = time.perf_counter()
                latencies.extend(now - float(r.key) for r in records)  # type: ignore[arg-type]

    reader = asyncio.create_task(consume())
    started = time.perf_counter()
    for start in range(0, messages, 1000):
        futures = [
            await producer.send(topic, payload, key=repr(time.perf_counter()).encode())
            for _ in range(min(1000, messages - start))
        ]
        await asyncio.gather(*futures)
    produced = time.perf_counter() - started
    await asyncio.wait_for(reader, timeout=120)
    total = time.perf_counter() - started
    await producer.stop()
    await consumer.stop()
    return Row(
        "Kafka ceiling: aiokafka produce (idempotent, acks=all) → consume",
        f"{messages / total:,.0f} msg/s end to end ({messages / produced:,.0f} msg/s produced); "
        f"latency p50 {percentile(latencies, 50) * 1000:.0f} ms, p99 {percentile(latencies, 99) * 1000:.0f} ms at saturation",  # noqa: E501
        note=f"{messages:,} × 400 B, 6 partitions",
    )


# --- REST ------------------------------------------------------------------------------------


def bare_ceiling(seconds: int, connections: int) -> tuple[Row, float]:
    proc = Proc("bare-fastapi", [sys.executable, str(Path(__file__).parent / "bare_app.py")], {})
    proc.args.append(str(proc.port))
    proc.start(ready_path="/docs")
    try:
        result = wrk(f"http://127.0.0.1:{proc.port}/v1/cases", CASE_BODY, seconds=seconds, connections=connections)
    finally:
        proc.stop()
    return (
        Row(
            "Ceiling: bare FastAPI endpoint (JSON body → 201), same uvicorn and wrk",
            f"{result.rps:,.0f} req/s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms",
            note=f"wrk -c{connections} {seconds}s",
        ),
        result.rps,
    )


def intake_rest(seconds: int, connections: int, ceiling_rps: float, profile: bool = False) -> list[Row]:
    intake = service(
        "intake", "intake", database="intake", extra={**NO_DUPLICATES, "INTAKE_CONSUMERS_ENABLED": "false"}
    ).start()
    try:
        idle = intake.rss_mb()
        with harness.profiled([intake], "intake", profile) as usage:
            url = f"http://127.0.0.1:{intake.port}/v1/cases"
            result = wrk(url, CASE_BODY, seconds=seconds, connections=connections)
        loaded = intake.rss_mb()
    finally:
        intake.stop()
    return [
        Row(
            "Intake REST: create case (native, PostgreSQL, outbox)",
            f"{result.rps:,.0f} req/s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; non-2xx {result.non2xx}",
            ceiling=f"{ceiling_rps:,.0f} req/s (bare FastAPI)",
            note=f"RSS {idle:.0f} MB idle → {loaded:.0f} MB after load; intake CPU "
            f"{usage.cpu_s['intake'] / max(result.requests, 1) * 1000:.1f} ms per request, "
            f"{usage.cores['intake']:.2f} cores busy",
        )
    ]


def intake_sqlite(seconds: int, connections: int) -> list[Row]:
    """What durable acknowledgements cost on the embedded default: intake's create on SQLite
    with synchronous=FULL (the default: every commit synced) against NORMAL (synced at checkpoints)."""
    rows = []
    for synchronous in ("FULL", "NORMAL"):
        db_file = harness.DATA / "db" / f"intake-{synchronous.lower()}.sqlite"
        db_file.parent.mkdir(parents=True, exist_ok=True)
        extra = {
            **NO_DUPLICATES,
            "INTAKE_CONSUMERS_ENABLED": "false",
            "INTAKE_DATABASE_URL": f"sqlite:///{db_file}",
            "GOVMESH_SQLITE_SYNCHRONOUS": synchronous,
        }
        intake = service("intake", "intake", extra=extra).start()
        try:
            result = wrk(
                f"http://127.0.0.1:{intake.port}/v1/cases", CASE_BODY, seconds=seconds, connections=connections
            )
        finally:
            intake.stop()
        rows.append(
            Row(
                f"Intake REST: create case (native, SQLite synchronous={synchronous}, outbox)",
                f"{result.rps:,.0f} req/s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; "
                f"non-2xx {result.non2xx}",
                note=(
                    "the default: each commit synced before the 201"
                    if synchronous == "FULL"
                    else "not durable on power loss: for comparison only"
                )
                + f"; wrk -c{connections} {seconds}s",
            )
        )
    return rows


OPEN311_BODY = (
    "api_key={key}&service_code=convenience.service&lat={lat}&long={lon}"
    "&attribute%5Bservice_item%5D=residence+certificate&description=bench+request+{n}"
)


def open311_rest(seconds: int, connections: int, ceiling_rps: float) -> Row:
    settings = {**NO_DUPLICATES, "INTAKE_CONSUMERS_ENABLED": "false"}
    intake = service("intake", "intake", database="intake", extra=settings).start()
    try:
        result = wrk(
            f"http://127.0.0.1:{intake.port}/open311/v2/requests.json",
            OPEN311_BODY.replace("{key}", harness.open311_api_key()),  # the client's key, as Open311 sends it
            seconds=seconds,
            connections=connections,
            content_type="application/x-www-form-urlencoded",
            authorization="",
        )
    finally:
        intake.stop()
    return Row(
        "Intake REST: Open311 POST requests.json (form-encoded, PostgreSQL, outbox)",
        f"{result.rps:,.0f} req/s; p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms; non-2xx {result.non2xx}",
        ceiling=f"{ceiling_rps:,.0f} req/s (bare FastAPI)",
    )


# --- Grid element registry ----------------------------------------------------------------------


def elements(rows: int, queries: int) -> list[Row]:
    city_dir = harness.DATA / "city-full"
    harness.sh(sys.executable, "-m", "citygen", "--out", str(city_dir), "--scale", "full", "--elements", str(rows))
    env = {**harness.INFRA_ENV, "DISPATCH_DATABASE_URL": f"{harness.POSTGRES}/dispatch"}
    started = time.perf_counter()
    out = harness.sh(sys.executable, "-m", "dispatch.cli", "import-elements", str(city_dir / "elements.csv"), env=env)
    wall = time.perf_counter() - started
    grids = [f["properties"]["grid_code"] for f in grid_features(citygen.generate("full", 1))]
    dispatch = service("dispatch", "dispatch", database="dispatch").start()
    latencies: list[float] = []
    try:
        rnd = random.Random(11)
        with httpx.Client(
            base_url=f"http://127.0.0.1:{dispatch.port}", timeout=10, headers=harness.auth_headers()
        ) as client:
            for _ in range(queries):
                params = {"grid_code": rnd.choice(grids), "category": rnd.choice(["people", "places", "things"])}
                begun = time.perf_counter()
                response = client.get("/v1/elements", params={**params, "limit": 100})
                latencies.append(time.perf_counter() - begun)
                response.raise_for_status()
    finally:
        dispatch.stop()
    return [
        Row(
            f"Element registry: bulk import of {rows:,} records (CLI, COPY on PostgreSQL)",
            f"{rows / wall:,.0f} records/s ({wall:.0f} s wall incl. start-up; CLI says: {out.strip()})",
            target="9.2 M in ≤ 10 min (≥ 15,300/s)",
        ),
        Row(
            "Element registry: query by grid and category (100 per page, REST)",
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms, p99 {percentile(latencies, 99) * 1000:.1f} ms "
            f"over {queries:,} sequential queries",
        ),
    ]


# --- End-to-end pipeline --------------------------------------------------------------------


async def read_events(topics: list[str], since: datetime) -> dict[str, dict[str, datetime]]:
    """case id -> {received, dispatched, task} times, from the events themselves (one clock)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False, group_id=None)
    await consumer.start()
    times: dict[str, dict[str, datetime]] = {}
    try:
        tps = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or range(6))]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                for record in records:
                    try:
                        _, event = decode(list(record.headers or ()), record.value)
                    except DecodeError:
                        continue
                    entry = times.setdefault(str(getattr(event, "case_id", "")), {})
                    if isinstance(event, CaseReceived) and event.received_at >= since:
                        entry["received"] = event.received_at
                    elif isinstance(event, CaseDispatched):
                        entry["dispatched"] = event.dispatched_at
                    elif isinstance(event, TaskAssigned):
                        entry.setdefault("task", event.assigned_at)
    finally:
        await consumer.stop()
    return {k: v for k, v in times.items() if "received" in v}


# What an earlier stage left in these would be a backlog for the next stage's consumers.
CASE_TOPICS = ["intake.cases.v1", "dispatch.cases.v1", "dispatch.tasks.v1"]


def pipeline(seconds: int, connections: int, kafka_row: Row, profile: bool = False) -> list[Row]:
    harness.empty_topics(CASE_TOPICS)
    procs = [
        service("intake", "intake", database="intake", extra=NO_DUPLICATES).start(),
        service("dispatch", "dispatch", database="dispatch").start(),
    ]
    rows: list[Row] = []
    try:
        idle = {p.name: p.rss_mb() for p in procs}
        peak = dict(idle)
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.5):
                for p in procs:
                    peak[p.name] = max(peak[p.name], p.rss_mb())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        since = datetime.now(UTC)
        with harness.profiled(procs, "pipeline", profile) as usage:
            url = f"http://127.0.0.1:{procs[0].port}/v1/cases"
            result = wrk(url, CASE_BODY, seconds=seconds, connections=connections)
        load_end = time.monotonic()
        accepted = result.requests - result.non2xx
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # let the pipeline drain, bounded
            times = asyncio.run(read_events(["intake.cases.v1", "dispatch.cases.v1", "dispatch.tasks.v1"], since))
            if sum("dispatched" in t for t in times.values()) >= accepted:
                break
            time.sleep(2)
        drain = time.monotonic() - load_end
        stop.set()
        sampler.join()
        dispatched = [(t["dispatched"] - t["received"]).total_seconds() for t in times.values() if "dispatched" in t]
        if not dispatched:
            raise RuntimeError(f"no case was dispatched: {result} (see {harness.DATA}/*.log)")
        tasked = [(t["task"] - t["received"]).total_seconds() for t in times.values() if "task" in t]
        span = max(t["dispatched"] for t in times.values() if "dispatched" in t) - min(
            t["received"] for t in times.values()
        )
        rows.append(
            Row(
                "End to end: REST accept → CaseDispatched (intake + dispatch as processes, PostgreSQL, Kafka)",
                f"{len(dispatched) / span.total_seconds():,.0f} cases/s sustained; "
                f"p50 {percentile(dispatched, 50) * 1000:.0f} ms, p95 {percentile(dispatched, 95) * 1000:.0f} ms, "
                f"p99 {percentile(dispatched, 99) * 1000:.0f} ms",
                ceiling=kafka_row.figure.split(";")[0],
                target="≥ 1,000 cases/s, p99 ≤ 500 ms",
                note=f"{len(dispatched):,} of {accepted:,} accepted dispatched; drained {drain:.1f} s after load; "
                f"REST p99 {result.p99_ms:.0f} ms; busy under load: "
                + ", ".join(f"{name} {n:.2f} cores" for name, n in usage.cores.items()),
            )
        )
        rows.append(
            Row(
                "End to end: REST accept → first TaskAssigned",
                (
                    f"p50 {percentile(tasked, 50) * 1000:.0f} ms, p95 {percentile(tasked, 95) * 1000:.0f} ms, "
                    f"p99 {percentile(tasked, 99) * 1000:.0f} ms ({len(tasked):,} cases)"
                )
                if tasked
                else "no TaskAssigned events (dispatch publishes none yet)",
            )
        )
        rows.append(
            Row(
                "Resident memory (idle → peak under load)",
                ", ".join(f"{name} {idle[name]:.0f} → {peak[name]:.0f} MB" for name in idle),
                target="< 150 MB idle each",
            )
        )
    finally:
        for p in reversed(procs):
            p.stop()
    return rows


def dispatch_backlog(seconds: int, connections: int, profile: bool = False) -> Row:
    """Dispatch alone: intake first fills intake.cases.v1 (dispatch not running), then dispatch
    starts and drains the backlog; the rate is from the CaseDispatched events' own times."""
    harness.empty_topics(CASE_TOPICS)
    since = datetime.now(UTC)
    settings = {**NO_DUPLICATES, "INTAKE_CONSUMERS_ENABLED": "false"}
    intake = service("intake", "intake", database="intake", extra=settings).start()
    try:
        result = wrk(f"http://127.0.0.1:{intake.port}/v1/cases", CASE_BODY, seconds=seconds, connections=connections)
        accepted = result.requests - result.non2xx
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the relay publishes what was accepted
            received = asyncio.run(read_events(["intake.cases.v1"], since))
            if len(received) >= accepted:
                break
            time.sleep(1)
    finally:
        intake.stop()
    dispatch = service("dispatch", "dispatch", database="dispatch").start()
    try:
        with harness.profiled([dispatch], "dispatch", profile) as usage:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                times = asyncio.run(read_events(["intake.cases.v1", "dispatch.cases.v1"], since))
                if sum("dispatched" in t for t in times.values()) >= len(received):
                    break
                time.sleep(1)
    finally:
        dispatch.stop()
    done = [t["dispatched"] for t in times.values() if "dispatched" in t]
    span = (max(done) - min(done)).total_seconds() if len(done) > 1 else float("nan")
    return Row(
        "Dispatch alone: drain a backlog of CaseReceived (PostgreSQL, Kafka)",
        f"{len(done) / span:,.0f} cases/s",
        note=f"{len(done):,} of {len(received):,} dispatched; dispatch CPU "
        f"{usage.cpu_s['dispatch'] / max(len(done), 1) * 1000:.1f} ms per case (start-up included)",
    )


# --- Grid lookup ------------------------------------------------------------------------------


def grid_lookup(points: int) -> Row:
    started = time.perf_counter()
    city = citygen.generate("full", 1)
    collection = {"type": "FeatureCollection", "features": list(grid_features(city))}
    index = GridIndex.from_geojson(collection)
    built = time.perf_counter() - started
    (min_lon, min_lat, max_lon, max_lat) = _bounds(collection)
    rnd = random.Random(7)
    pts = [(rnd.uniform(min_lat, max_lat), rnd.uniform(min_lon, max_lon)) for _ in range(points)]
    started = time.perf_counter()
    found = index.locate_many(pts)
    batch = time.perf_counter() - started
    started = time.perf_counter()
    for lat, lon in pts[:20000]:
        index.locate(lat, lon)
    single = (time.perf_counter() - started) / 20000
    return Row(
        f"Grid lookup: point → grid among {len(index):,} polygons (STRtree)",
        f"{points / batch:,.0f} points/s batched; {1 / single:,.0f} points/s one at a time",
        target="≥ 100,000 lookups/s",
        note=f"{sum(f is not None for f in found) / points:.1%} of random points in the bounding box hit a grid; "
        f"index built in {built:.1f} s",
    )


def _bounds(collection: dict[str, object]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for feature in collection["features"]:  # type: ignore[attr-defined]
        for ring in feature["geometry"]["coordinates"]:
            xs += [c[0] for c in ring]
            ys += [c[1] for c in ring]
    return min(xs), min(ys), max(xs), max(ys)


# --- main -------------------------------------------------------------------------------------


ALL_STAGES = "kafka,bare,intake,sqlite,pipeline,dispatch,grid,elements,video,console"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke test of the benchmark itself)")
    parser.add_argument("--stages", default=ALL_STAGES)
    parser.add_argument(
        "--board-cases", type=int, help="cases behind the console's board (default 10,000, quick 1,000)"
    )
    parser.add_argument("--seconds", type=int, help="load duration per REST stage (default 20, quick 3)")
    parser.add_argument("--connections", type=int, help="wrk connections (default 32, quick 8)")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy profiles of the services under load (.data/bench/profile-*.txt)"
    )
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "RESULTS.md", help="where to write")
    args = parser.parse_args()
    stages = set(args.stages.split(","))
    seconds, connections = (3, 8) if args.quick else (20, 32)
    seconds, connections = args.seconds or seconds, args.connections or connections
    rows: list[Row] = []
    harness.DATA.mkdir(parents=True, exist_ok=True)
    harness.infra_up()
    try:
        kafka_row = (
            asyncio.run(kafka_ceiling(20_000 if args.quick else 300_000))
            if stages & {"kafka", "pipeline"}
            else Row("", "")
        )
        if "kafka" in stages:
            rows.append(kafka_row)
        ceiling = 0.0
        if stages & {"bare", "intake"}:
            bare_row, ceiling = bare_ceiling(seconds, connections)
            rows.append(bare_row)
        if "intake" in stages:
            rows += intake_rest(seconds, connections, ceiling, args.profile)
            rows.append(open311_rest(seconds, connections, ceiling))
        if "sqlite" in stages:
            rows += intake_sqlite(seconds, connections)
        if "pipeline" in stages:
            rows += pipeline(seconds, connections, kafka_row, args.profile)
        if "dispatch" in stages:
            rows.append(dispatch_backlog(seconds, connections, args.profile))
        if "grid" in stages:
            rows.append(grid_lookup(100_000 if args.quick else 1_000_000))
        if "elements" in stages:
            rows += elements(200_000 if args.quick else 9_200_000, 200 if args.quick else 2_000)
        if stages & {"video", "video-keepalive"}:
            rates = [1_000, 2_500, 5_000] if args.quick else [1_000, 2_000, 3_000, 4_000, 5_000, 6_000, 8_000, 10_000]
            only = "video" not in stages
            rows += video.video(2 if args.quick else 5, 50 if args.quick else 300, rates, keepalive_only=only)
        if "console" in stages:
            cases = args.board_cases or (1_000 if args.quick else 10_000)
            rows += console_bench.console_stage(cases, 50 if args.quick else 200, 2 if args.quick else 3)
    finally:
        harness.infra_down()
    text = harness.table(rows)
    print(text)
    results: Path = args.results
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    if stages != set(ALL_STAGES.split(",")) and results.exists() and not args.quick:
        results.write_text(harness.merge_rows(results.read_text(), rows, stamp))
    else:
        results.write_text(
            f"# Benchmark results\n\nRun {stamp} on {harness.machine()}; everything on one box, "
            f"loopback only.{' Quick mode (short runs).' if args.quick else ''}\n\n{text}"
        )
    print(json.dumps({"written": str(results)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
