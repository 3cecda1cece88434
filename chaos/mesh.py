"""The mesh under test: its own Kafka and PostgreSQL (chaos ports and data dir, started
with the repo's infra scripts) and the services as processes that can be killed,
paused and restarted. Loopback only."""

from __future__ import annotations

import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import ALL_SCOPES

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CHAOS_DATA", str(ROOT / ".data" / "chaos")))
KAFKA_PORT = int(os.environ.get("CHAOS_KAFKA_PORT", "29792"))
PG_PORT = int(os.environ.get("CHAOS_PG_PORT", "26132"))
KAFKA = f"127.0.0.1:{KAFKA_PORT}"
POSTGRES = f"postgresql://mesh:mesh@127.0.0.1:{PG_PORT}"
INFRA_ENV = {
    **os.environ,
    "KAFKA_PORT": str(KAFKA_PORT),
    "KAFKA_DATA_DIR": str(DATA / "kafka"),
    "PG_PORT": str(PG_PORT),
    "PG_DATA_DIR": str(DATA / "postgres"),
}
KEYRING = DATA / "auth" / "keyring.json"


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sh(*args: str, timeout: float = 180) -> str:
    result = subprocess.run(args, env=INFRA_ENV, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


# --- infrastructure ------------------------------------------------------------------------


def kafka(command: str) -> str:
    return sh("infra/kafka/kafka.sh", command)


def postgres(command: str) -> str:
    return sh("infra/postgres/postgres.sh", command)


def kafka_pid() -> int | None:
    pid_file = DATA / "kafka" / "kafka.pid"
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie still answers kill(0)
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def kill_kafka_hard() -> int:
    """kill -9 the broker's JVM (the pid kafka.sh wrote); returns the pid."""
    pid = kafka_pid()
    if pid is None or not pid_alive(pid):
        raise RuntimeError("no running broker to kill")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid


def infra_up(*, single_broker: bool = True) -> None:
    """PostgreSQL, and the one broker with the mesh's topics unless only cluster scenarios run."""
    infra_down()
    shutil.rmtree(DATA, ignore_errors=True)
    DATA.mkdir(parents=True)
    if single_broker:
        log(kafka("start"))
    log(postgres("start"))
    if single_broker:
        sh(str(ROOT / ".venv/bin/govmesh-topics"), "--bootstrap-servers", KAFKA, "--wait", "60")


def infra_down() -> None:
    """Stop the broker and PostgreSQL of the chaos data dir (only those: by their pid files)."""
    for stop in (kafka, postgres):
        try:
            stop("stop")
        except Exception as exc:  # keep stopping the rest
            log(f"stop failed: {exc}")


def auth_headers() -> dict[str, str]:
    """The load's client credential: every scope, everywhere.

    The keyring lives in the chaos data dir and is handed to the services as GOVMESH_KEYRING."""
    ring = Keyring.load(KEYRING, development=True)
    return {"Authorization": f"Bearer {ring.issue_token('chaos-load', sorted(ALL_SCOPES), [], ttl_s=4 * 3600)}"}


# --- services ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Service:
    """One service process. Restarts keep its port and environment; its log is appended to."""

    name: str  # instance name, e.g. dispatch-b
    package: str  # python -m <package>
    extra: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return DATA / "logs" / f"{self.name}.log"

    def env(self) -> dict[str, str]:
        prefix = self.package.upper() + "_"
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "GOVMESH_DATA_DIR": str(DATA),
            "GOVMESH_KEYRING": str(KEYRING),
            # One client (the load and the ledger's read-back) is all the traffic here.
            "GOVMESH_RATE_LIMIT_PER_S": "0",
            "LOG_LEVEL": os.environ.get("CHAOS_LOG_LEVEL", "INFO"),
            prefix + "PORT": str(self.port),
            prefix + "DATABASE_URL": f"{POSTGRES}/{self.package}",
            **self.extra,
        }

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            out.write(f"---- chaos: start #{self.starts + 1} at {time.strftime('%H:%M:%S')} ----\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.package], env=self.env(), stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout: float = 300, path: str = "/readyz") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            if http_ok(self.url + path):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready ({path}) within {timeout} s; see {self.log_path}")

    def kill(self) -> int:
        """SIGKILL, no chance to flush or commit anything."""
        assert self.proc is not None
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        return pid

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGCONT)  # a paused process cannot handle SIGTERM
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


# what the services' JSON logs say about a scenario: substring -> label
LOG_SIGNS = {
    '"outcome": "duplicate"': "inbox duplicates dropped",
    '"event": "handler_failed"': "handler failures (retried)",
    '"event": "handler_infrastructure_error"': "handler infrastructure errors (retried)",
    '"event": "dead_lettered"': "dead-lettered",
    '"event": "outbox_publish_failed"': "outbox publish failures (retried)",
    '"event": "outbox_row_parked"': "outbox rows parked",
    '"event": "dlq_value_dropped"': "dead letters without their value (too large for the DLQ)",
}


def log_marks() -> dict[Path, int]:
    """Where each service log ends now."""
    return {p: p.stat().st_size for p in (DATA / "logs").glob("*.log")}


# signs whose lines are quoted in RESULTS.md
QUOTED = ("dead-lettered", "handler failures (retried)")


def log_scan(marks: dict[Path, int], samples: list[str] | None = None) -> dict[str, int]:
    """Counts of LOG_SIGNS (and lines) in what the service logs got since marks; the first
    lines of the QUOTED signs go to samples."""
    counts: dict[str, int] = {}
    for path in sorted((DATA / "logs").glob("*.log")):
        with path.open("rb") as f:
            f.seek(marks.get(path, 0))
            for raw in f:
                line = raw.decode(errors="replace")
                counts["log lines"] = counts.get("log lines", 0) + 1
                for sign, label in LOG_SIGNS.items():
                    if sign in line:
                        counts[label] = counts.get(label, 0) + 1
                        if samples is not None and label in QUOTED and counts[label] <= 6:
                            samples.append(f"{path.name}: {line.strip()[:700]}")
    return counts


def machine() -> str:
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
