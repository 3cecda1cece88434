"""The console with the full city (``--stages console``): the grid map's first render in headless
Chromium and the case board's server time with N cases.

Dispatch (the full city's 7,452 grids), video-bridge (28,000 channels), intake (N cases put
through the one door first) on the bench PostgreSQL and Kafka, and the console in front of
them, signed in as the city centre (development sign-in). Chromium is Debian's, launched by
its path as the browser tests do (no browser download)."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from pathlib import Path

import harness
import httpx
from harness import Proc, Row, percentile, service

CHROMIUM = "/usr/bin/chromium"
NO_DUPLICATES = {"INTAKE_DUPLICATE_WINDOW_S": "0"}


def _full_city() -> Path:
    city = harness.DATA / "city-full"
    if not (city / "mediation.json").exists():
        harness.sh(sys.executable, "-m", "citygen", "--out", str(city), "--scale", "full", "--elements", "0")
    return city


async def _fill(intake_url: str, city: Path, cases: int, concurrency: int = 4) -> float:
    """Put ``cases`` cases through intake's REST (random grids of the city); returns the seconds it took."""
    grids = json.loads((city / "grids.geojson").read_text())["features"]
    rng = random.Random("bench-console")
    queue = list(range(cases))
    headers = harness.auth_headers()

    async def worker(http: httpx.AsyncClient) -> None:
        while queue:
            n = queue.pop()
            ring = rng.choice(grids)["geometry"]["coordinates"][0]
            body = {
                "matter_code": "convenience.service",
                "description": f"bench board case {n}",
                "lat": (ring[0][1] + ring[2][1]) / 2,
                "lon": (ring[0][0] + ring[2][0]) / 2,
                "channel": "api",
                "attributes": {"service_item": "residence certificate"},
            }
            answer = await http.post(f"{intake_url}/v1/cases", json=body, headers=headers)
            if answer.status_code not in (200, 201):
                raise RuntimeError(f"intake refused a bench case: {answer.status_code} {answer.text[:200]}")

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return time.perf_counter() - started


def _timed_gets(http: httpx.Client, url: str, samples: int, **kwargs: object) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        answer = http.get(url, **kwargs)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:200]}")
    return times


def _map_render(console_url: str, cookie: str, runs: int) -> list[dict[str, float]]:
    """Each run: a fresh browser context opens /map; timings from the page's own Performance API."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium package")
    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"], headless=True)
        try:
            for _ in range(runs):
                context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
                context.add_cookies([{"name": "govmesh_console", "value": cookie, "url": console_url}])
                page = context.new_page()
                page.goto(console_url + "/map", wait_until="load", timeout=180_000)
                # two animation frames after load: the SVG has been painted
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                timing = page.evaluate(
                    """() => {
                    const n = performance.getEntriesByType('navigation')[0];
                    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                    return {ttfb: n.responseStart, html: n.responseEnd, dcl: n.domContentLoadedEventEnd,
                            load: n.loadEventEnd, fcp: fcp ? fcp.startTime : NaN, painted: performance.now(),
                            bytes: n.transferSize || n.encodedBodySize,
                            grids: document.querySelectorAll('svg path[data-grid]').length,
                            cameras: document.querySelectorAll('svg [data-camera], svg .camera, svg circle').length};
                    }"""
                )
                results.append(timing)
                context.close()
        finally:
            browser.close()
    return results


def console_stage(cases: int, samples: int, runs: int) -> list[Row]:
    city = _full_city()
    procs: list[Proc] = []
    try:
        dispatch = service(
            "dispatch", "dispatch", database="dispatch", extra={"DISPATCH_CITY_DATA_DIR": str(city)}
        ).start(timeout=600)
        procs.append(dispatch)
        video_env = {"VIDEO_BRIDGE_SIP_PORT": str(harness.free_port())}
        video = service("video-bridge", "video_bridge", database="video_bridge", extra=video_env)
        harness.sh(sys.executable, "-m", "video_bridge.cli", "import-grids", str(city / "grids.geojson"), env=video.env)
        harness.sh(
            sys.executable, "-m", "video_bridge.cli", "import-channels", str(city / "channels.json"), env=video.env
        )
        procs.append(video.start(timeout=300))
        intake = service("intake", "intake", database="intake", extra=NO_DUPLICATES).start()
        procs.append(intake)
        urls = {
            "CONSOLE_INTAKE_URL": f"http://127.0.0.1:{intake.port}",
            "CONSOLE_DISPATCH_URL": f"http://127.0.0.1:{dispatch.port}",
            # the camera layer of the map (once the console draws cameras; both spellings)
            "CONSOLE_VIDEO_URL": f"http://127.0.0.1:{video.port}",
            "CONSOLE_VIDEO_BRIDGE_URL": f"http://127.0.0.1:{video.port}",
        }
        console = service("console", "console", extra=urls).start(ready_path="/healthz")
        procs.append(console)
        fill_s = asyncio.run(_fill(urls["CONSOLE_INTAKE_URL"], city, cases))

        with httpx.Client(timeout=60) as http:
            signed = http.post(
                f"http://127.0.0.1:{console.port}/login",
                data={"role": "city-centre", "subject": "bench-centre"},
                follow_redirects=False,
            )
            cookie = signed.cookies.get("govmesh_console")
            if signed.status_code != 303 or not cookie:
                raise RuntimeError(f"console sign-in failed: {signed.status_code} {signed.text[:200]}")
            board_api = _timed_gets(
                http,
                f"{urls['CONSOLE_INTAKE_URL']}/v1/cases",
                samples,
                params={"limit": 20},
                headers=harness.auth_headers(),
            )
            board_page = _timed_gets(
                http, f"http://127.0.0.1:{console.port}/cases", samples, cookies={"govmesh_console": cookie}
            )
        renders = _map_render(f"http://127.0.0.1:{console.port}", cookie, runs)
    finally:
        for proc in reversed(procs):
            proc.stop()
    first = renders[0]
    later = sorted(r["fcp"] for r in renders[1:]) or [first["fcp"]]
    return [
        Row(
            f"Case board server time: intake GET /v1/cases (newest 20) with {cases:,} cases",
            f"p50 {percentile(board_api, 50):.1f} ms, p99 {percentile(board_api, 99):.1f} ms",
            note=f"{samples} requests one after another, PostgreSQL; the cases put in at {cases / fill_s:,.0f}/s",
        ),
        Row(
            f"Case board server time: console /cases page (city centre) with {cases:,} cases",
            f"p50 {percentile(board_page, 50):.1f} ms, p99 {percentile(board_page, 99):.1f} ms",
            note=f"{samples} requests one after another: the console's calls to intake and the page rendered",
        ),
        Row(
            "Console grid map, full city: first render in headless Chromium",
            f"first contentful paint {first['fcp']:,.0f} ms (page served in {first['html']:,.0f} ms, "
            f"load {first['load']:,.0f} ms); later opens: FCP median {later[len(later) // 2]:,.0f} ms",
            note=f"7,452 grids, {cases:,} cases, 28,000 channels in video-bridge; the page drew "
            f"{first['grids']:,.0f} grid paths and {first['cameras']:,.0f} camera marks, "
            f"{first['bytes'] / 1e6:.1f} MB of HTML; Debian's Chromium {runs} runs, 1440×900",
        ),
    ]
