"""Parsing search parameters into an immutable SearchQuery (FHIR R4 search.html)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..outcomes import error
from .parameters import DATE, REFERENCE, SPECIAL, STRING, TOKEN, URI, SearchParam, params_for

RESULT_PARAMS = ("_count", "_sort", "_total", "_summary", "_elements", "_include", "_revinclude")
IGNORED_PARAMS = ("_format", "_pretty")
PAGING_PARAMS = ("_getpages", "_getpagesoffset")  # a stored search's page, not a criterion
MODIFIERS = {
    TOKEN: {"not", "text", "missing"},
    URI: {"missing"},
    STRING: {"exact", "contains", "missing"},
    DATE: {"missing"},
    REFERENCE: {"identifier", "missing", "below"},  # plus a resource type (`subject:Organization`)
}
_SPLIT = re.compile(r"(?<!\\),")


@dataclass(frozen=True)
class Criterion:
    """One parameter's OR-list of values; several Criteria are ANDed."""

    param: str
    type: str
    modifier: str | None
    values: tuple[str, ...]
    chain: "Chain | None" = None
    has: "Has | None" = None


@dataclass(frozen=True)
class Chain:
    target_types: tuple[str, ...]
    inner: Criterion


@dataclass(frozen=True)
class Has:
    source_type: str
    reference_param: str
    inner: Criterion


@dataclass(frozen=True)
class Include:
    source_type: str
    param: str  # "*" for every reference parameter
    target_type: str | None
    iterate: bool


@dataclass(frozen=True)
class SearchQuery:
    resource_type: str
    criteria: tuple[Criterion, ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (param, descending)
    count: int = 50
    total: str = "accurate"
    summary: str | None = None
    elements: str | None = None
    includes: tuple[Include, ...] = ()
    revincludes: tuple[Include, ...] = ()
    unknown: tuple[str, ...] = ()


def split_values(raw: str) -> tuple[str, ...]:
    return tuple(v.replace("\\,", ",") for v in _SPLIT.split(raw) if v != "")


def _param_type(resource_type: str, name: str) -> tuple[str, SearchParam | None] | None:
    if name in SPECIAL:
        return SPECIAL[name], None
    param = params_for(resource_type).get(name)
    return (param.type, param) if param else None


def _criterion(resource_type: str, key: str, raw: str, unknown: list[str]) -> Criterion | None:
    if key.startswith("_has:"):
        parts = key.split(":", 3)
        if len(parts) != 4:
            raise error(400, "invalid", f"{key}: _has needs the form _has:Type:reference:parameter")
        _, source, ref_param, inner_key = parts
        ref = params_for(source).get(ref_param)
        if ref is None or ref.type != REFERENCE:
            unknown.append(key)
            return None
        inner = _criterion(source, inner_key, raw, unknown)
        if inner is None:
            return None
        return Criterion(key, REFERENCE, None, (), has=Has(source, ref_param, inner))
    head, dot, tail = key.partition(".")
    name, _, modifier = head.partition(":")
    found = _param_type(resource_type, name)
    if found is None:
        unknown.append(key)
        return None
    type_, param = found
    if dot:  # a chain: subject.partof=..., subject:Organization.identifier=...
        if "." in tail:
            raise error(400, "not-supported", f"{key}: chains are supported one level deep")
        if type_ != REFERENCE:
            raise error(400, "invalid", f"{key}: only reference parameters can be chained")
        targets = (modifier,) if modifier else param.targets
        targets = tuple(t for t in targets if _param_type(t, tail.partition(":")[0]))
        if not targets:
            unknown.append(key)
            return None
        inner = _criterion(targets[0], tail, raw, unknown)
        if inner is None:
            return None
        if inner.chain or inner.has:
            raise error(400, "not-supported", f"{key}: chains are supported one level deep")
        return Criterion(name, REFERENCE, None, (), chain=Chain(targets, inner))
    if modifier and modifier not in MODIFIERS.get(type_, set()) and not (type_ == REFERENCE and modifier[:1].isupper()):
        raise error(400, "invalid", f"{key}: the modifier :{modifier} is not supported for {type_} parameters")
    if modifier == "below" and name != "partof":
        raise error(400, "not-supported", f"{key}: :below is supported on Organization.partof only")
    values = split_values(raw)
    if not values:
        raise error(400, "invalid", f"{key} has no value")
    if modifier == "missing" and raw not in ("true", "false"):
        raise error(400, "invalid", f"{key} must be true or false")
    return Criterion(name, type_, modifier or None, values)


def _count(raw: str | None, default: int, cap: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise error(400, "invalid", "_count must be a whole number", expression=["_count"])
    return min(int(raw), cap)


def _includes(resource_type: str, key: str, raw_values: list[str], reverse: bool) -> tuple[Include, ...]:
    out = []
    for raw in raw_values:
        iterate = key.endswith(":iterate") or key.endswith(":recurse")
        if raw == "*":
            out.append(Include(resource_type if not reverse else "*", "*", None, iterate))
            continue
        parts = raw.split(":")
        if len(parts) not in (2, 3):
            raise error(400, "invalid", f"{key}={raw}: use Type:parameter[:TargetType] or *")
        source, param = parts[0], parts[1]
        if param != "*":
            ref = params_for(source).get(param)
            if ref is None or ref.type != REFERENCE:
                raise error(400, "invalid", f"{key}={raw}: {source} has no reference parameter {param}")
        out.append(Include(source, param, parts[2] if len(parts) == 3 else None, iterate))
    return tuple(out)


def parse_search(resource_type: str, params: tuple[tuple[str, str], ...], *, default_count: int = 50,
                 max_count: int = 1000) -> SearchQuery:
    criteria, unknown, includes, revincludes = [], [], [], []
    by_key: dict[str, list[str]] = {}
    for key, value in params:
        by_key.setdefault(key, []).append(value)
    sort: list[tuple[str, bool]] = []
    for key, values in by_key.items():
        base = key.split(":")[0]
        if base in IGNORED_PARAMS or key in PAGING_PARAMS:
            continue
        if base == "_include":
            includes.extend(_includes(resource_type, key, values, False))
        elif base == "_revinclude":
            revincludes.extend(_includes(resource_type, key, values, True))
        elif key == "_sort":
            for item in (v for raw in values for v in raw.split(",") if v):
                name = item.lstrip("-")
                found = _param_type(resource_type, name)
                if found is None or found[0] not in (TOKEN, URI, STRING, DATE, REFERENCE):
                    raise error(400, "invalid", f"_sort: {resource_type} cannot be sorted by {name!r}")
                sort.append((name, item.startswith("-")))
        elif key in ("_count", "_total", "_summary", "_elements"):
            continue
        else:
            for value in values:  # a repeated parameter ANDs
                crit = _criterion(resource_type, key, value, unknown)
                if crit:
                    criteria.append(crit)
    total = (by_key.get("_total") or ["accurate"])[-1]
    if total not in ("none", "estimate", "accurate"):
        raise error(400, "invalid", "_total must be none, estimate or accurate")
    summary = (by_key.get("_summary") or [None])[-1]
    if summary not in (None, "true", "false", "text", "data", "count"):
        raise error(400, "invalid", "_summary must be true, false, text, data or count")
    return SearchQuery(resource_type, tuple(criteria), tuple(sort),
                       _count((by_key.get("_count") or [None])[-1], default_count, max_count), total, summary,
                       (by_key.get("_elements") or [None])[-1], tuple(includes), tuple(revincludes),
                       tuple(dict.fromkeys(unknown)))
