"""Six-category grid element records (人、地、事、物、情、组织), streamed row by row.

Rows come grid by grid (grids in code order), so a bulk importer sees them
clustered by grid; the stream never holds more than one row, whatever its length.
All names, phone and ID numbers are synthetic.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from typing import Protocol

from citygen import names
from citygen.model import City


class TextSink(Protocol):
    def write(self, s: str, /) -> object: ...


HEADER = ("element_id", "grid_code", "category", "name", "attributes_json")

_CATEGORY_WEIGHTS = (("people", 40), ("places", 15), ("events", 14), ("things", 13), ("situations", 10))
# the rest (8 %) are organisations

_PLACE_KINDS = (
    ("building", "号楼"), ("courtyard", "号院"), ("shop", "号商铺"), ("clinic", "卫生室"), ("school", "幼儿园"),
    ("square", "文化广场"), ("market", "农贸市场"), ("care_home", "日间照料中心"),
)  # fmt: skip
_EVENTS = (
    ("dispute.neighbour", "邻里纠纷"), ("dispute.family", "家庭矛盾"), ("dispute.property", "物业纠纷"),
    ("dispute.labour", "劳资纠纷"), ("dispute.land", "土地纠纷"), ("safety.hazard", "消防隐患排查"),
    ("convenience.service", "便民服务"), ("security.incident", "治安巡查"), ("grid.report", "网格走访"),
)  # fmt: skip
_THINGS = (
    ("hydrant", "消防栓"), ("extinguisher", "灭火器"), ("ev_charger", "电动车充电桩"), ("camera", "监控探头"),
    ("manhole", "井盖"), ("street_light", "路灯"), ("gas_pipe", "燃气管道"), ("fitness", "健身器材"),
)  # fmt: skip
_SITUATIONS = (
    ("parking", "停车难"), ("property_service", "物业服务"), ("sanitation", "环境卫生"), ("heating", "供暖"),
    ("road_repair", "道路维修"), ("elderly_care", "养老服务"), ("employment", "就业"), ("schooling", "子女入学"),
)  # fmt: skip
_ORGANISATIONS = (
    ("volunteers", "志愿服务队"), ("party_branch", "党支部"), ("cooperative", "农民专业合作社"),
    ("owners_committee", "业主委员会"), ("merchants", "商户联盟"), ("elderly_association", "老年协会"),
    ("mediation_committee", "人民调解委员会"), ("enterprise", "有限公司"),
)  # fmt: skip
_TAGS_ANY = ("", "", "", "", "", "", '"disabled"', '"low_income"')
_TAGS_OLD = (*_TAGS_ANY, '"elderly_alone"', '"veteran"')
_TAGS_YOUNG = (*_TAGS_ANY, '"left_behind_child"')
_CONDITIONS = ("good", "good", "good", "worn", "broken")
_SENTIMENTS = ("positive", "neutral", "neutral", "negative")
_SOURCES = ("visit", "hotline", "forum", "terminal")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True))


def id_number(region: str, birth: str, sequence: int) -> str:
    """A synthetic 18-digit resident ID number (GB 11643 layout: region, birth date, sequence, check digit)."""
    body = f"{region}{birth}{sequence:03d}"
    return body + _ID_CHECK[_weighted(body, _ID_WEIGHTS) % 11]


_YEARS = tuple(range(1935, 2023))
_YEAR_SUMS = {y: _weighted(str(y), _ID_WEIGHTS[6:10]) for y in _YEARS}
_MONTH_DAYS = tuple(
    (f"{m:02d}{d:02d}", _weighted(f"{m:02d}{d:02d}", _ID_WEIGHTS[10:14])) for m in range(1, 13) for d in range(1, 29)
)
_SEQUENCES = tuple((f"{q:03d}", _weighted(f"{q:03d}", _ID_WEIGHTS[14:17])) for q in range(1000))
_DATES = tuple(f"2026-{m:02d}-{d:02d}" for m in range(1, 12) for d in range(1, 29))
_PHONE_SECOND = "3456789"


def iter_elements(city: City, count: int | None = None) -> Iterator[tuple[str, str, str, str, str]]:
    """Yield ``count`` rows (element_id, grid_code, category, name, attributes_json), deterministically."""
    total = city.default_elements if count is None else count
    if total < 0:
        raise ValueError("count must be ≥ 0")
    rng = random.Random(f"citygen:{city.seed}:elements")
    rand = rng.random  # hot loop: every pick is int(rand() * n), far cheaper than randint/choice
    comm_names = {c.code: c.name for c in city.communities}
    categories = [c for c, _ in _CATEGORY_WEIGHTS] + ["organisations"]
    cum = []
    acc = 0
    for _, w in _CATEGORY_WEIGHTS:
        acc += w
        cum.append(acc / 100)
    surnames, given = names.SURNAMES, names.GIVEN_NAMES
    n_surnames, n_given, n_years, n_md, n_dates = len(surnames), len(given), len(_YEARS), len(_MONTH_DAYS), len(_DATES)
    grids = city.grids
    base, extra = divmod(total, len(grids))
    serial = 0
    for index, grid in enumerate(grids):
        n = base + (1 if index < extra else 0)
        comm = comm_names[grid.community_code]
        code, grid_name, region = grid.grid_code, grid.name, grid.county_code
        region_sum = _weighted(region, _ID_WEIGHTS[:6])
        for _ in range(n):
            serial += 1
            r = rand()
            k = 0
            while k < 5 and r >= cum[k]:
                k += 1
            category = categories[k]
            if k == 0:
                name = surnames[int(rand() * n_surnames)] + given[int(rand() * n_given)]
                year = _YEARS[int(rand() * n_years)]
                md, md_sum = _MONTH_DAYS[int(rand() * n_md)]
                seq, seq_sum = _SEQUENCES[int(rand() * 1000)]
                check = _ID_CHECK[(region_sum + _YEAR_SUMS[year] + md_sum + seq_sum) % 11]
                tags = _TAGS_OLD if year < 1960 else _TAGS_YOUNG if year > 2010 else _TAGS_ANY
                attrs = (
                    f'{{"gender":"{"F" if rand() < 0.5 else "M"}","birth_year":{year},'
                    f'"phone":"1{_PHONE_SECOND[int(rand() * 7)]}{int(rand() * 1e9):09d}",'
                    f'"id_number":"{region}{year}{md}{seq}{check}",'
                    f'"residence":"{"registered" if rand() < 0.85 else "floating"}",'
                    f'"tags":[{tags[int(rand() * len(tags))]}]}}'
                )
            elif k == 1:
                kind, label = _PLACE_KINDS[int(rand() * len(_PLACE_KINDS))]
                number = 1 + int(rand() * 40)
                name = f"{comm}{number}{label}" if label.startswith("号") else f"{comm}{label}"
                floors = 1 + int(rand() * (18 if kind == "building" else 3))
                attrs = f'{{"kind":"{kind}","address":"{grid_name}{number}号","floors":{floors}}}'
            elif k == 2:
                matter, label = _EVENTS[int(rand() * len(_EVENTS))]
                name = f"{comm}{label}"
                status = "resolved" if rand() < 0.8 else "open"
                attrs = (
                    f'{{"matter_code":"{matter}","reported_on":"{_DATES[int(rand() * n_dates)]}","status":"{status}"}}'
                )
            elif k == 3:
                kind, label = _THINGS[int(rand() * len(_THINGS))]
                name = f"{grid_name}{label}{1 + int(rand() * 30)}"
                condition = _CONDITIONS[int(rand() * len(_CONDITIONS))]
                attrs = f'{{"kind":"{kind}","condition":"{condition}","checked_on":"{_DATES[int(rand() * n_dates)]}"}}'
            elif k == 4:
                topic, label = _SITUATIONS[int(rand() * len(_SITUATIONS))]
                name = f"群众反映{label}"
                sentiment = _SENTIMENTS[int(rand() * len(_SENTIMENTS))]
                source = _SOURCES[int(rand() * len(_SOURCES))]
                attrs = (
                    f'{{"topic":"{topic}","sentiment":"{sentiment}","source":"{source}",'
                    f'"noted_on":"{_DATES[int(rand() * n_dates)]}"}}'
                )
            else:
                kind, label = _ORGANISATIONS[int(rand() * len(_ORGANISATIONS))]
                name = f"{comm}{label}"
                attrs = f'{{"kind":"{kind}","members":{3 + int(rand() * 198)}}}'
            yield f"E{serial:010d}", code, category, name, attrs


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _field(value: str) -> str:
    """One CSV field exactly as ``csv.writer`` (QUOTE_MINIMAL) writes it."""
    return '"' + value.replace('"', '""') + '"' if _NEEDS_QUOTES.search(value) else value


def write_elements(
    city: City,
    out: TextSink,
    count: int | None = None,
    chunk: int = 10_000,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Write elements.csv (header + rows, RFC 4180) to ``out``; returns the number of rows written.

    Rows are formatted here rather than by ``csv.writer`` (twice as fast); ids, grid codes
    and categories never need quoting, names and attributes are quoted when they must be.
    ``on_chunk(rows so far)`` is called after each chunk (progress).
    """
    out.write(",".join(HEADER) + "\n")
    written = 0
    lines: list[str] = []
    for element_id, grid_code, category, name, attrs in iter_elements(city, count):
        lines.append(f"{element_id},{grid_code},{category},{_field(name)},{_field(attrs)}\n")
        if len(lines) >= chunk:
            out.write("".join(lines))
            written += len(lines)
            lines.clear()
            if on_chunk is not None:
                on_chunk(written)
    out.write("".join(lines))
    return written + len(lines)
