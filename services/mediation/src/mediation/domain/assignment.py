"""Assigning a dispute to a mediator: by area, then skill, then load."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    mediator_id: str
    studio_id: str
    area_codes: tuple[str, ...]  # administrative or grid codes the studio serves (prefixes)
    skills: frozenset[str]  # dispute categories the mediator is trained for
    load: int  # disputes held now
    capacity: int  # disputes the mediator may hold at once
    active: bool = True


@dataclass(frozen=True)
class Choice:
    mediator_id: str
    studio_id: str
    reason: str


def area_match(grid_code: str | None, area_codes: tuple[str, ...]) -> int:
    """How specifically the studio's area covers the grid: the longest matching prefix, 0 if none."""
    if not grid_code:
        return 0
    return max((len(code) for code in area_codes if grid_code.startswith(code)), default=0)


def choose_mediator(
    candidates: list[Candidate], *, grid_code: str | None, category: str, excluded: frozenset[str] = frozenset()
) -> Choice | None:
    """The best mediator for a dispute, or None when nobody can take it.

    Inactive, full and excluded (conflict of interest, the current mediator on a
    reassignment) mediators are out. The rest are ranked: studios covering the grid
    (the most specific area first), then those with the category's skill, then the
    lowest load relative to capacity, then the mediator id (stable)."""
    eligible = [c for c in candidates if c.active and c.load < c.capacity and c.mediator_id not in excluded]
    if not eligible:
        return None

    def rank(c: Candidate) -> tuple[int, int, float, str]:
        return (
            -area_match(grid_code, c.area_codes),
            0 if category in c.skills else 1,
            c.load / c.capacity,
            c.mediator_id,
        )

    best = min(eligible, key=rank)
    reasons = []
    reasons.append("in area" if area_match(grid_code, best.area_codes) else "outside the grid's area")
    reasons.append("skilled in " + category if category in best.skills else "no " + category + " skill available")
    reasons.append(f"load {best.load}/{best.capacity}")
    return Choice(best.mediator_id, best.studio_id, ", ".join(reasons))
