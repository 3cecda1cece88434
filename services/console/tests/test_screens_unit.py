"""The screens' pieces without services: the Excel export, the map's tiles and cameras, the
agreement deadlines, the charts, and who gets which menu entry."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.gridmap import bbox, cameras, draw_framed, tile_origin_of, tiles
from console.screens.charts import line_chart
from console.screens.mediation import deadline_tone
from console.screens.xlsx import workbook
from console.settings import ConsoleSettings

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
SQUARE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"grid_code": "620702001001001"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[100.40, 38.90], [100.41, 38.90], [100.41, 38.91], [100.40, 38.91], [100.40, 38.90]]],
            },
        }
    ],
}


def test_the_excel_export_is_a_workbook_with_the_rows_as_typed_cells() -> None:
    data = workbook("考核评价", [["网格", "受理数"], ["620702001001001", 3], ["<&>", 2.5]])
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= set(book.namelist())
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))  # noqa: S314 (our own bytes)
        assert 'name="考核评价"' in book.read("xl/workbook.xml").decode()
    cells = {c.get("r"): c for c in sheet.iter(f"{MAIN}c")}
    assert cells["A1"].findtext(f"{MAIN}is/{MAIN}t") == "网格"
    assert (cells["B2"].get("t"), cells["B2"].findtext(f"{MAIN}v")) == (None, "3")  # a number, not text
    assert cells["A3"].findtext(f"{MAIN}is/{MAIN}t") == "<&>"


def test_tiles_cover_the_map_and_the_template_names_each_one() -> None:
    _, frame = draw_framed(SQUARE, {}, {})
    found = tiles(frame, "https://t0.tianditu.gov.cn/vec_w/wmts?TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=K", 14)
    assert found and all("TILEMATRIX=14" in t.url for t in found)
    # Together the tiles cover the whole map (x and y from 0 to width and height).
    assert min(t.x for t in found) <= 0 and max(t.x + t.width for t in found) >= frame.width
    assert min(t.y for t in found) <= 0 and max(t.y + t.height for t in found) >= frame.height
    assert tiles(frame, "", 14) == []  # no tile service: vectors alone
    assert tile_origin_of("https://t0.tianditu.gov.cn/vec_w/wmts?x={x}") == "https://t0.tianditu.gov.cn"


def test_cameras_are_placed_where_their_coordinates_are() -> None:
    _, frame = draw_framed(SQUARE, {}, {})
    assert bbox(frame) == pytest.approx((100.40, 38.90, 100.41, 38.91))
    point = {"type": "Point", "coordinates": [100.405, 38.905]}
    feature = {"type": "Feature", "geometry": point, "properties": {"channel_id": "c1", "online": True}}
    (camera,) = cameras(frame, {"features": [feature]})
    assert (camera.x, camera.y) == pytest.approx((frame.width / 2, frame.height / 2))
    assert camera.online


def test_an_agreements_deadline_is_near_within_a_week_and_over_once_passed() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert deadline_tone((now + timedelta(days=20)).isoformat(), "open", now) == "calm"
    assert deadline_tone((now + timedelta(days=5)).isoformat(), "open", now) == "near"
    assert deadline_tone((now - timedelta(days=1)).isoformat(), "open", now) == "over"
    assert deadline_tone((now + timedelta(days=5)).isoformat(), "applied", now) == "calm"
    assert deadline_tone((now - timedelta(days=1)).isoformat(), "lapsed", now) == "over"


def test_a_chart_escapes_its_words_and_draws_one_line_per_series() -> None:
    chart = str(line_chart(["2026-12-01", "2026-12-02"], [("<b>", [1, 2]), ("b", [0, 3])], "t"))
    assert chart.count("<polyline") == 2 and "<b>" not in chart and "&lt;b&gt;" in chart


def _client(tmp_path: Path, **settings: object) -> TestClient:
    base = {"data_dir": tmp_path, "keyring": tmp_path / "keyring.json", "intake_url": "http://127.0.0.1:9"}
    return TestClient(create_app(ConsoleSettings(**{**base, **settings})))


@pytest.mark.parametrize(
    ("role", "place", "shown", "hidden"),
    [
        ("mediator", "", {"/mediation"}, {"/policing", "/video", "/assessment"}),
        ("police-officer", "620702001001001", {"/policing", "/video"}, {"/mediation", "/assessment"}),
        ("grid-worker", "620702001001001", set(), {"/mediation", "/policing", "/video", "/assessment"}),
        ("county-centre", "620702", {"/video", "/assessment"}, {"/mediation", "/policing"}),
    ],
)
def test_menu_entries_follow_the_roles_scopes(
    tmp_path: Path, role: str, place: str, shown: set[str], hidden: set[str]
) -> None:
    client = _client(tmp_path, dispatch_url="http://127.0.0.1:9")
    client.post("/login", data={"role": role, "place": place, "worker_id": "W001" if role == "grid-worker" else ""})
    html = client.get("/soon/x").text
    for path in shown:
        assert f'href="{path}"' in html, path
    for path in hidden:
        assert f'href="{path}"' not in html, path
    for path in hidden - {"/video"}:
        assert client.get(path).status_code == 403, path


def test_the_tile_service_is_the_one_other_origin_images_may_come_from(tmp_path: Path) -> None:
    plain = _client(tmp_path).get("/login").headers["content-security-policy"]
    assert "img-src 'self' data:;" in plain
    tiled = _client(tmp_path, map_tiles="https://t0.tianditu.gov.cn/vec_w/wmts?x={x}&y={y}&z={z}")
    assert "img-src 'self' data: https://t0.tianditu.gov.cn;" in tiled.get("/login").headers["content-security-policy"]


def test_a_period_without_ratings_is_left_out_of_the_line_not_drawn_as_zero() -> None:
    chart = str(line_chart(["2026-12-01", "2026-12-02", "2026-12-03"], [("满意度", [4.0, None, 5.0])], "t"))
    points = chart.split('points="')[1].split('"')[0].split()
    assert len(points) == 2 and chart.count("<circle") == 2
