"""Start, stop and inspect the mesh's service processes (used by ``make run`` / ``make stop``).

Each service runs as its own process (``python -m <package>``), detached from the
calling shell, with its log in ``.data/logs/<service>.log`` and its pid in
``.data/run/<service>.pid``. ``stop`` signals only pids recorded here.
"""

from __future__ import annotations

import argparse
import json
import os
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


def port_of(name: str) -> int:
    return int(os.environ.get(_env_prefix(name) + "PORT", SERVICES[name][1]))


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
    for name in names:
        if _pid(name):
            print(f"{name}: already running (pid {_pid(name)})")
            continue
        package, _ = SERVICES[name]
        log = open(LOGS / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
        env = dict(os.environ)
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
        (RUN / f"{name}.pid").write_text(str(proc.pid))
        print(f"{name}: started (pid {proc.pid}, log {LOGS / (name + '.log')})")
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


def _tail(name: str, lines: int = 30) -> None:
    path = LOGS / f"{name}.log"
    if path.exists():
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            print(f"  {line}", file=sys.stderr)


def stop(names: list[str], timeout: float = 20) -> int:
    for name in reversed(names):
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
    return 0


def status(names: list[str]) -> int:
    all_ready = True
    for name in names:
        pid = _pid(name)
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
