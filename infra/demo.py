"""``make demo``: a day of the generated city's cases through the one door, at a multiple of real time.

Each case is a ``POST /v1/cases`` to intake with the token of whoever reports it in life:
a window clerk of the governance centre of the place (bound to the centre's division), the
city hotline (a government system), the grid worker of the grid on their terminal (bound to
their grid, subject = worker id) or another government system over the API. Matters,
places and channels are drawn from the generated city (``.data/city-<scale>``) with a
realistic mix; the times follow a working day (quiet nights, busy mornings and afternoons).

Bounded: it plays ``--hours`` simulated hours (24) at ``--speed`` (60: a day in 24 minutes)
and stops; ``--cases`` sets the day's volume (default from the city's size). Traffic goes to
127.0.0.1 only. Tokens come from the development keyring (``make run`` without OIDC).

    python infra/demo.py [--speed 60] [--hours 24] [--cases N] [--city DIR] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from govmesh_runtime.auth import Keyring
from govmesh_runtime.roles import Role, scopes_for

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("GOVMESH_DATA_DIR", ROOT / ".data"))

# The day's mix of matters (weights): grid workers' reports and convenience services lead,
# disputes are a third, hazards and public order the rest (the seed's one-door matters).
MATTERS: dict[str, float] = {
    "grid.report": 18,
    "convenience.service": 14,
    "dispute.neighbour": 11,
    "safety.hazard": 9,
    "dispute.property": 6,
    "dispute.family": 5,
    "civil_affairs.relief": 5,
    "labour.social_security": 4,
    "dispute.labour": 4,
    "legal.consultation": 4,
    "dispute.land": 3,
    "dispute.consumer": 3,
    "public_order": 3,
    "counselling.psychological": 2,
    "legal.aid": 2,
    "security.incident": 2,
    "community_correction": 1,
}
# Who brings a matter to the one door (weights): the grid worker's terminal, the centre's
# window, the hotline, other government systems (video alarms come from cameras, not here).
CHANNELS: dict[str, float] = {"terminal": 40, "window": 25, "hotline": 28, "api": 7}
TERMINAL_ONLY = {"grid.report"}  # what only a grid worker reports
# Share of the day's cases in each hour (00-23): quiet at night, peaks at 10:00 and 15:00.
HOURLY: tuple[float, ...] = (
    0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.0, 6.0, 8.5, 9.0, 8.0,
    5.5, 5.0, 7.5, 8.5, 8.0, 6.5, 4.0, 3.0, 2.5, 1.8, 1.2, 0.8,
)  # fmt: skip
# ruff: noqa: E501 - the descriptions below are one line per matter, in Chinese
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "grid.report": ("巡查发现楼道堆放杂物，存在消防隐患。", "走访中居民反映路灯损坏，夜间出行不便。", "网格巡查：小区门口井盖松动。"),
    "convenience.service": ("老人申请代办养老资格认证。", "居民咨询办理居住证需要的材料。", "申请上门办理残疾人证年审。"),
    "dispute.neighbour": ("楼上漏水，与邻居协商不成。", "邻居装修噪音扰民，多次沟通无果。", "楼道公共区域被邻居占用，发生争执。"),
    "safety.hazard": ("楼道有燃气味，请尽快处理。", "小区电动车在楼道充电，存在火灾隐患。", "路边广告牌松动，大风天可能坠落。"),
    "dispute.property": ("物业费争议，业主与物业公司协商不成。", "房东拒不退还押金。", "小区停车位分配引发争议。"),
    "dispute.family": ("家庭赡养老人问题产生矛盾。", "夫妻因家务琐事长期争吵，请求调解。", "兄弟之间因老宅分割发生纠纷。"),
    "civil_affairs.relief": ("家庭成员突发重病，生活困难，申请临时救助。", "独居老人申请低保。", "因灾导致房屋受损，申请救助。"),
    "labour.social_security": ("咨询灵活就业人员养老保险缴费。", "失业人员申请失业保险金。", "医保异地备案咨询。"),
    "dispute.labour": ("工地拖欠农民工工资三个月。", "公司辞退员工未支付经济补偿。", "劳务派遣工伤认定争议。"),
    "legal.consultation": ("咨询遗产继承的法律规定。", "咨询租赁合同纠纷如何维权。", "咨询离婚财产分割。"),
    "dispute.land": ("承包地边界发生争议。", "宅基地使用权纠纷。", "土地流转租金未按期支付。"),
    "dispute.consumer": ("网购商品质量问题商家拒绝退货。", "预付卡商家关门无法退款。", "装修公司延期交付。"),
    "public_order": ("深夜烧烤店噪音扰民，多人聚集。", "广场舞音响过大引发冲突。", "小区内有人聚众赌博。"),
    "counselling.psychological": ("青少年厌学情绪严重，家长求助。", "独居老人情绪低落，需要心理疏导。", "失业人员焦虑失眠。"),
    "legal.aid": ("农民工讨薪申请法律援助。", "残疾人申请法律援助。", "老年人赡养纠纷申请法律援助。"),
    "security.incident": ("小区发生盗窃，电动车被盗。", "街头有人打架，有人受伤。", "有人冒充工作人员上门推销。"),
    "community_correction": ("社区矫正对象外出请假报备。", "社区矫正对象未按时报到。", "社区矫正对象变更居住地报告。"),
}  # fmt: skip
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "建国", "玉兰")


@dataclass(frozen=True)
class Grid:
    code: str
    ring: tuple[tuple[float, float], ...]


@dataclass
class City:
    grids: list[Grid]
    centres: dict[str, str]  # admin code -> centre code
    workers: dict[str, list[str]]  # grid code -> worker ids (on duty first)

    def centre_for(self, grid_code: str) -> tuple[str, str]:
        """The centre whose window serves the grid: its community's, else its township's, …"""
        for length in (12, 9, 6):
            if grid_code[:length] in self.centres:
                return self.centres[grid_code[:length]], grid_code[:length]
        return self.centres.get("620700", "ZZ620700"), "620700"


def load_city(directory: Path) -> City:
    features = json.loads((directory / "grids.geojson").read_text(encoding="utf-8"))["features"]
    grids = [
        Grid(f["properties"]["grid_code"], tuple((p[0], p[1]) for p in f["geometry"]["coordinates"][0]))
        for f in features
    ]
    centres = {c["admin_code"]: c["centre_code"] for c in json.loads((directory / "centres.json").read_text())}
    workers: dict[str, list[str]] = {}
    for w in sorted(json.loads((directory / "workers.json").read_text()), key=lambda w: not w["on_duty"]):
        workers.setdefault(w["grid_code"], []).append(w["worker_id"])
    return City(grids, centres, workers)


@dataclass
class Report:
    at_s: float  # seconds into the simulated day
    channel: str
    matter: str
    grid: str
    body: dict[str, Any] = field(default_factory=dict)


def _attribute_value(rng: random.Random, attribute: dict[str, Any], now: datetime) -> Any:
    kind = attribute["datatype"]
    if kind == "number":
        return rng.randint(2, 6)
    if kind == "datetime":
        return (now - timedelta(days=rng.randint(0, 20))).replace(microsecond=0).isoformat()
    if kind == "singlevaluelist":
        return rng.choice(attribute["values"])["key"]
    if kind == "multivaluelist":
        return [rng.choice(attribute["values"])["key"]]
    return "居民口述，详见描述"  # string, text


def plan_day(
    city: City, matters: dict[str, dict[str, Any]], cases: int, hours: float, seed: int, now: datetime
) -> list[Report]:
    """The day's reports in time order: deterministic for a seed."""
    rng = random.Random(f"demo:{seed}")
    codes = [m for m in MATTERS if m in matters]
    weights = [MATTERS[m] for m in codes]
    channels, channel_weights = list(CHANNELS), list(CHANNELS.values())
    hour_weights = [HOURLY[h % 24] for h in range(int(hours + 0.999))]
    reports = []
    for _ in range(cases):
        hour = rng.choices(range(len(hour_weights)), weights=hour_weights)[0]
        at_s = min((hour + rng.random()) * 3600, hours * 3600)
        matter = rng.choices(codes, weights=weights)[0]
        channel = "terminal" if matter in TERMINAL_ONLY else rng.choices(channels, weights=channel_weights)[0]
        grid = rng.choice(city.grids)
        (west, south), (east, north) = grid.ring[0], grid.ring[2]
        # well inside the grid: its middle 80 %
        lon = round(west + (east - west) * (0.1 + 0.8 * rng.random()), 6)
        lat = round(south + (north - south) * (0.1 + 0.8 * rng.random()), 6)
        definition = matters[matter]
        body: dict[str, Any] = {
            "matter_code": matter,
            "description": rng.choice(DESCRIPTIONS.get(matter, ("居民反映情况，请核实处理。",))),
            "lat": lat,
            "lon": lon,
            "grid_code": grid.code,
            "channel": channel,
            "attributes": {
                a["code"]: _attribute_value(rng, a, now)
                for a in definition["attributes"]
                if a["required"] or rng.random() < 0.3
            },
        }
        if not definition["anonymous_allowed"] or rng.random() < 0.6:
            body["reporter"] = {
                "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            }
        reports.append(Report(at_s, channel, matter, grid.code, body))
    reports.sort(key=lambda r: r.at_s)
    return reports


class Tokens:
    """The token of whoever reports each case, minted from the development keyring (cached)."""

    def __init__(self, keyring: Keyring, city: City, ttl_s: int) -> None:
        self.keyring, self.city, self.ttl_s = keyring, city, ttl_s
        self._cache: dict[tuple[str, str], str] = {}

    def _token(self, subject: str, role: Role, places: list[str]) -> str:
        key = (subject, ",".join(places))
        if key not in self._cache:
            self._cache[key] = self.keyring.issue_token(
                subject, sorted(scopes_for([role.value])), places, ttl_s=self.ttl_s
            )
        return self._cache[key]

    def for_report(self, report: Report) -> str:
        if report.channel == "terminal":
            worker = (self.city.workers.get(report.grid) or [f"W{report.grid}01"])[0]
            return self._token(worker, Role.GRID_WORKER, [report.grid])
        if report.channel == "window":
            centre, division = self.city.centre_for(report.grid)
            return self._token(f"{centre}-window", Role.WINDOW_CLERK, [division])
        if report.channel == "hotline":
            return self._token("city-hotline-12345", Role.GOVERNMENT_SYSTEM, [])
        return self._token("city-government-platform", Role.GOVERNMENT_SYSTEM, [])


def loopback_only(url: str) -> str:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"demo: traffic goes to 127.0.0.1 only, not to {host!r} ({url})")
    return url.rstrip("/")


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="make demo", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--speed", type=float, default=float(env("DEMO_SPEED", "60")), help="times real time (DEMO_SPEED, 60)"
    )
    parser.add_argument(
        "--hours", type=float, default=float(env("DEMO_HOURS", "24")), help="simulated hours (DEMO_HOURS, 24)"
    )
    parser.add_argument(
        "--cases", type=int, default=int(env("DEMO_CASES", "0")) or None, help="cases in the day (DEMO_CASES)"
    )
    parser.add_argument(
        "--city", type=Path, default=Path(env("DEMO_CITY", str(DATA / f"city-{env('CITY_SCALE', 'small')}")))
    )
    parser.add_argument("--intake", default=env("DEMO_INTAKE_URL", f"http://127.0.0.1:{env('INTAKE_PORT', '8001')}"))
    parser.add_argument("--seed", type=int, default=int(env("DEMO_SEED", "1")))
    parser.add_argument("--keyring", type=Path, default=Path(env("GOVMESH_KEYRING") or DATA / "auth" / "keyring.json"))
    args = parser.parse_args(argv)  # fmt: skip
    if args.speed < 1 or args.hours <= 0 or args.hours > 24 * 7:
        parser.error("--speed must be ≥ 1 and --hours in (0, 168]")
    intake = loopback_only(args.intake)
    if not (args.city / "grids.geojson").exists():
        parser.error(f"no city in {args.city}: `make run` generates it")
    if not args.keyring.exists():
        parser.error(f"no development keyring at {args.keyring}: `make run` (without OIDC) creates it")
    city = load_city(args.city)
    cases = args.cases if args.cases is not None else max(200, round(len(city.grids) * 0.4))
    wall_s = args.hours * 3600 / args.speed
    tokens = Tokens(Keyring.load(args.keyring, development=False), city, ttl_s=int(wall_s) + 3600)
    started_at = datetime.now(UTC)
    with httpx.Client(timeout=15) as http:
        any_token = tokens.for_report(Report(0, "hotline", "", ""))
        answer = http.get(f"{intake}/v1/matters", headers={"Authorization": f"Bearer {any_token}"})
        if answer.status_code != 200:
            print(f"demo: intake at {intake} answered {answer.status_code}: {answer.text[:200]}", file=sys.stderr)
            return 1
        matters = {m["code"]: m for m in answer.json()}
        reports = plan_day(city, matters, cases, args.hours, args.seed, started_at)
        print(
            f"demo: {len(reports)} cases of a {args.hours:g} h day in {len(city.grids)} grids → {intake}, "
            f"at {args.speed:g}× real time: about {wall_s / 60:.1f} min (Ctrl-C stops it)",
            flush=True,
        )
        outcomes: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        clock0 = time.monotonic()
        next_hour = 1
        try:
            for report in reports:
                delay = clock0 + report.at_s / args.speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                while report.at_s >= next_hour * 3600:
                    print(
                        f"  {next_hour:02d}:00  {sum(by_channel.values())} cases so far {dict(by_channel)}", flush=True
                    )
                    next_hour += 1
                response = http.post(
                    f"{intake}/v1/cases",
                    json=report.body,
                    headers={
                        "Authorization": f"Bearer {tokens.for_report(report)}",
                        "Idempotency-Key": str(uuid.uuid4()),
                        "Accept-Language": "zh-CN",
                    },
                )
                if response.status_code in (200, 201):
                    outcomes[response.json().get("outcome", "created")] += 1
                    by_channel[report.channel] += 1
                else:
                    outcomes[f"refused {response.status_code}"] += 1
                    print(f"  refused {response.status_code}: {response.text[:300]}", file=sys.stderr, flush=True)
        except KeyboardInterrupt:
            print("demo: stopped", file=sys.stderr)
    print(
        f"demo: done in {(time.monotonic() - clock0) / 60:.1f} min: {dict(outcomes)}; by channel {dict(by_channel)}",
        flush=True,
    )
    return 0 if not [k for k in outcomes if k.startswith("refused")] else 1


if __name__ == "__main__":
    sys.exit(main())
