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

GRID_FUNCTIONS = ("residential", "commercial", "rural", "industrial", "mixed")

# Departments that act on tasks without a service of their own (topic + optional webhook).
DEPARTMENTS = (
    "civil_affairs",
    "labour_social_security",
    "justice",
    "community_correction",
    "legal_services",
    "psychological_services",
    "government_services",
    "emergency_management",
    "video_maintenance",  # keeps the city's cameras (雪亮工程运维): device-fault cases
)

# Default deadlines per matter family when intake gives none (CaseReceived.due_at).
DEFAULT_SLA: dict[str, timedelta] = {
    "security.incident": timedelta(hours=2),
    "video.alarm": timedelta(hours=2),
    "video.device_fault": timedelta(hours=72),
    "public_order": timedelta(hours=24),
    "safety.hazard": timedelta(hours=24),
    "community_correction": timedelta(hours=48),
    "dispute": timedelta(days=7),
    "civil_affairs": timedelta(days=5),
    "labour": timedelta(days=5),
    "legal": timedelta(days=3),
    "counselling": timedelta(days=3),
    "convenience": timedelta(days=3),
    "grid": timedelta(days=3),
    "*": timedelta(days=3),
}


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


def default_sla(matter_code: str) -> timedelta:
    return DEFAULT_SLA.get(matter_code) or DEFAULT_SLA.get(_family(matter_code)) or DEFAULT_SLA["*"]


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
