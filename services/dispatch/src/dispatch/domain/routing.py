"""Routing as data: which targets must act on a matter, and how long they have.

A rule maps a matter code (and optionally a grid function) to one or more targets.
The most specific rule wins: (matter, function) before (matter, any function);
a matter without a rule of its own uses its family's rule (``dispute.*`` for
``dispute.family``) and then the catch-all ``*``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from govmesh_contracts import TaskTarget
from govmesh_contracts.matters import MatterRegistry, registry

GRID_FUNCTIONS = ("residential", "commercial", "rural", "industrial", "mixed")

# The matter registry (govmesh_contracts' matters.json, or GOVMESH_MATTERS_FILE) holds the
# departments, each matter's routing and its deadline; dispatch keeps its view of it here.
REGISTRY: MatterRegistry = registry()

# Departments that act on tasks without a service of their own (topic + optional webhook).
DEPARTMENTS: tuple[str, ...] = tuple(d.code for d in REGISTRY.departments)


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Target:
    """One who must act: a target kind and, for departments, the department code."""

    kind: TaskTarget
    department: str | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        """``grid_worker``, ``mediation``, ``policing`` or ``department:<code>``."""
        kind, _, department = text.partition(":")
        try:
            target = TaskTarget(kind)
        except ValueError:
            raise RuleError(
                f"unknown target {text!r}: use grid_worker, mediation, policing or department:<code>"
            ) from None
        if target is TaskTarget.DEPARTMENT:
            if department not in DEPARTMENTS:
                raise RuleError(f"unknown department {department!r} in {text!r}; known: {', '.join(DEPARTMENTS)}")
            return cls(target, department)
        if department:
            raise RuleError(f"target {text!r}: only department targets take a code")
        return cls(target)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.department}" if self.department else self.kind.value


@dataclass(frozen=True)
class Rule:
    matter_code: str  # exact code, a family "dispute.*", or "*"
    grid_function: str | None
    targets: tuple[Target, ...]

    def __post_init__(self) -> None:
        if not self.targets:
            raise RuleError(f"rule for {self.matter_code}: at least one target is required")
        if self.grid_function is not None and self.grid_function not in GRID_FUNCTIONS:
            raise RuleError(f"rule for {self.matter_code}: unknown grid function {self.grid_function!r}")
        if len(set(self.targets)) != len(self.targets):
            raise RuleError(f"rule for {self.matter_code}: a target is listed twice")


def _family(matter_code: str) -> str:
    return matter_code.split(".", 1)[0]


def route(rules: Iterable[Rule], matter_code: str, grid_function: str | None) -> tuple[Target, ...]:
    """The targets for a matter on a grid of the given function (None: unknown grid)."""
    by_key = {(r.matter_code, r.grid_function): r for r in rules}
    for matter in (matter_code, _family(matter_code) + ".*", "*"):
        for function in (grid_function, None) if grid_function else (None,):
            rule = by_key.get((matter, function))
            if rule is not None:
                return rule.targets
    return (Target(TaskTarget.GRID_WORKER),)


def default_sla(matter_code: str, source: MatterRegistry = REGISTRY) -> timedelta:
    """The time dispatch gives when it sets a deadline itself (reopened case, referral, none from intake)."""
    found = source.matter(matter_code)
    if found is None:
        return timedelta(hours=source.default_dispatch_sla_hours)
    return timedelta(hours=found.dispatch_sla_hours or found.sla_hours)


def registry_rules(source: MatterRegistry = REGISTRY) -> list[Rule]:
    """The routing rules the registry states: each matter's own, then the family and catch-all fallbacks."""
    items: list[dict[str, object]] = []
    for matter in source.matters:
        if matter.routing is None:
            continue
        if matter.routing.targets is not None:
            items.append({"matter_code": matter.code, "targets": list(matter.routing.targets)})
        for function, targets in matter.routing.by_grid_function.items():
            items.append({"matter_code": matter.code, "grid_function": function, "targets": list(targets)})
    items.extend({"matter_code": f.matter_code, "targets": list(f.targets)} for f in source.routing_fallbacks)
    return parse_rules(items)


def rules_to_add(existing: Iterable[Rule], stated: Iterable[Rule]) -> list[Rule]:
    """The registry's rules for matters the table has no rule for yet (a matter added to the
    registry after the table was seeded); rules edited over REST are never overwritten."""
    routed = {rule.matter_code for rule in existing}
    return [rule for rule in stated if rule.matter_code not in routed]


def parse_rules(items: Sequence[dict[str, object]]) -> list[Rule]:
    """Rules from their data form: ``[{matter_code, grid_function?, targets: [..]}]``."""
    rules: list[Rule] = []
    seen: set[tuple[str, str | None]] = set()
    for number, item in enumerate(items):
        matter = item.get("matter_code")
        function = item.get("grid_function")
        targets = item.get("targets")
        if not isinstance(matter, str) or not matter:
            raise RuleError(f"rules[{number}].matter_code: a non-empty string is required")
        if function is not None and not isinstance(function, str):
            raise RuleError(f"rules[{number}].grid_function: a string or null is required")
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise RuleError(f"rules[{number}].targets: a list of target strings is required")
        try:
            rule = Rule(matter, function, tuple(Target.parse(t) for t in targets))
        except RuleError as exc:
            raise RuleError(f"rules[{number}]: {exc}") from None
        if (matter, function) in seen:
            raise RuleError(f"rules[{number}]: a second rule for ({matter}, {function})")
        seen.add((matter, function))
        rules.append(rule)
    return rules
