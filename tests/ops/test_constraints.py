"""Every install resolves the same versions: constraints.txt pins every third-party distribution
installed in the project's environment, at the version installed. A dependency added without
`make lock` fails here, naming it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OURS = re.compile(r"^(govmesh[-_].*|citygen)$")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not pinned with =="
            pins[_canonical(name)] = version.strip()
    return pins


def test_every_installed_distribution_is_pinned_at_its_installed_version() -> None:
    pins = _pins()
    names = {_canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    installed = {n: v for n, v in names.items() if not OURS.match(n) and n not in ("pip", "setuptools")}
    unpinned = sorted(name for name in installed if name not in pins)
    assert unpinned == [], f"not in constraints.txt (run `make lock`): {unpinned}"
    differ = {name: (pins[name], version) for name, version in installed.items() if pins[name] != version}
    assert differ == {}, f"constraints.txt pin vs installed: {differ}"
