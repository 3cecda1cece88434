"""Counts, codes, ids and the file formats of the generated city."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest

import citygen
from citygen.__main__ import main
from citygen.elements import _field
from citygen.generate import GenerationError, allocate, split


def digests(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_full_city_has_the_seeds_counts(full: citygen.City) -> None:
    assert len(full.counties) == 6
    assert {c.code for c in full.counties} == {"620702", "620721", "620722", "620723", "620724", "620725"}
    assert len(full.communities) == 746
    assert len(full.grids) == 7452
    assert len(full.workers) == 7600
    levels = Counter(c.level for c in full.centres)
    assert levels == {"city": 1, "county": 6, "township": len(full.townships), "community": 49}
    assert len(full.police_rooms) == 219
    roles = Counter(o.role for r in full.police_rooms for o in r.officers)
    assert roles == {"officer": 289, "auxiliary": 404}
    assert len(full.channels) == 28_000
    assert full.default_elements == 9_200_000


def test_small_city_is_coherent_and_small(small: citygen.City) -> None:
    assert (len(small.counties), len(small.townships), len(small.communities)) == (1, 4, 12)
    assert len(small.grids) == 60
    assert len(small.police_rooms) == 4
    assert len(small.channels) == 300
    assert Counter(c.level for c in small.centres) == {"city": 1, "county": 1, "township": 4, "community": 6}


@pytest.mark.parametrize("scale", ["small", "full"])
def test_grids_people_and_functions(scale: citygen.Scale) -> None:
    city = citygen.generate(scale, seed=1)
    assert all(300 <= g.households <= 500 for g in city.grids)
    mean_population = sum(g.population for g in city.grids) / len(city.grids)
    assert 900 <= mean_population <= 1100
    functions = Counter(g.function for g in city.grids)
    assert set(functions) <= {"residential", "commercial", "rural", "industrial", "mixed"}
    assert len(functions) >= 3
    per_grid = Counter(w.grid_code for w in city.workers)
    assert set(per_grid) == {g.grid_code for g in city.grids}  # every grid has a worker
    on_duty = Counter(w.on_duty for w in city.workers)
    assert on_duty[True] > on_duty[False] > 0


@pytest.mark.parametrize("scale", ["small", "full"])
def test_codes_and_ids_are_valid_and_unique(scale: citygen.Scale) -> None:
    city = citygen.generate(scale, seed=1)
    assert city.city.code == "620700"
    county_codes = {c.code for c in city.counties}
    town_codes = {t.code for t in city.townships}
    comm_codes = {c.code for c in city.communities}
    assert all(re.fullmatch(r"6207\d\d", c) and c[:4] == "6207" for c in county_codes)
    assert all(re.fullmatch(r"\d{9}", t.code) and t.parent_code == t.code[:6] in county_codes for t in city.townships)
    assert all(re.fullmatch(r"\d{12}", c.code) and c.parent_code == c.code[:9] in town_codes for c in city.communities)
    assert len(town_codes) == len(city.townships) and len(comm_codes) == len(city.communities)
    grid_codes = [g.grid_code for g in city.grids]
    assert len(set(grid_codes)) == len(grid_codes)
    for g in city.grids:
        assert re.fullmatch(r"\d{15}", g.grid_code)
        assert (g.community_code, g.township_code, g.county_code) == (
            g.grid_code[:12],
            g.grid_code[:9],
            g.grid_code[:6],
        )
        assert g.community_code in comm_codes
    workers = [w.worker_id for w in city.workers]
    assert len(set(workers)) == len(workers)
    assert all(re.fullmatch(r"1[3-9]\d{9}", w.phone) and w.name for w in city.workers)
    officer_ids = [o.officer_id for r in city.police_rooms for o in r.officers]
    assert len(set(officer_ids)) == len(officer_ids)
    assert all(
        any(o.role == "officer" for o in r.officers) and any(o.role == "auxiliary" for o in r.officers)
        for r in city.police_rooms
    )
    channel_ids = [c.channel_id for c in city.channels]
    assert len(set(channel_ids)) == len(channel_ids)
    devices = Counter(c.device_id for c in city.channels)
    for c in city.channels:
        assert re.fullmatch(r"\d{20}", c.channel_id) and re.fullmatch(r"\d{20}", c.device_id)
        assert c.channel_id[:8] == c.device_id[:8] == c.civil_code[:6] + "00"
        assert c.channel_id[10:13] in {"131", "132"}
        assert c.device_id[10:13] == "118"
        assert c.civil_code in comm_codes
    assert max(devices.values()) <= 32
    assert not set(devices) & set(channel_ids)
    admin_codes = county_codes | town_codes | comm_codes | {"620700"}
    assert all(c.admin_code in admin_codes and set(c.windows) == set(citygen.WINDOWS) for c in city.centres)
    assert len({c.centre_code for c in city.centres}) == len(city.centres)


def test_same_seed_gives_the_same_bytes_and_another_seed_another_city(tmp_path: Path) -> None:
    for name in ("a", "b"):
        citygen.write(citygen.generate("small", seed=5), tmp_path / name)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    citygen.write(citygen.generate("small", seed=6), tmp_path / "c")
    differing = {k for k, v in digests(tmp_path / "c").items() if digests(tmp_path / "a")[k] != v}
    assert differing == set(citygen.FILES)


def test_same_bytes_across_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run(
            [sys.executable, "-m", "citygen", "--out", str(tmp_path / hash_seed), "--scale", "small", "--seed", "9"],
            env=env,
            check=True,
            capture_output=True,
        )
    assert digests(tmp_path / "1") == digests(tmp_path / "2")
    assert sorted(digests(tmp_path / "1")) == sorted(citygen.FILES)


def test_full_city_files_are_deterministic(tmp_path: Path) -> None:
    main(["--out", str(tmp_path / "a"), "--scale", "full", "--elements", "20000"])
    main(["--out", str(tmp_path / "b"), "--scale", "full", "--elements", "20000"])
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_cli_writes_exactly_the_contract_files_in_their_formats(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--scale", "small", "--seed", "3"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(citygen.FILES)

    def load(name: str) -> object:
        return json.loads((tmp_path / name).read_text(encoding="utf-8"))

    grids = load("grids.geojson")
    assert isinstance(grids, dict) and grids["type"] == "FeatureCollection"
    feature = grids["features"][0]
    assert feature["geometry"]["type"] == "Polygon"
    assert set(feature["properties"]) == {
        "grid_code", "name", "community_code", "township_code", "county_code", "function", "households", "population",
    }  # fmt: skip
    admin = load("admin.json")
    assert isinstance(admin, dict) and set(admin) == {"city", "counties", "townships", "communities"}
    unit_keys = {"code", "name", "parent_code", "level"}
    assert set(admin["city"]) == unit_keys
    assert all(set(u) == unit_keys for key in ("counties", "townships", "communities") for u in admin[key])
    assert {u["level"] for u in admin["townships"]} == {"township"}
    centres = load("centres.json")
    assert isinstance(centres, list)
    assert all(set(c) == {"centre_code", "name", "level", "admin_code", "windows"} for c in centres)
    workers = load("workers.json")
    assert isinstance(workers, list)
    assert all(set(w) == {"worker_id", "grid_code", "name", "phone", "on_duty"} for w in workers)
    rooms = load("police_rooms.json")
    assert isinstance(rooms, list)
    assert all(set(r) == {"room_code", "name", "county_code", "grid_codes", "officers"} for r in rooms)
    assert all(set(o) == {"officer_id", "name", "role", "on_duty"} for r in rooms for o in r["officers"])
    channels = load("channels.json")
    assert isinstance(channels, list)
    keys = {"channel_id", "device_id", "name", "lat", "lon", "civil_code", "manufacturer", "model"}
    assert all(set(c) == keys for c in channels)
    with (tmp_path / "elements.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["element_id", "grid_code", "category", "name", "attributes_json"]
    assert len(rows) == 1 + 10_000
    # mediation's seed document, exactly as its SeedDocument reads it
    from mediation.entrypoints.seed import SeedDocument

    document = SeedDocument.model_validate(load("mediation.json"))
    assert (len(document.studios), len(document.mediators)) == (12, 29)


@pytest.mark.parametrize("scale", ["small", "full"])
def test_every_grid_has_a_mediation_studio_with_a_mediator_for_neighbour_disputes(scale: citygen.Scale) -> None:
    city = citygen.generate(scale, 1)
    assert len(city.studios) == len(city.centres)  # one at each centre's dispute-mediation window
    neighbour = [s.area_code for s in city.studios if any("neighbour" in m.skills for m in s.mediators)]
    for grid in city.grids:
        covering = [code for code in neighbour if grid.grid_code.startswith(code) and len(code) >= 9]
        assert covering, f"{grid.grid_code}: no township or community studio mediates neighbour disputes"
    ids = [m.mediator_id for s in city.studios for m in s.mediators]
    assert len(ids) == len(set(ids))


def test_cli_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--out", str(tmp_path), "--elements", "-1"])
    assert exc.value.code == 2
    assert "--elements" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--scale", "huge"])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="scale"):
        citygen.generate("huge", seed=1)  # type: ignore[arg-type]


def test_elements_have_six_categories_valid_attributes_and_known_grids(small: citygen.City) -> None:
    out = io.StringIO()
    assert citygen.write_elements(small, out, 5_000) == 5_000
    rows = list(csv.reader(io.StringIO(out.getvalue())))[1:]
    assert len(rows) == 5_000
    grid_codes = {g.grid_code for g in small.grids}
    assert len({r[0] for r in rows}) == 5_000
    categories = Counter(r[2] for r in rows)
    assert set(categories) == set(citygen.ELEMENT_CATEGORIES)
    assert categories["people"] > categories["organisations"] > 0
    assert {r[1] for r in rows} == grid_codes  # spread over every grid
    for _element_id, grid_code, category, name, attributes_json in rows:
        attributes = json.loads(attributes_json)
        assert isinstance(attributes, dict) and name
        if category == "people":
            assert re.fullmatch(r"\d{17}[\dX]", attributes["id_number"])
            assert attributes["id_number"][:6] == grid_code[:6]
            assert re.fullmatch(r"1[3-9]\d{9}", attributes["phone"])


def test_elements_csv_is_exactly_what_the_csv_module_writes(small: citygen.City) -> None:
    fast = io.StringIO()
    citygen.write_elements(small, fast, 3_000, chunk=700)
    reference = io.StringIO()
    writer = csv.writer(reference, lineterminator="\n")
    writer.writerow(["element_id", "grid_code", "category", "name", "attributes_json"])
    writer.writerows(citygen.iter_elements(small, 3_000))
    assert fast.getvalue() == reference.getvalue()
    tricky = ["plain", "a,b", 'say "hi"', "two\nlines"]
    reference = io.StringIO()
    csv.writer(reference, lineterminator="\n").writerow(tricky)
    assert ",".join(_field(v) for v in tricky) + "\n" == reference.getvalue()


def test_element_counts_follow_the_request(small: citygen.City) -> None:
    assert list(citygen.iter_elements(small, 0)) == []
    few = list(citygen.iter_elements(small, 7))
    assert len(few) == 7 and [r[0] for r in few] == [f"E{i:010d}" for i in range(1, 8)]
    assert few == list(citygen.iter_elements(small, 7))
    assert sum(1 for _ in citygen.iter_elements(small)) == 10_000


def test_elements_stream_with_flat_memory(full: citygen.City) -> None:
    class Sink(io.TextIOBase):
        written = 0

        def write(self, s: str) -> int:
            self.written += len(s)
            return len(s)

    peaks = []
    for rows in (5_000, 25_000):
        sink = Sink()
        tracemalloc.start()
        try:
            assert citygen.write_elements(full, sink, rows, chunk=1_000) == rows
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert sink.written > rows * 50
        peaks.append(peak)
    # five times the rows (≈ 4 MB of CSV) and the peak does not grow with them
    assert peaks[1] < peaks[0] * 1.3 + 256 * 1024, peaks


def test_allocate_and_split_fill_exactly_or_refuse() -> None:
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(allocate(7452, [1.3, 0.2, 5.0], minimum=3)) == 7452
    assert split(0, 10, [1, 1]) == [0, 5, 10]
    with pytest.raises(GenerationError):
        allocate(5, [1, 1, 1], minimum=2)
    with pytest.raises(GenerationError):
        split(0, 2, [1, 1, 1])
