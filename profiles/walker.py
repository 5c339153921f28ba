"""Checks one resource (or one extension) against a compiled definition tree (definitions.Node).

Only what the profile constrains is visited: cardinality, fixed and pattern values, required
bindings to our ValueSets, narrowed choice types, reference targets, min/max values, slices
and invariants. The walk never raises on malformed input: shapes the base R4 validator
rejects are skipped here, so each problem is reported once, by the layer that owns it.
Issue expressions use the locations of the base validator: `Task.identifier[0].system`.
"""
from __future__ import annotations

import re

from adapter.outcomes import Issue

from .definitions import UNSET, Definition, Node

_REFERENCE_TYPE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$")


class Walk:
    __slots__ = ("resource", "source", "issues")

    def __init__(self, definition: Definition, resource: dict, issues: list[Issue]):
        self.resource = resource
        self.source = f" (profile {definition.id})" if definition.kind == "resource" else \
            f" (extension {definition.id})"
        self.issues = issues

    def add(self, code: str, loc: str, message: str, severity: str = "error") -> None:
        self.issues.append(Issue(severity, code, message + self.source, (loc,)))

    # --- one occurrence of an element ---------------------------------------------------

    def value(self, node: Node, value: object, loc: str) -> None:
        if value is None:  # a primitive given only as `_name` (id/extensions)
            return
        if node.fixed is not UNSET and not same(value, node.fixed):
            self.add("value", loc, f"{node.id} must be exactly {_show(node.fixed)}")
        if node.pattern is not UNSET and not matches(value, node.pattern):
            self.add("value", loc, f"{node.id} must match the pattern {_show(node.pattern)}")
        if node.binding is not None:
            problem = _binding_problem(node, value)
            if problem:
                self.add("value", loc, problem)
        if (node.min_value is not None or node.max_value is not None) and _is_number(value):
            if node.min_value is not None and value < node.min_value:
                self.add("value", loc, f"{node.id} must be at least {node.min_value}, got {value}")
            if node.max_value is not None and value > node.max_value:
                self.add("value", loc, f"{node.id} must be at most {node.max_value}, got {value}")
        if node.max_length is not None and isinstance(value, str) and len(value) > node.max_length:
            self.add("value", loc, f"{node.id} is longer than {node.max_length} characters")
        if node.targets is not None and isinstance(value, dict):
            problem = self._reference_problem(value, node.targets)
            if problem:
                self.add("invalid", loc, f"{node.id}: {problem}")
        for invariant in node.invariants:
            try:
                result = invariant.evaluate(value, self.resource)
            except Exception as exc:  # noqa: BLE001 - malformed data the base validator reports
                self.add("invariant", loc, f"{invariant.key}: could not be evaluated "
                         f"({type(exc).__name__})", "warning")
                continue
            if result and not all(r is True for r in result):  # empty = unknown: not a failure
                self.add("invariant", loc, f"{invariant.key}: {invariant.human}", invariant.severity)
        if node.children and isinstance(value, dict):
            self.children(node, value, loc)

    # --- the children of one object -----------------------------------------------------

    def children(self, node: Node, obj: dict, loc: str) -> None:
        for child in node.children.values():
            found = occurrences(obj, child.name)
            count = len(found)
            here = loc + child.label
            short = child.min is not None and count < child.min
            if child.max is not None and count > child.max:
                self.add("invalid", here, f"{child.id} allows at most {child.max}, found {count}")
            for key, index, item in found:
                if child.types and not _typed_as(key, child):
                    self.add("invalid", f"{loc}.{key}", f"{child.id} must be of type "
                             f"{' or '.join(child.types)}, not {key[len(child.name) - 3:]}")
                    continue  # the content of a value of the wrong type says nothing more
                self.value(child, item, _at(loc, key, index))
            slice_short = False
            if child.matchers and not (short and count == 0):
                slice_short = self.slices(child, found, loc, here)
            if short and not slice_short:  # a missing slice already says what is missing
                self.add("required", here, f"{child.id} is required: min {child.min}, found {count}")

    def slices(self, child: Node, found: list, loc: str, here: str) -> bool:
        """Sort the items into slices and check each slice; True if a slice has too few."""
        counts = dict.fromkeys(child.slices, 0)
        for key, index, item in found:
            name = slice_of(child, item)
            if name is None:
                if child.rules == "closed":
                    self.add("invalid", _at(loc, key, index),
                             f"{child.id} is closed: this item matches none of its slices "
                             f"({', '.join(child.slices)})")
                continue
            counts[name] += 1
            self.value(child.slices[name], item, _at(loc, key, index))
        short = False
        for name, sliced in child.slices.items():
            n = counts[name]
            if sliced.min is not None and n < sliced.min:
                short = True
                self.add("required", here, f"{sliced.id} ({_describe(child, name)}) is required: "
                         f"min {sliced.min}, found {n}")
            if sliced.max is not None and n > sliced.max:
                self.add("invalid", here, f"{sliced.id} ({_describe(child, name)}) allows at most "
                         f"{sliced.max}, found {n}")
        return short

    def _reference_problem(self, ref: dict, targets: frozenset) -> str | None:
        declared = ref.get("type")
        if isinstance(declared, str) and declared not in targets:
            return f"reference type {declared} is not {' or '.join(sorted(targets))}"
        target = ref.get("reference")
        if not isinstance(target, str):
            return None
        if target.startswith("#"):
            contained = self.resource.get("contained")
            kinds = [c.get("resourceType") for c in contained if isinstance(c, dict)
                     and c.get("id") == target[1:]] if isinstance(contained, list) else []
            kind = kinds[0] if kinds else None
        else:
            m = _REFERENCE_TYPE.search(target)
            kind = m.group(1) if m else None  # urn:uuid:... etc.: the type is not visible
        if kind is not None and kind not in targets:
            return f"reference {target!r} must point to {' or '.join(sorted(targets))}"
        return None


def occurrences(obj: dict, name: str) -> list[tuple[str, int, object]]:
    """(JSON key, array index or -1, value) of each occurrence; `_name`-only primitives count."""
    if name.endswith("[x]"):
        stem = name[:-3]
        n = len(stem)
        return [(k, -1, v) for k, v in obj.items()
                if k.startswith(stem) and len(k) > n and k[n].isupper()]
    value = obj.get(name)
    if value is None:
        ext = obj.get("_" + name)
        if isinstance(ext, list):
            return [(name, i, None) for i, e in enumerate(ext) if e is not None]
        return [] if ext is None else [(name, -1, None)]
    if isinstance(value, list):
        return [(name, i, item) for i, item in enumerate(value)]
    return [(name, -1, value)]


def slice_of(child: Node, item: object) -> str | None:
    if child.index is not None:
        paths, table = child.index
        key = []
        for parts in paths:
            got = item
            for part in parts:
                got = got.get(part) if isinstance(got, dict) else None
            if not isinstance(got, str):
                return None
            key.append(got)
        return table.get(tuple(key))
    for name, tests in child.matchers:
        for kind, parts, expected in tests:
            got = item
            for part in parts:
                got = got.get(part) if isinstance(got, dict) else None
            if not (same(got, expected) if kind == "value" else matches(got, expected)):
                break
        else:
            return name
    return None


def same(a: object, b: object) -> bool:
    """FHIR equality of JSON values: no bool/number confusion, 1 == 1.0."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    return type(a) is type(b) and a == b


def matches(value: object, pattern: object) -> bool:
    """FHIR pattern[x]: every element of the pattern is present (arrays: some item matches)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(value[k], p) for k, p in pattern.items())
    if isinstance(pattern, list):
        return isinstance(value, list) and all(any(matches(v, p) for v in value) for p in pattern)
    return same(value, pattern)


def _binding_problem(node: Node, value: object) -> str | None:
    if isinstance(value, str):
        return None if value in node.codes else f"code {value!r} is not in the required value set {node.binding}"
    if not isinstance(value, dict):
        return None
    if "coding" in value or "text" in value:  # CodeableConcept: one coding must be in the set
        codings = value.get("coding") if isinstance(value.get("coding"), list) else []
        if any(isinstance(c, dict) and (c.get("system"), c.get("code")) in node.pairs for c in codings):
            return None
        return f"{node.id} needs a coding from the required value set {node.binding}"
    pair = (value.get("system"), value.get("code"))
    if pair[1] is None:
        return None  # a coding without a code: its cardinality says so, if it matters
    return None if pair in node.pairs else \
        f"{pair[0]}#{pair[1]} is not in the required value set {node.binding}"


def _typed_as(key: str, child: Node) -> bool:
    """valueString -> string, valueReference -> Reference: is it one of the allowed types?"""
    suffix = key[len(child.name) - 3:]
    return suffix in child.types or suffix[:1].lower() + suffix[1:] in child.types


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and type(value) is not bool


def _at(loc: str, key: str, index: int) -> str:
    return f"{loc}.{key}" if index < 0 else f"{loc}.{key}[{index}]"


def _describe(child: Node, name: str) -> str:
    for slice_name, tests in child.matchers:
        if slice_name == name:
            return ", ".join(f"{'/'.join(p) or '$this'} = {_show(v)}" for _, p, v in tests)
    return name


def _show(value: object) -> str:
    if isinstance(value, dict) and isinstance(value.get("coding"), list):
        return " | ".join(f"{c.get('system')}#{c.get('code')}" for c in value["coding"] if isinstance(c, dict))
    return repr(value)
