"""Build a deterministic city: the same seed and scale always give the same city.

Layout (all on the integer lattice of ``model.UNITS_PER_DEGREE``):

* the territory is a rectangle split west→east into one vertical strip per county,
  each as wide as its share of the land (a community's land is its grids, urban
  grids counting a fifth of a rural one, Sunan's thrice);
* a county strip is split north→south into one band per township;
* a township band is split into one vertical strip per community, in *snake* order
  (west→east in even bands, east→west in odd bands) so that communities that follow
  each other in code order always share a border, also across townships — police
  rooms take contiguous runs of that order and therefore cover contiguous areas;
* a community rectangle is split into rows of equal-area cells: its grids.

Every split shares its border values exactly, so the grids tile the territory.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from citygen import names
from citygen.model import (
    UNITS_PER_DEGREE,
    AdminUnit,
    Box,
    Centre,
    Channel,
    City,
    Grid,
    GridFunction,
    Mediator,
    MediatorKind,
    Officer,
    OfficerRole,
    PoliceRoom,
    Scale,
    Studio,
    Worker,
)

CHANNELS_PER_NVR = 32
URBAN_DENSITY = 0.2  # area of an urban grid relative to a rural one
COUNTY_AREA = {"620702": 0.8, "620721": 3.0, "620722": 1.0, "620723": 0.8, "620724": 1.0, "620725": 1.3}
LON_SHRINK = math.cos(math.radians(38.9))  # a degree of longitude is this much shorter than one of latitude here


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    territory: Box
    counties: tuple[str, ...]  # west → east
    townships: dict[str, tuple[int, ...]] | None  # county → indices into names.COUNTIES[...][2]; None = all
    communities: dict[str, int]  # per county
    grids: int
    workers: int
    community_centres: int
    police_rooms: int
    officers: int
    auxiliaries: int
    channels: int
    elements: int


def _box(west: float, south: float, east: float, north: float) -> Box:
    return Box(*(round(v * UNITS_PER_DEGREE) for v in (west, south, east, north)))


SCALES: dict[Scale, ScaleSpec] = {
    "full": ScaleSpec(
        territory=_box(99.5, 38.3, 101.2, 39.4),
        counties=("620724", "620723", "620702", "620722", "620725", "620721"),
        townships=None,
        communities={"620702": 280, "620721": 102, "620722": 110, "620723": 80, "620724": 100, "620725": 74},
        grids=7452,
        workers=7600,
        community_centres=49,
        police_rooms=219,
        officers=289,
        auxiliaries=404,
        channels=28_000,
        elements=9_200_000,
    ),
    "small": ScaleSpec(
        territory=_box(100.40, 38.90, 100.52, 38.98),
        counties=("620702",),
        townships={"620702": (0, 1, 2, 5)},
        communities={"620702": 12},
        grids=60,
        workers=64,
        community_centres=6,
        police_rooms=4,
        officers=6,
        auxiliaries=8,
        channels=300,
        elements=10_000,
    ),
}


class GenerationError(RuntimeError):
    """The requested layout does not fit (e.g. a cell would be empty)."""


def allocate(total: int, weights: Sequence[float], minimum: int = 0) -> list[int]:
    """Split ``total`` into ``len(weights)`` integer parts ≥ ``minimum``, proportional to weights."""
    count = len(weights)
    rest = total - minimum * count
    if count == 0 or rest < 0:
        raise GenerationError(f"cannot split {total} into {count} parts of at least {minimum}")
    weight_sum = sum(weights)
    shares = [rest * w / weight_sum for w in weights]
    parts = [int(s) for s in shares]
    left = rest - sum(parts)
    by_remainder = sorted(range(count), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in by_remainder[:left]:
        parts[i] += 1
    return [minimum + p for p in parts]


def split(start: int, end: int, weights: Sequence[float]) -> list[int]:
    """Boundaries start = b0 < b1 < … < bn = end, the parts proportional to weights."""
    total = sum(weights)
    bounds = [start]
    cumulative = 0.0
    for w in weights[:-1]:
        cumulative += w
        bounds.append(start + round((end - start) * cumulative / total))
    bounds.append(end)
    if any(b1 <= b0 for b0, b1 in itertools.pairwise(bounds)):
        raise GenerationError(f"cannot split [{start}, {end}) into {len(weights)} non-empty parts")
    return bounds


def township_codes(county_code: str) -> list[str]:
    """Statistical division codes: streets 001…, towns (镇) 100…, townships (乡) 200…."""
    counters = {"街道": 1, "镇": 100, "乡": 200}
    codes = []
    for name in names.COUNTIES[county_code][2]:
        kind = "街道" if name.endswith("街道") else "镇" if name.endswith("镇") else "乡"
        codes.append(f"{county_code}{counters[kind]:03d}")
        counters[kind] += 1
    return codes


def _grid_function(rng: random.Random, urban: bool) -> GridFunction:
    if urban:
        return rng.choices(("residential", "commercial", "mixed", "industrial"), weights=(55, 22, 18, 5))[0]
    return rng.choices(("rural", "mixed", "industrial", "residential"), weights=(75, 10, 10, 5))[0]


def generate(scale: Scale = "small", seed: int = 1) -> City:
    """Generate the city of ``scale`` for ``seed`` (in memory; elements are streamed by ``write``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, not {scale!r}")
    spec = SCALES[scale]

    def stream(purpose: str) -> random.Random:
        return random.Random(f"citygen:{seed}:{purpose}")

    rng_admin = stream("admin")
    city = AdminUnit(names.CITY_CODE, names.CITY_NAME, names.PROVINCE_CODE, "city", spec.territory, urban=True)

    # --- administrative units (codes, names) and grid counts per community -----------------
    counties: list[AdminUnit] = []
    townships: list[AdminUnit] = []
    communities: list[AdminUnit] = []
    # per county: list of townships, each with its communities (code, name, urban) and grid counts
    plan: dict[str, list[tuple[str, str, bool, list[tuple[str, str, bool]]]]] = {}
    for county_code in sorted(spec.counties):
        town_names = names.COUNTIES[county_code][2]
        codes = township_codes(county_code)
        chosen = spec.townships[county_code] if spec.townships else tuple(range(len(town_names)))
        town_weights = [
            (1.3 if town_names[i] in names.URBAN_TOWNSHIPS else 1.0) * rng_admin.uniform(0.7, 1.3) for i in chosen
        ]
        per_town = allocate(spec.communities[county_code], town_weights, minimum=3)
        plan[county_code] = []
        for i, n_comm in zip(chosen, per_town, strict=True):
            town_name = town_names[i]
            urban_town = town_name in names.URBAN_TOWNSHIPS
            words = rng_admin.sample(names.COMMUNITY_WORDS, n_comm)
            comms: list[tuple[str, str, bool]] = []
            residents_serial, village_serial = 1, 200
            for k, word in enumerate(words):
                is_community = urban_town or (k == 0 and town_name.endswith("镇"))
                if is_community:
                    code, residents_serial = f"{codes[i]}{residents_serial:03d}", residents_serial + 1
                    comms.append((code, word + "社区", urban_town))
                else:
                    code, village_serial = f"{codes[i]}{village_serial:03d}", village_serial + 1
                    comms.append((code, word + "村", False))
            plan[county_code].append((codes[i], town_name, urban_town, comms))

    all_comms = [c for county_code in sorted(plan) for t in plan[county_code] for c in t[3]]
    comm_weights = [(1.6 if urban else 1.0) * rng_admin.uniform(0.75, 1.25) for _, _, urban in all_comms]
    grid_counts = dict(zip((c[0] for c in all_comms), allocate(spec.grids, comm_weights, minimum=3), strict=True))

    # --- layout ----------------------------------------------------------------------------
    # land area of each community: urban grids are dense (a fifth of a rural grid's area),
    # the pastoral county of Sunan is wide
    area = {
        code: grid_counts[code]
        * (URBAN_DENSITY if urban else 1.0)
        * COUNTY_AREA[code[:6]]
        * rng_admin.uniform(0.8, 1.2)
        for code, _, urban in all_comms
    }
    rng_grid = stream("grids")
    t = spec.territory
    county_totals = [sum(area[c[0]] for tw in plan[cc] for c in tw[3]) for cc in spec.counties]
    xs = split(t.west, t.east, county_totals)
    county_boxes = {cc: Box(xs[i], t.south, xs[i + 1], t.north) for i, cc in enumerate(spec.counties)}
    grids: list[Grid] = []
    snake: dict[str, list[str]] = {}  # county → community codes in snake (adjacency) order
    for county_code in sorted(plan):
        cbox = county_boxes[county_code]
        counties.append(
            AdminUnit(county_code, names.COUNTIES[county_code][0], names.CITY_CODE, "county", cbox, urban=False)
        )
        towns = plan[county_code]
        # bands north → south: boundaries from north down
        town_totals = [sum(area[c[0]] for c in tw[3]) for tw in towns]
        ys = split(cbox.south, cbox.north, list(reversed(town_totals)))  # south → north
        snake[county_code] = []
        for band, (town_code, town_name, urban_town, comms) in enumerate(towns):
            top = ys[len(towns) - band]
            bottom = ys[len(towns) - band - 1]
            tbox = Box(cbox.west, bottom, cbox.east, top)
            townships.append(AdminUnit(town_code, town_name, county_code, "township", tbox, urban=urban_town))
            ordered = comms if band % 2 == 0 else list(reversed(comms))
            cx = split(tbox.west, tbox.east, [area[c[0]] for c in ordered])
            boxes = {c[0]: Box(cx[k], bottom, cx[k + 1], top) for k, c in enumerate(ordered)}
            # code order walks the band west→east (even) or east→west (odd): a snake
            snake[county_code].extend(c[0] for c in comms)
            for comm_code, comm_name, urban in comms:
                mbox = boxes[comm_code]
                communities.append(AdminUnit(comm_code, comm_name, town_code, "community", mbox, urban=urban))
                grids.extend(
                    _community_grids(rng_grid, comm_code, comm_name, town_code, county_code, urban, mbox,
                                     grid_counts[comm_code])
                )  # fmt: skip
    grids.sort(key=lambda g: g.grid_code)

    centres = _centres(stream("centres"), spec, city, counties, townships, communities)
    workers = _workers(stream("workers"), spec, grids)
    rooms = _police_rooms(stream("police"), spec, counties, townships, communities, grids, snake)
    channels = _channels(stream("channels"), spec, communities, grids)
    studios = _studios(stream("mediation"), centres, city, counties, townships, communities)
    return City(
        scale=scale,
        seed=seed,
        territory=spec.territory,
        city=city,
        counties=tuple(counties),
        townships=tuple(sorted(townships, key=lambda u: u.code)),
        communities=tuple(sorted(communities, key=lambda u: u.code)),
        grids=tuple(grids),
        centres=centres,
        workers=workers,
        police_rooms=rooms,
        channels=channels,
        studios=studios,
        default_elements=spec.elements,
    )


def _community_grids(
    rng: random.Random,
    comm_code: str,
    comm_name: str,
    town_code: str,
    county_code: str,
    urban: bool,
    box: Box,
    count: int,
) -> list[Grid]:
    width = (box.east - box.west) * LON_SHRINK
    height = box.north - box.south
    rows = max(1, min(count, round(math.sqrt(count * height / width))))
    per_row = allocate(count, [1.0] * rows)
    ys = split(box.south, box.north, list(reversed(per_row)))  # south → north, row 0 is the northernmost
    result = []
    serial = 1
    for row, cells in enumerate(per_row):
        top, bottom = ys[rows - row], ys[rows - row - 1]
        xs = split(box.west, box.east, [1.0] * cells)
        for col in range(cells):
            households = rng.randint(300, 500)
            result.append(
                Grid(
                    grid_code=f"{comm_code}{serial:03d}",
                    name=f"{comm_name}第{serial}网格",
                    community_code=comm_code,
                    township_code=town_code,
                    county_code=county_code,
                    function=_grid_function(rng, urban),
                    households=households,
                    population=round(households * rng.uniform(2.3, 2.8)),
                    box=Box(xs[col], bottom, xs[col + 1], top),
                )
            )
            serial += 1
    return result


def _centres(
    rng: random.Random,
    spec: ScaleSpec,
    city: AdminUnit,
    counties: list[AdminUnit],
    townships: list[AdminUnit],
    communities: list[AdminUnit],
) -> tuple[Centre, ...]:
    town_names = {t.code: t.name for t in townships}
    candidates = [c for c in communities if c.urban or c.code.endswith("001")]
    if len(candidates) < spec.community_centres:
        others = [c for c in communities if c not in candidates]
        candidates += rng.sample(others, spec.community_centres - len(candidates))
    chosen = sorted(rng.sample(sorted(candidates, key=lambda c: c.code), spec.community_centres), key=lambda c: c.code)
    centres = [Centre(f"ZZ{city.code}", f"{city.name}综治中心", "city", city.code)]
    centres += [Centre(f"ZZ{c.code}", f"{c.name}综治中心", "county", c.code) for c in counties]
    centres += [Centre(f"ZZ{t.code}", f"{t.name}综治中心", "township", t.code) for t in townships]
    centres += [
        Centre(f"ZZ{c.code}", f"{town_names[c.parent_code or '']}{c.name}综治中心", "community", c.code) for c in chosen
    ]
    return tuple(sorted(centres, key=lambda c: c.centre_code))


def _workers(rng: random.Random, spec: ScaleSpec, grids: list[Grid]) -> tuple[Worker, ...]:
    per_grid = {g.grid_code: 1 for g in grids}
    extra = rng.choices(grids, weights=[g.population for g in grids], k=spec.workers - len(grids))
    for g in extra:
        per_grid[g.grid_code] += 1
    workers = []
    for grid_code in sorted(per_grid):
        for n in range(1, per_grid[grid_code] + 1):
            workers.append(
                Worker(
                    worker_id=f"W{grid_code}{n:02d}",
                    grid_code=grid_code,
                    name=names.person_name(rng),
                    phone=names.phone_number(rng),
                    on_duty=rng.random() < 0.9,
                )
            )
    return tuple(workers)


def _police_rooms(
    rng: random.Random,
    spec: ScaleSpec,
    counties: list[AdminUnit],
    townships: list[AdminUnit],
    communities: list[AdminUnit],
    grids: list[Grid],
    snake: dict[str, list[str]],
) -> tuple[PoliceRoom, ...]:
    comm_by_code = {c.code: c for c in communities}
    town_by_code = {t.code: t for t in townships}
    grids_by_comm: dict[str, list[str]] = {}
    for g in grids:
        grids_by_comm.setdefault(g.community_code, []).append(g.grid_code)
    county_codes = [c.code for c in counties]
    rooms_per_county = allocate(spec.police_rooms, [len(snake[cc]) for cc in county_codes], minimum=1)
    blocks: list[tuple[str, list[str]]] = []  # (county, community codes)
    for county_code, n_rooms in zip(county_codes, rooms_per_county, strict=True):
        order = snake[county_code]
        sizes = allocate(len(order), [1.0] * n_rooms, minimum=1)
        start = 0
        for size in sizes:
            blocks.append((county_code, order[start : start + size]))
            start += size
    block_grids = [sum(len(grids_by_comm[c]) for c in comms) for _, comms in blocks]
    officers = allocate(spec.officers, block_grids, minimum=1)
    auxiliaries = allocate(spec.auxiliaries, block_grids, minimum=1)
    rooms = []
    serial: dict[str, int] = {}
    for (county_code, comms), n_off, n_aux in zip(blocks, officers, auxiliaries, strict=True):
        serial[county_code] = serial.get(county_code, 0) + 1
        room_code = f"JW{county_code}{serial[county_code]:03d}"
        first = comm_by_code[comms[0]]
        town = town_by_code[first.parent_code or ""]
        staff: list[Officer] = []
        roles: tuple[tuple[OfficerRole, str, int], ...] = (("officer", "P", n_off), ("auxiliary", "A", n_aux))
        for role, prefix, n in roles:
            staff += [
                Officer(f"{room_code}{prefix}{k:02d}", names.person_name(rng), role, rng.random() < 0.85)
                for k in range(1, n + 1)
            ]
        rooms.append(
            PoliceRoom(
                room_code=room_code,
                name=f"{town.name}{first.name}警务室",
                county_code=county_code,
                grid_codes=tuple(sorted(code for c in comms for code in grids_by_comm[c])),
                officers=tuple(staff),
            )
        )
    return tuple(sorted(rooms, key=lambda r: r.room_code))


def _channels(
    rng: random.Random, spec: ScaleSpec, communities: list[AdminUnit], grids: list[Grid]
) -> tuple[Channel, ...]:
    grids_by_comm: dict[str, list[Grid]] = {}
    for g in grids:
        grids_by_comm.setdefault(g.community_code, []).append(g)
    comms = sorted(communities, key=lambda c: c.code)
    per_comm = allocate(spec.channels, [len(grids_by_comm[c.code]) for c in comms], minimum=4)
    camera_serial: dict[str, int] = {}
    nvr_serial: dict[str, int] = {}
    channels: list[Channel] = []
    fine = 10  # channel positions use a 10x finer lattice than grid borders: strictly inside a cell
    for comm, count in zip(comms, per_comm, strict=True):
        county = comm.code[:6]
        centre8 = f"{county}00"
        n_nvr = math.ceil(count / CHANNELS_PER_NVR)
        for nvr_count in allocate(count, [1.0] * n_nvr):
            nvr_serial[county] = nvr_serial.get(county, 0) + 1
            maker, _ = rng.choice(names.NVR_MODELS)
            device_id = f"{centre8}01118{0}{nvr_serial[county]:06d}"
            models = [m for m in names.CAMERA_MODELS if m[0] == maker]
            for _ in range(nvr_count):
                camera_serial[county] = camera_serial.get(county, 0) + 1
                spot = rng.choice(names.CAMERA_SPOTS)
                industry = "00" if spot in ("路口", "主干道", "桥头") else "01"
                kind = "132" if rng.random() < 0.7 else "131"
                grid = rng.choice(grids_by_comm[comm.code])
                b = grid.box
                lon_fine = b.west * fine + 1 + rng.randrange((b.east - b.west) * fine - 1)
                lat_fine = b.south * fine + 1 + rng.randrange((b.north - b.south) * fine - 1)
                _, model = rng.choice(models)
                channels.append(
                    Channel(
                        channel_id=f"{centre8}{industry}{kind}0{camera_serial[county]:06d}",
                        device_id=device_id,
                        name=f"{comm.name}{spot}{camera_serial[county] % 100:02d}",
                        lat=lat_fine / (UNITS_PER_DEGREE * fine),
                        lon=lon_fine / (UNITS_PER_DEGREE * fine),
                        civil_code=comm.code,
                        manufacturer=maker,
                        model=model,
                        grid_code=grid.grid_code,
                    )
                )
    return tuple(channels)


# Mediators per studio by the centre's level: (kind, how many); full-time mediators at the
# community and township windows, legal advisers higher up, volunteer peacemakers (和事佬) below.
STUDIO_STAFF: dict[str, tuple[tuple[MediatorKind, int], ...]] = {
    "community": (("full_time", 1), ("volunteer", 1)),
    "township": (("full_time", 2), ("legal_adviser", 1)),
    "county": (("full_time", 1), ("legal_adviser", 2)),
    "city": (("legal_adviser", 2),),
}
SKILLS: dict[MediatorKind, tuple[str, ...]] = {
    "full_time": ("neighbour", "family", "property", "land"),
    "legal_adviser": ("labour", "consumer", "property", "land"),
    "volunteer": ("neighbour", "family"),
}
CAPACITY: dict[MediatorKind, int] = {"full_time": 12, "legal_adviser": 8, "volunteer": 4}
ROOMS: dict[str, tuple[str, ...]] = {
    "community": ("调解室",),
    "township": ("调解室1", "调解室2"),
    "county": ("调解室1", "调解室2", "听证室"),
    "city": ("调解室1", "听证室"),
}


def _studios(
    rng: random.Random,
    centres: tuple[Centre, ...],
    city: AdminUnit,
    counties: list[AdminUnit],
    townships: list[AdminUnit],
    communities: list[AdminUnit],
) -> tuple[Studio, ...]:
    """One mediation studio at each centre's dispute-mediation window, serving the centre's division."""
    unit_names = {u.code: u.name for u in (city, *counties, *townships, *communities)}
    studios = []
    for centre in centres:
        code = centre.admin_code
        if centre.level == "community":
            name = f"{unit_names[code[:9]]}{unit_names[code]}人民调解工作室"
        elif centre.level == "township":
            name = f"{unit_names[code]}人民调解委员会"
        else:
            name = f"{unit_names[code]}矛盾纠纷调处化解中心"
        staff: list[Mediator] = []
        for kind, count in STUDIO_STAFF[centre.level]:
            for _ in range(count):
                extra = ("public_order",) if kind == "full_time" and centre.level != "community" else ()
                staff.append(
                    Mediator(
                        mediator_id=f"M{code}{len(staff) + 1:02d}",
                        name=names.person_name(rng),
                        kind=kind,
                        skills=SKILLS[kind] + extra,
                        capacity=CAPACITY[kind],
                    )
                )
        studios.append(Studio(f"ST{code}", name, code, ROOMS[centre.level], tuple(staff)))
    return tuple(studios)
