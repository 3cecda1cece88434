"""Is a new JSON Schema of an event a compatible evolution of the old one?

Within a major version only additive, optional changes are allowed: every record
that the old schema accepted must still be accepted by the new one, and no
property may disappear (consumers read it). So a removed property, a narrowed or
changed type, a new required property, an optional property that became required,
tightened ``additionalProperties`` or tightened constraints are breaking; new
optional properties, new enum values, loosened constraints and changes to
annotations (title, description, examples, default) are not.

``$ref`` s are followed (into ``$defs`` or any JSON pointer of the same document),
so nested models are compared structurally: renaming a nested model without
changing its shape is not a breaking change.
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

# Bounds whose lowering (resp. raising) narrows what a schema accepts.
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties", "maxContains")
_LOWER_BOUNDS = ("minLength", "minItems", "minProperties", "minContains")


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every breaking change from ``old`` to ``new``, as ``"<path>: <reason>"``; empty if compatible."""
    return _Comparer(old, new).compare(old, new, "", frozenset())


def _fmt(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _where(path: str) -> str:
    return path or "(root)"


def _prop_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else f"properties.{name}"


def _sub_path(path: str, segment: str) -> str:
    return f"{path}.{segment}" if path else segment


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _values(schema: Schema) -> list[Any] | None:
    """The closed set of values a schema allows (``enum`` / ``const``), or None."""
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _kind(schema: Schema) -> str:
    """The JSON type a (resolved, single-branch) schema accepts; "any" when unconstrained."""
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    values = _values(schema)
    if values is not None:
        types = {_json_type(v) for v in values}
        return types.pop() if len(types) == 1 else "any"
    if any(k in schema for k in ("properties", "additionalProperties", "required")):
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "any"


def _accepts(old_kind: str, new_kind: str) -> bool:
    if old_kind == "never":  # the old schema accepted nothing: anything new is a loosening
        return True
    return new_kind in (old_kind, "any") or (old_kind == "integer" and new_kind == "number")


class _Branch:
    """One alternative of a schema (an ``anyOf``/``oneOf`` member, or the schema itself)."""

    def __init__(self, schema: Schema, ref: str | None, kind: str | None = None) -> None:
        self.schema = schema
        self.ref = ref
        self.kind = kind or _kind(schema)

    def describe(self) -> str:
        name = self.ref.rsplit("/", 1)[-1] if self.ref else None
        if "const" in self.schema:
            return f"const {_fmt(self.schema['const'])}"
        return name or self.kind


class _Comparer:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root

    def compare(self, old: Schema | bool, new: Schema | bool, path: str, seen: frozenset[tuple[str, str]]) -> list[str]:
        old_branches = _branches(old, self.old_root)
        new_branches = _branches(new, self.new_root)
        problems: list[str] = []
        for ob in old_branches:
            candidates = [nb for nb in new_branches if _accepts(ob.kind, nb.kind)]
            if not candidates:
                if len(old_branches) == 1 and len(new_branches) == 1:
                    reason = f"type changed from {ob.describe()} to {new_branches[0].describe()}"
                else:
                    was = " | ".join(b.describe() for b in old_branches)
                    now = " | ".join(b.describe() for b in new_branches)
                    reason = f"{ob.describe()} no longer allowed (was {was}, now {now})"
                problems.append(f"{_where(path)}: {reason}")
                continue
            # With several same-kind alternatives (e.g. a union of two models) the old
            # branch is fine if any of them accepts it; otherwise report the closest.
            best: list[str] | None = None
            for nb in candidates:
                found = self._compare_branch(ob, nb, path, seen)
                if best is None or len(found) < len(best):
                    best = found
                if not best:
                    break
            problems.extend(best or [])
        return problems

    def _compare_branch(self, ob: _Branch, nb: _Branch, path: str, seen: frozenset[tuple[str, str]]) -> list[str]:
        if ob.ref and nb.ref:
            if (ob.ref, nb.ref) in seen:
                return []  # a recursive model: this pair is already being compared higher up
            seen = seen | {(ob.ref, nb.ref)}
        if ob.kind == "never" or (nb.kind == "any" and ob.kind != "any" and not _has_assertions(nb.schema)):
            return []  # nothing was accepted before, or everything is now
        old, new = ob.schema, nb.schema
        where = _where(path)
        problems: list[str] = []

        new_format, old_format = new.get("format"), old.get("format")
        if new_format is not None and new_format != old_format:
            if old_format is None:
                problems.append(f"{where}: format added ({new_format})")
            else:
                problems.append(f"{where}: format changed from {old_format} to {new_format}")

        problems += [f"{where}: {r}" for r in _values_narrowed(old, new)]
        problems += [f"{where}: {r}" for r in _constraints_tightened(old, new)]

        if ob.kind == "object" or "properties" in old or "properties" in new:
            problems += self._compare_object(old, new, path, seen)
        if ob.kind == "array":
            problems += self._compare_array(old, new, path, seen)
        return problems

    def _compare_object(self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]) -> list[str]:
        problems: list[str] = []
        old_props: Schema = old.get("properties", {})
        new_props: Schema = new.get("properties", {})
        old_required = set(old.get("required", []))
        new_required = set(new.get("required", []))
        for name, old_prop in old_props.items():
            child = _prop_path(path, name)
            if name not in new_props:
                problems.append(f"{child}: property removed")
                continue
            problems += self.compare(old_prop, new_props[name], child, seen)
            if name in new_required and name not in old_required:
                problems.append(f"{child}: changed from optional to required")
        for name in sorted(new_required - old_required - set(old_props)):
            problems.append(f"{_prop_path(path, name)}: new required property")

        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        extra_path = _sub_path(path, "additionalProperties")
        if old_extra is False or new_extra is True or new_extra == {}:
            pass  # was closed already, or is (still) open
        elif new_extra is False:
            problems.append(f"{extra_path}: tightened from {_fmt(old_extra)} to false")
        elif old_extra is True or old_extra == {}:
            problems.append(f"{extra_path}: tightened from true to a schema")
        else:
            problems += self.compare(old_extra, new_extra, extra_path, seen)
        return problems

    def _compare_array(self, old: Schema, new: Schema, path: str, seen: frozenset[tuple[str, str]]) -> list[str]:
        problems: list[str] = []
        old_prefix: list[Schema] = old.get("prefixItems", [])
        new_prefix: list[Schema] = new.get("prefixItems", [])
        for i, old_item in enumerate(old_prefix):
            if i < len(new_prefix):
                problems += self.compare(old_item, new_prefix[i], f"{path}[{i}]", seen)
        old_items, new_items = old.get("items"), new.get("items")
        if isinstance(new_items, dict):
            if isinstance(old_items, dict):
                problems += self.compare(old_items, new_items, f"{path}[]", seen)
            elif _has_assertions(new_items):
                problems.append(f"{_where(path)}: items restricted by a schema")
        elif new_items is False and old_items is not False:
            problems.append(f"{_where(path)}: additional items no longer allowed")
        return problems


def _has_assertions(schema: Schema) -> bool:
    annotations = {"title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly"}
    return any(k not in annotations and not k.startswith("x-") for k in schema)


def _values_narrowed(old: Schema, new: Schema) -> list[str]:
    old_values, new_values = _values(old), _values(new)
    if new_values is None:
        return []
    if old_values is None:
        return [
            f"{'const' if 'const' in new else 'enum'} added ({_fmt(new_values if 'enum' in new else new['const'])})"
        ]
    removed = [v for v in old_values if v not in new_values]
    if not removed:
        return []
    if "const" in old and "const" in new:
        return [f"const changed from {_fmt(old['const'])} to {_fmt(new['const'])}"]
    return [f"enum values removed: {_fmt(removed)}"]


def _constraints_tightened(old: Schema, new: Schema) -> list[str]:
    problems: list[str] = []
    for key in _UPPER_BOUNDS:
        if isinstance(new.get(key), (int, float)):
            if key not in old:
                problems.append(f"{key} added ({_fmt(new[key])})")
            elif new[key] < old[key]:
                problems.append(f"{key} lowered from {_fmt(old[key])} to {_fmt(new[key])}")
    for key in _LOWER_BOUNDS:
        if isinstance(new.get(key), (int, float)):
            if key not in old:
                problems.append(f"{key} added ({_fmt(new[key])})")
            elif new[key] > old[key]:
                problems.append(f"{key} raised from {_fmt(old[key])} to {_fmt(new[key])}")
    problems += _bound_tightened(old, new, "maximum", "exclusiveMaximum", upper=True)
    problems += _bound_tightened(old, new, "minimum", "exclusiveMinimum", upper=False)

    for key in ("pattern", "multipleOf"):
        if key in new and new[key] != old.get(key):
            if key not in old:
                problems.append(f"{key} added ({_fmt(new[key])})")
            elif key == "multipleOf" and _is_multiple(old[key], new[key]):
                pass  # every multiple of the old step is a multiple of the new one
            else:
                problems.append(f"{key} changed from {_fmt(old[key])} to {_fmt(new[key])}")
    if new.get("uniqueItems") is True and old.get("uniqueItems") is not True:
        problems.append("uniqueItems added")
    return problems


def _is_multiple(old_step: float, new_step: float) -> bool:
    if new_step == 0:
        return False
    ratio = old_step / new_step
    return abs(ratio - round(ratio)) < 1e-9


def _bound(schema: Schema, inclusive: str, exclusive: str, upper: bool) -> tuple[float, bool, str] | None:
    """The effective bound: (value, is_exclusive, keyword), the tighter one if both are set."""
    found: list[tuple[float, bool, str]] = []
    for key, excl in ((inclusive, False), (exclusive, True)):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            found.append((value, excl, key))
    if not found:
        return None
    # Tightest: smallest upper bound (exclusive first on a tie), largest lower bound.
    if upper:
        return min(found, key=lambda b: (b[0], not b[1]))
    return max(found, key=lambda b: (b[0], b[1]))


def _bound_tightened(old: Schema, new: Schema, inclusive: str, exclusive: str, *, upper: bool) -> list[str]:
    new_bound = _bound(new, inclusive, exclusive, upper)
    if new_bound is None:
        return []
    old_bound = _bound(old, inclusive, exclusive, upper)
    value, excl, key = new_bound
    if old_bound is None:
        return [f"{key} added ({_fmt(value)})"]
    old_value, old_excl, old_key = old_bound
    tighter = value < old_value if upper else value > old_value
    if tighter:
        verb = "lowered" if upper else "raised"
        if key == old_key:
            return [f"{key} {verb} from {_fmt(old_value)} to {_fmt(value)}"]
        return [f"{key} {verb} from {old_key} {_fmt(old_value)} to {key} {_fmt(value)}"]
    if value == old_value and excl and not old_excl:
        return [f"{key} tightened from {old_key} {_fmt(old_value)} to {key} {_fmt(value)}"]
    return []


def _resolve(schema: Schema, root: Schema) -> tuple[Schema, str | None]:
    """Follow ``$ref`` (and ``allOf``, merged shallowly) to the schema it names; keep sibling keywords."""
    ref: str | None = None
    for _ in range(64):  # a chain of refs longer than this is a cycle of pure aliases
        if "$ref" in schema:
            ref = schema["$ref"]
            target = _pointer(root, ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
        elif isinstance(schema.get("allOf"), list):
            merged: Schema = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                resolved, part_ref = _resolve(part, root)
                ref = ref or part_ref
                merged = {**resolved, **merged}
            schema = merged
        else:
            return schema, ref
    raise ValueError(f"$ref cycle at {ref!r}")


def _pointer(root: Schema, ref: str) -> Schema:
    if not ref.startswith("#"):
        raise ValueError(f"cannot resolve $ref {ref!r}: only references inside the document are supported")
    node: Any = root
    for raw in ref[1:].split("/")[1:]:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise ValueError(f"cannot resolve $ref {ref!r}")
    if not isinstance(node, dict):
        raise ValueError(f"$ref {ref!r} does not point to a schema")
    return node


def _branches(schema: Schema | bool, root: Schema) -> list[_Branch]:
    if isinstance(schema, bool):  # `true` accepts anything, `false` nothing
        return [_Branch({}, None)] if schema else [_Branch({"not": {}}, None, kind="never")]
    resolved, ref = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        members = resolved.get(key)
        if isinstance(members, list):
            return [b for member in members for b in _branches(member, root)]
    declared = resolved.get("type")
    if isinstance(declared, list):
        return [_Branch({**resolved, "type": t}, ref) for t in declared]
    return [_Branch(resolved, ref)]
