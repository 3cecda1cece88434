"""Prometheus config and rules pass promtool; alerts fire when they should; dashboards are current."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "infra" / "prometheus"
GRAFANA = ROOT / "infra" / "grafana"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def promtool() -> str:
    result = run(str(PROM / "prometheus.sh"), "install")  # installs the Debian package when missing
    assert result.returncode == 0, result.stdout + result.stderr
    return "promtool"


def test_generated_prometheus_config_is_valid(promtool: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PROM_DATA_DIR": str(tmp_path),
        "PROM_TARGETS": "intake=127.0.0.1:8001 dispatch=127.0.0.1:8002",
    }
    result = run(str(PROM / "prometheus.sh"), "config", env=env)
    assert result.returncode == 0, result.stderr
    config = Path(result.stdout.strip())
    checked = run(promtool, "check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    targets = json.loads((tmp_path / "targets.json").read_text())
    assert targets == [
        {"targets": ["127.0.0.1:8001"], "labels": {"job": "intake"}},
        {"targets": ["127.0.0.1:8002"], "labels": {"job": "dispatch"}},
    ]


def test_rules_pass_promtool_check(promtool: str) -> None:
    result = run(promtool, "check", "rules", *map(str, sorted((PROM / "rules").glob("[ar]*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout  # alerts
    assert "SUCCESS: 9 rules found" in result.stdout  # recording rules


def test_alerts_fire_when_they_should(promtool: str) -> None:
    result = run(promtool, "test", "rules", str(PROM / "rules" / "tests.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_committed_dashboards_are_what_the_code_generates() -> None:
    result = run(sys.executable, str(GRAFANA / "dashboards.py"), "check")
    assert result.returncode == 0, result.stdout


def test_every_panel_queries_the_provisioned_prometheus() -> None:
    provisioned = (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    boards = [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]
    assert {b["uid"] for b in boards} == {"govmesh-city", "govmesh-pipeline", "govmesh-service", "govmesh-video"}
    for board in boards:
        panels = [p for p in board["panels"] if p["type"] != "row"]
        assert panels, board["uid"]
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"]), f"duplicate panel ids in {board['uid']}"
        for panel in panels:
            assert panel["datasource"]["uid"] in provisioned
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
