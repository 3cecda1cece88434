"""Start, stop and inspect the mesh's service processes (used by ``make run`` / ``make stop``).

Each service runs as its own process (``python -m <package>``), detached from the
calling shell, with its log in ``.data/logs/<service>.log`` and its pid in
``.data/run/<service>.pid``. ``stop`` signals only pids recorded here.

Cluster mode (``INSTANCES=N``, N >= 2; ``make run INSTANCES=2``): every service but the console
runs as N processes (``<service>-<i>``, on port + i x ``GOVMESH_INSTANCE_PORT_STEP``, default
100, or the ports listed in ``<SERVICE>_INSTANCE_PORTS``; video-bridge's SIP on 5060 + i)
sharing one PostgreSQL database per service (this script starts the project's PostgreSQL,
``infra/postgres/postgres.sh``, on ``PG_PORT``, default 15432, unless ``<SERVICE>_DATABASE_URL``
is set) and their consumer groups. HAProxy (Debian's; installed
with apt-get when missing) listens on each service's usual port and balances over its
instances, health-checked on ``/readyz``: an instance that is down or not ready gets no request.
The first instance of each service starts (migrates, seeds) before the others.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("GOVMESH_DATA_DIR", ROOT / ".data"))
RUN = DATA / "run"
LOGS = DATA / "logs"

# service name -> (python package, default port). Order = start order.
SERVICES: dict[str, tuple[str, int]] = {
    "intake": ("intake", 8001),
    "dispatch": ("dispatch", 8002),
    "mediation": ("mediation", 8003),
    "policing": ("policing", 8004),
    "video-bridge": ("video_bridge", 8005),
    # The governance console (web pages over the services' REST APIs): started last, printed first.
    "console": ("console", 8000),
}


def _env_prefix(name: str) -> str:
    return name.upper().replace("-", "_") + "_"


def instances() -> int:
    return max(1, int(os.environ.get("INSTANCES") or 1))


def _step() -> int:
    return int(os.environ.get("GOVMESH_INSTANCE_PORT_STEP") or 100)


def _split(unit: str) -> tuple[str, int]:
    """``intake-2`` -> ("intake", 2); ``intake`` -> ("intake", 0): the service itself (or its balancer)."""
    base, _, number = unit.rpartition("-")
    if base in SERVICES and number.isdigit():
        return base, int(number)
    return unit, 0


def port_of(unit: str) -> int:
    name, number = _split(unit)
    listed = os.environ.get(_env_prefix(name) + "INSTANCE_PORTS")  # e.g. "8101,8201" (tests: free ports)
    if number and listed:
        return int(listed.split(",")[number - 1])
    return int(os.environ.get(_env_prefix(name) + "PORT", SERVICES[name][1])) + number * _step()


def units(names: list[str]) -> list[list[str]]:
    """The processes to start, in waves: one mesh (first instances first), then the other instances."""
    if instances() == 1:
        return [names]
    clustered = [n for n in names if n != "console"]  # the console keeps sessions in memory: one
    first = [f"{n}-1" for n in clustered] + (["console"] if "console" in names else [])
    rest = [f"{n}-{i}" for i in range(2, instances() + 1) for n in clustered]
    return [first, rest]


def _pid(name: str) -> int | None:
    try:
        pid = int((RUN / f"{name}.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def _ready(name: str) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port_of(name)}/readyz", timeout=2) as resp:
            return True, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return False, exc.read().decode()
    except OSError as exc:
        return False, str(exc)


def start(names: list[str], timeout: float) -> int:
    RUN.mkdir(parents=True, exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if instances() > 1:
        _cluster_databases(names, env)
    for wave in units(names):
        code = _start_units(wave, timeout, env)
        if code:
            return code
    if instances() > 1:
        return _start_balancer([n for n in names if n != "console"], timeout)
    return 0


def _start_units(names: list[str], timeout: float, base_env: dict[str, str]) -> int:
    for unit in names:
        if _pid(unit):
            print(f"{unit}: already running (pid {_pid(unit)})")
            continue
        name, number = _split(unit)
        package, _ = SERVICES[name]
        log = open(LOGS / f"{unit}.log", "ab")  # noqa: SIM115 - handed to the child
        env = dict(base_env)
        if number:
            env[_env_prefix(name) + "PORT"] = str(port_of(unit))
            if name == "video-bridge":  # each instance its own SIP port (devices register with one)
                env["VIDEO_BRIDGE_SIP_PORT"] = str(int(base_env.get("VIDEO_BRIDGE_SIP_PORT") or 5060) + number)
        if name == "console":  # the console calls the services where this run put them
            env.setdefault("CONSOLE_INTAKE_URL", f"http://127.0.0.1:{port_of('intake')}")
            env.setdefault("CONSOLE_DISPATCH_URL", f"http://127.0.0.1:{port_of('dispatch')}")
            env.setdefault("CONSOLE_MEDIATION_URL", f"http://127.0.0.1:{port_of('mediation')}")
            env.setdefault("CONSOLE_POLICING_URL", f"http://127.0.0.1:{port_of('policing')}")
            env.setdefault("CONSOLE_VIDEO_URL", f"http://127.0.0.1:{port_of('video-bridge')}")
        proc = subprocess.Popen(
            [sys.executable, "-m", package],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives make; not killed by the terminal's ^C
            cwd=ROOT,
        )
        (RUN / f"{unit}.pid").write_text(str(proc.pid))
        print(f"{unit}: started (pid {proc.pid}, port {port_of(unit)}, log {LOGS / (unit + '.log')})")
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting and time.monotonic() < deadline:
        for name in list(waiting):
            if _pid(name) is None:
                print(f"{name}: exited during start-up; last log lines:", file=sys.stderr)
                _tail(name)
                return 1
            if _ready(name)[0]:
                waiting.remove(name)
        time.sleep(0.3)
    for name in waiting:
        print(f"{name}: not ready after {timeout:.0f} s: {_ready(name)[1]}", file=sys.stderr)
        _tail(name)
    return 1 if waiting else 0


def _cluster_databases(names: list[str], env: dict[str, str]) -> None:
    """Instances of a service share its database: PostgreSQL (SQLite is one process's)."""
    missing = [n for n in names if n != "console" and not env.get(_env_prefix(n) + "DATABASE_URL")]
    if not missing:
        return
    port = env.get("PG_PORT") or "15432"
    pg_env = {**env, "PG_PORT": port, "PG_DATA_DIR": env.get("PG_DATA_DIR") or str(DATA / "postgres")}
    script = str(ROOT / "infra/postgres/postgres.sh")
    running = subprocess.run([script, "status"], env=pg_env, capture_output=True).returncode == 0
    subprocess.run([script, "start"], env=pg_env, check=True)  # also creates the databases
    if not running:  # `stop` stops it only if this started it
        (RUN / "postgres.started").write_text(json.dumps({k: pg_env[k] for k in ("PG_PORT", "PG_DATA_DIR")}))
    for name in missing:
        database = name.replace("-", "_")
        env[_env_prefix(name) + "DATABASE_URL"] = f"postgresql://mesh:mesh@127.0.0.1:{port}/{database}"


def haproxy_config(names: list[str]) -> str:
    """One frontend per service on its usual port, round robin over its instances, each checked
    on /readyz every second (3 failures or 5 s without an answer: out; 1 success: back in)."""
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    option redispatch",  # a request whose instance died on connect goes to another
        "    retries 3",
        "    retry-on conn-failure empty-response response-timeout 503",
    ]
    for name in names:
        lines += [
            f"frontend {name}",
            f"    bind 127.0.0.1:{port_of(name)}",
            f"    default_backend {name}-instances",
            f"backend {name}-instances",
            "    balance roundrobin",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            "    timeout check 5s",
            "    default-server inter 1s fall 3 rise 1",
        ]
        for number in range(1, instances() + 1):
            unit = f"{name}-{number}"
            lines.append(f"    server {unit} 127.0.0.1:{port_of(unit)} check")
    return "\n".join(lines) + "\n"


def _haproxy() -> str:
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if Path(p).exists()), None)
    if found:
        return found
    print("haproxy: not installed; installing Debian's package (apt-get)")
    subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, stdout=subprocess.DEVNULL)
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def _start_balancer(names: list[str], timeout: float) -> int:
    if _pid("haproxy"):
        print(f"haproxy: already running (pid {_pid('haproxy')})")
        return 0
    config = DATA / "haproxy" / "haproxy.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(haproxy_config(names))
    binary = _haproxy()
    subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True)
    subprocess.run([binary, "-D", "-f", str(config), "-p", str(RUN / "haproxy.pid")], check=True)
    print(f"haproxy: started (pid {_pid('haproxy')}, config {config})")
    deadline = time.monotonic() + timeout
    waiting = list(names)
    while waiting and time.monotonic() < deadline:
        waiting = [n for n in waiting if not _ready(n)[0]]
        time.sleep(0.3)
    for name in waiting:
        print(f"{name}: not ready behind haproxy after {timeout:.0f} s: {_ready(name)[1]}", file=sys.stderr)
    return 1 if waiting else 0


def _tail(name: str, lines: int = 30) -> None:
    path = LOGS / f"{name}.log"
    if path.exists():
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            print(f"  {line}", file=sys.stderr)


def _running_units(names: list[str]) -> list[str]:
    """Whatever instances of ``names`` have a pid file (whatever INSTANCES says now)."""
    found = []
    for name in names:
        found.append(name)
        numbered = [_split(p.stem) for p in RUN.glob(f"{name}-*.pid")]
        found += [f"{name}-{n}" for base, n in sorted(numbered) if base == name and n]
    return found


def stop(names: list[str], timeout: float = 20) -> int:
    if _pid("haproxy"):
        os.kill(_pid("haproxy") or 0, signal.SIGTERM)
        (RUN / "haproxy.pid").unlink(missing_ok=True)
        print("haproxy: stopped")
    for name in reversed(_running_units(names)):
        pid = _pid(name)
        if pid is None:
            (RUN / f"{name}.pid").unlink(missing_ok=True)
            continue
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _pid(name):
            print(f"{name}: did not stop in {timeout:.0f} s, killing", file=sys.stderr)
            os.kill(pid, signal.SIGKILL)
        (RUN / f"{name}.pid").unlink(missing_ok=True)
        print(f"{name}: stopped")
    started = RUN / "postgres.started"
    if started.exists() and not any(_pid(u) for u in _running_units(list(SERVICES))):
        pg_env = {**os.environ, **json.loads(started.read_text())}
        subprocess.run([str(ROOT / "infra/postgres/postgres.sh"), "stop"], env=pg_env, check=False)
        started.unlink()
    return 0


def status(names: list[str]) -> int:
    all_ready = True
    for name in _running_units(names):
        pid = _pid(name) or (_pid("haproxy") if any(RUN.glob(f"{name}-*.pid")) else None)
        ready, detail = _ready(name) if pid else (False, "")
        all_ready &= ready
        state = "ready" if ready else ("running, not ready" if pid else "stopped")
        print(f"{name:10} {state:20} pid={pid or '-'} port={port_of(name)} {detail if pid and not ready else ''}")
    return 0 if all_ready else 1


def info(names: list[str]) -> None:
    print("\nThe mesh is up:")
    if "console" in names:
        how = "sign in with Keycloak" if os.environ.get("GOVMESH_OIDC_ISSUER") else "development: choose a role"
        print(f"  console    http://127.0.0.1:{port_of('console')}/   (治理工作台; {how})")
    for name in [n for n in names if n != "console"]:
        base = f"http://127.0.0.1:{port_of(name)}"
        print(f"  {name:10} API docs {base}/docs   metrics {base}/metrics")
    intake = f"http://127.0.0.1:{port_of('intake')}"
    example = {
        "matter_code": "dispute.neighbour",
        "description": "Water leaks from the flat above.",
        "lat": 38.9326,
        "lon": 100.4498,
        "channel": "api",
        "attributes": {"parties_count": 2},
    }
    print("\nEvery API call needs a credential: govmesh-auth token | api-key | revoke (docs/security.md).")
    auth = '-H "Authorization: Bearer <a token from govmesh-auth token>"'
    issuer = os.environ.get("GOVMESH_OIDC_ISSUER")
    if issuer:
        # The keyring's HS256 tokens are refused now: a token of the issuer (here a government
        # system's, by client credentials, from the development realm of infra/keycloak).
        print(f"Bearer tokens come from {issuer} (staff: client govmesh-console; docs/security.md).")
        print("A government system's token (development realm, 5 min):")
        print(f"  TOKEN=$(curl -s {issuer}/protocol/openid-connect/token -d grant_type=client_credentials \\")
        print("       -d client_id=city-hotline -d client_secret=city-hotline-dev-secret \\")
        print("       | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])')")
        auth = '-H "Authorization: Bearer $TOKEN"'
    elif os.environ.get("GOVMESH_ENV", "development") == "development":
        token_file = _dev_token()
        print(f"A development token (every scope, 12 h) is in {token_file}.")
        auth = f'-H "Authorization: Bearer $(cat {token_file})"'
    print("\nTry it:")
    print(f"  curl -s -X POST {intake}/v1/cases {auth} -H 'Content-Type: application/json' \\")
    print(f"       -d '{json.dumps(example, ensure_ascii=False)}'")
    print(f"  curl -s {auth} {intake}/v1/cases/<id from the answer>")
    print(f"\nLogs: {LOGS}/   Stop: make stop")


def _dev_token() -> Path:
    """A fresh all-scopes token from the development keyring, for trying the mesh by hand."""
    from govmesh_runtime.auth import Keyring
    from govmesh_runtime.roles import ALL_SCOPES

    keyring = Path(os.environ.get("GOVMESH_KEYRING") or DATA / "auth" / "keyring.json")
    token = Keyring.load(keyring, development=False).issue_token("developer", sorted(ALL_SCOPES), [], ttl_s=12 * 3600)
    path = DATA / "auth" / "dev-token"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("services", nargs="*", default=list(SERVICES))
    parser.add_argument("--timeout", type=float, default=90)
    args = parser.parse_args()
    unknown = set(args.services) - set(SERVICES)
    if unknown:
        parser.error(f"unknown service(s): {', '.join(sorted(unknown))}; known: {', '.join(SERVICES)}")
    if args.command == "start":
        code = start(args.services, args.timeout)
        if code == 0:
            info(args.services)
        return code
    if args.command == "stop":
        return stop(args.services)
    return status(args.services)


if __name__ == "__main__":
    sys.exit(main())
