"""Plumbing of the benchmarks: the broker and PostgreSQL on bench ports, services as
processes, wrk runs, resident memory, and the results table."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from govmesh_runtime.roles import ALL_SCOPES, Role, scopes_for

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data" / "bench"
KAFKA_PORT = int(os.environ.get("BENCH_KAFKA_PORT", "39092"))
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "35432"))
KAFKA = f"127.0.0.1:{KAFKA_PORT}"
POSTGRES = f"postgresql://mesh:mesh@127.0.0.1:{PG_PORT}"
INFRA_ENV = {
    **os.environ,
    "KAFKA_PORT": str(KAFKA_PORT),
    "KAFKA_DATA_DIR": str(DATA / "kafka"),
    "PG_PORT": str(PG_PORT),
    "PG_DATA_DIR": str(DATA / "postgres"),
}


def sh(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    result = subprocess.run(args, env=env or INFRA_ENV, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


KEYRING = DATA / "auth" / "keyring.json"
# Every scope but personal-data: the benchmarks measure the masked answers (unmasked
# reads also write an audit row each).
BENCH_SCOPES = sorted(scope for scope in ALL_SCOPES if scope != "personal-data")
_token: str | None = None


def bench_token() -> str:
    """A Bearer token from the keyring the bench services read (created on first use, after infra_up)."""
    global _token
    if _token is None:
        from govmesh_runtime.auth import Keyring

        KEYRING.parent.mkdir(parents=True, exist_ok=True)
        _token = Keyring.load(KEYRING, development=True).issue_token("bench", BENCH_SCOPES, [], ttl_s=86400)
    return _token


def open311_api_key() -> str:
    """An Open311 client's API key, issued into the keyring the bench services read."""
    from govmesh_runtime.auth import Keyring

    ring = Keyring.load(KEYRING, development=True)
    _, key = ring.issue_api_key("bench-open311", sorted(scopes_for([Role.OPEN311_CLIENT])), [])
    ring.save()
    return key


def auth_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {bench_token()}"}


def infra_up() -> None:
    global _token
    _token = None  # the keyring is deleted with the data folder
    sh("infra/kafka/kafka.sh", "stop")
    sh("infra/postgres/postgres.sh", "stop")
    shutil.rmtree(DATA, ignore_errors=True)
    sh("infra/kafka/kafka.sh", "start")
    sh("infra/postgres/postgres.sh", "start")
    sh(str(ROOT / ".venv/bin/govmesh-topics"), "--bootstrap-servers", KAFKA, "--wait", "60")


def infra_down() -> None:
    sh("infra/kafka/kafka.sh", "stop")
    sh("infra/postgres/postgres.sh", "stop")


def empty_topics(topics: list[str]) -> None:
    """Drop every record of these topics (delete-records up to the end), so a stage's consumers
    start with no backlog left by an earlier stage: the earlier REST stages publish thousands
    of cases that a later pipeline stage's dispatch would otherwise work through first."""

    async def run() -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition
        from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

        consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await consumer.start()
        await admin.start()
        try:
            described = await admin.describe_topics(topics)  # a bare consumer has no metadata for them
            partitions = [TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]]
            if len(partitions) == 0:
                raise RuntimeError(f"no partitions found for {topics}")
            ends = await consumer.end_offsets(partitions)
            await admin.delete_records({tp: RecordsToDelete(end) for tp, end in ends.items() if end > 0})
            left = await consumer.beginning_offsets(partitions)
            if any(left[tp] < end for tp, end in ends.items()):
                raise RuntimeError(f"records of {topics} were not deleted: {left} < {ends}")
        finally:
            await admin.close()
            await consumer.stop()

    asyncio.run(run())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A process under measurement (a service or the bare app)."""

    name: str
    args: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self, ready_path: str = "/readyz", timeout: float = 90) -> Proc:
        log = (DATA / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {DATA / (self.name + '.log')}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{ready_path}", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready in {timeout} s")

    def rss_mb(self) -> float:
        assert self.proc is not None
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]

    def cpu_s(self) -> float:
        """User + system CPU seconds the process has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Usage:
    """CPU used by each process while a benchmark ran: seconds, and cores busy on average."""

    cpu_s: dict[str, float] = field(default_factory=dict)
    cores: dict[str, float] = field(default_factory=dict)


@contextmanager
def profiled(procs: list[Proc], label: str, enabled: bool) -> Iterator[Usage]:
    """While the body runs: each process's CPU use (filled in on exit) and, when
    enabled, a py-spy sampling profile per process in DATA/profile-<label>-<name>.txt (collapsed
    stacks: `bench/profile_summary.py` sums them up; flamegraph.pl or speedscope draw them)."""
    spies: list[subprocess.Popen[bytes]] = []
    if enabled:
        py_spy = str(Path(sys.executable).parent / "py-spy")
        for p in procs:
            assert p.proc is not None
            out = DATA / f"profile-{label}-{p.name}.txt"
            cmd = [py_spy, "record", "--nonblocking", "-r", "97", "-f", "raw", "-o", str(out), "-p", str(p.proc.pid)]
            spies.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    usage = Usage()
    before = {p.name: p.cpu_s() for p in procs}
    started = time.monotonic()
    try:
        yield usage
    finally:
        wall = time.monotonic() - started
        for p in procs:
            usage.cpu_s[p.name] = p.cpu_s() - before[p.name]
            usage.cores[p.name] = usage.cpu_s[p.name] / wall
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for spy in spies:
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()


def service(name: str, package: str, *, database: str | None = None, extra: dict[str, str] | None = None) -> Proc:
    prefix = package.upper() + "_"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "GOVMESH_DATA_DIR": str(DATA),
        "LOG_LEVEL": "WARNING",
        "GOVMESH_KEYRING": str(KEYRING),
        "GOVMESH_RATE_LIMIT_PER_S": "0",  # per-client rate limit off: the bench is one client
        **(extra or {}),
    }
    bench_token()  # the keyring exists before the service reads it
    proc = Proc(name, [sys.executable, "-m", package], env)
    env[prefix + "PORT"] = str(proc.port)
    if database:
        env[prefix + "DATABASE_URL"] = f"{POSTGRES}/{database}"
    return proc


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def wrk(
    url: str,
    body_template: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
    bbox: tuple[float, float, float, float] = (38.90, 38.97, 100.40, 100.50),
    content_type: str = "application/json",
    authorization: str | None = None,
) -> WrkResult:
    """``authorization``: the header to send; default the bench's Bearer token, "" for none."""
    env = {
        **os.environ,
        "BODY_TEMPLATE": body_template,
        "LAT0": str(bbox[0]),
        "LAT1": str(bbox[1]),
        "LON0": str(bbox[2]),
        "LON1": str(bbox[3]),
        "CONTENT_TYPE": content_type,
        "AUTHORIZATION": f"Bearer {bench_token()}" if authorization is None else authorization,
    }
    out = sh(
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(ROOT / "bench/wrk/post_json.lua"),
        url,
        env=env,
        timeout=seconds + 60,
    )
    data = json.loads(out.split("WRK_JSON ", 1)[1])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        non2xx=data["non2xx"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine() -> str:
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, Python {platform.python_version()}, {platform.system()} {platform.release()}"  # noqa: E501


@dataclass
class Row:
    stage: str
    figure: str
    ceiling: str = ""
    target: str = ""
    note: str = ""


def merge_rows(previous: str, rows: list[Row], stamp: str) -> str:
    """A run of some stages only: its rows replace the same stages' rows of the previous results
    (new stages are appended) and the header says which rows are newer, so a partial run never
    wipes the figures of the stages it did not run."""
    lines = previous.rstrip("\n").split("\n")
    fresh = {r.stage: f"| {r.stage} | {r.figure} | {r.ceiling} | {r.target} | {r.note} |" for r in rows}
    merged: list[str] = []
    for line in lines:
        stage = line.split(" | ", 1)[0].removeprefix("| ") if line.startswith("| ") else None
        merged.append(fresh.pop(stage) if stage in fresh else line)
    merged += fresh.values()
    for i, line in enumerate(merged):
        if line.startswith("Run "):
            names = "; ".join(r.stage.split(":")[0] for r in rows)
            merged[i] = f"{line} Re-measured {stamp} (a run of some stages only): {names}."
            break
    return "\n".join(merged) + "\n"


def table(rows: list[Row]) -> str:
    header = "| stage | measured | ceiling (same run) | target (2 cores) | note |\n| --- | --- | --- | --- | --- |\n"
    return header + "".join(f"| {r.stage} | {r.figure} | {r.ceiling} | {r.target} | {r.note} |\n" for r in rows)
