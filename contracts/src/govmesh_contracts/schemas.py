"""The committed JSON Schemas of the events, one file per event type.

    python -m govmesh_contracts.schemas write [--dir DIR] [--allow-breaking]
    python -m govmesh_contracts.schemas check [--dir DIR]

``write`` regenerates ``contracts/schemas/<event_type>.json`` from the models; it
refuses to overwrite a committed schema with a breaking change (or to drop the schema
of a removed event type) unless ``--allow-breaking`` is given, since within a major
version only additive, optional changes are allowed. ``check`` exits 1 and prints
every problem when the committed files differ from what the models generate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from govmesh_contracts.compat import breaking_changes
from govmesh_contracts.topics import EVENT_TYPES

SUFFIX = ".json"


def render(document: dict[str, Any]) -> str:
    """The one deterministic text form of a generated JSON document."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def contracts_root() -> Path | None:
    """``contracts/`` when this package runs from its source tree (``contracts/src/govmesh_contracts``)."""
    package = Path(__file__).resolve().parent
    root = package.parent.parent
    if package.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None


def default_dir() -> Path | None:
    root = contracts_root()
    return root / "schemas" if root else None


def generate() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every registered event type."""
    return {f"{event_type}{SUFFIX}": cls.json_schema() for event_type, cls in sorted(EVENT_TYPES.items())}


def _committed(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob(f"*{SUFFIX}"))}


def breaking(directory: Path) -> list[str]:
    """Breaking changes from the committed schemas to the generated ones, removed event types included."""
    problems: list[str] = []
    generated = generate()
    for name, text in _committed(directory).items():
        if name not in generated:
            problems.append(
                f"{name}: {name.removesuffix(SUFFIX)} is no longer a registered event type "
                "(removing an event type is a breaking change)"
            )
            continue
        try:
            old = json.loads(text)
            changes = breaking_changes(old, generated[name])
        except ValueError as exc:
            problems.append(f"{name}: cannot compare with the committed schema: {exc}")
            continue
        problems += [f"{name}: breaking: {change}" for change in changes]
    return problems


def check(directory: Path) -> list[str]:
    """Every way the committed schemas differ from the models (empty when up to date)."""
    hint = "run `python -m govmesh_contracts.schemas write`"
    committed = _committed(directory)
    problems: list[str] = []
    for name, schema in generate().items():
        if name not in committed:
            problems.append(f"{name}: missing; {hint}")
        elif committed[name] != render(schema):
            problems.append(f"{name}: out of date; {hint}")
    return problems + breaking(directory)


def write(directory: Path) -> list[Path]:
    """Write every generated schema and delete schema files of event types no longer registered."""
    directory.mkdir(parents=True, exist_ok=True)
    generated = generate()
    written: list[Path] = []
    for name, schema in generated.items():
        path = directory / name
        text = render(schema)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    for name in _committed(directory):
        if name not in generated:
            (directory / name).unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m govmesh_contracts.schemas",
        description="Write or check the committed JSON Schemas of the events.",
    )
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("--dir", type=Path, default=None, help="schema directory (default: contracts/schemas)")
    parser.add_argument(
        "--allow-breaking", action="store_true", help="write even if a committed schema changes incompatibly"
    )
    args = parser.parse_args(argv)
    directory: Path | None = args.dir or default_dir()
    if directory is None:
        parser.error("not running from the contracts source tree: pass --dir")

    if args.command == "check":
        problems = check(directory)
        for problem in problems:
            print(problem)
        if problems:
            return 1
        print(f"ok: {len(EVENT_TYPES)} schemas in {directory} are up to date")
        return 0

    problems = breaking(directory)
    if problems and not args.allow_breaking:
        for problem in problems:
            print(problem)
        print("refusing to write breaking changes: add a new event type or topic version, or pass --allow-breaking")
        return 1
    for path in write(directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
