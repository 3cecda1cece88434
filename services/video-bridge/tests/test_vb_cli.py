"""The import CLI, as an operator runs it: grids.geojson and channels.json (the city
generator's formats) into the service's database; a bad file is an error, not a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from test_vb_sip import GRIDS


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVMESH_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}
    return subprocess.run(
        [sys.executable, "-m", "video_bridge.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_import_grids_then_channels_puts_channels_on_their_grids(tmp_path: Path) -> None:
    grids = tmp_path / "grids.geojson"
    grids.write_text(json.dumps(GRIDS))
    channels = tmp_path / "channels.json"
    channels.write_text(
        json.dumps(
            [
                {"channel_id": "62070200011310000001", "device_id": "62070200011180000001", "name": "南门01",
                 "lat": 38.93, "lon": 100.45, "civil_code": "620702001001", "manufacturer": "Dahua", "model": "X"},
                {"channel_id": "62070200011320000002", "device_id": "62070200011180000001", "name": "北门02",
                 "lat": 39.5, "lon": 101.0, "civil_code": "620702001001", "manufacturer": "Dahua", "model": "Y"},
            ]
        ),
        encoding="utf-8",
    )  # fmt: skip
    first = run(tmp_path, "import-grids", str(grids))
    assert first.returncode == 0, first.stderr
    assert "imported 1 grids" in first.stdout
    # progress lines on stderr: each stage's count and rate
    assert "video-bridge grids: 1 rows in " in first.stderr and " rows/s)" in first.stderr
    second = run(tmp_path, "import-channels", str(channels))
    assert second.returncode == 0, second.stderr
    assert "2 created, 0 updated, 1 devices created, 1 on a grid" in second.stdout
    assert "video-bridge channels read: 2 rows in " in second.stderr
    assert "video-bridge channels: 2 rows in " in second.stderr
    again = run(tmp_path, "import-channels", str(channels))
    assert "0 created, 2 updated, 0 devices created, 1 on a grid" in again.stdout


def test_a_bad_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "channels.json"
    bad.write_text('[{"channel_id": "123", "device_id": "62070200011180000001"}]')
    result = run(tmp_path, "import-channels", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("error:") and "channel_id" in result.stderr
    missing = run(tmp_path, "import-grids", str(tmp_path / "nope.geojson"))
    assert missing.returncode == 1 and "No such file" in missing.stderr


def test_grids_that_overlap_or_leave_the_outline_are_refused_with_their_codes(tmp_path: Path) -> None:
    square = [[100.44, 38.92], [100.46, 38.92], [100.46, 38.94], [100.44, 38.94], [100.44, 38.92]]
    grids = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"grid_code": code},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
            for code, ring in (
                ("620702001001001", square),
                ("620702001001002", [[lon + 0.01, lat] for lon, lat in square]),  # half over the first
            )
        ],
    }
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(grids))
    overlapping = run(tmp_path, "import-grids", str(path))
    assert overlapping.returncode == 1
    assert "620702001001001 and 620702001001002 (50%)" in overlapping.stderr

    # Apart, but the second leaves the city generator's outline (written next to the grids): refused too.
    grids["features"][1]["geometry"]["coordinates"] = [[[lon + 0.02, lat] for lon, lat in square]]
    path.write_text(json.dumps(grids))
    (tmp_path / "outline.geojson").write_text(json.dumps(grids["features"][0]))
    outside = run(tmp_path, "import-grids", str(path))
    assert outside.returncode == 1
    assert "outside the city's outline" in outside.stderr and "620702001001002 (100%)" in outside.stderr
    (tmp_path / "outline.geojson").unlink()
    assert run(tmp_path, "import-grids", str(path)).returncode == 0
