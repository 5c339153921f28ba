"""Reference checks: literal references must name an allowed target type and `#id` must
resolve to a contained resource."""
from __future__ import annotations

import re

_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}", re.ASCII).fullmatch
_SD = "http://hl7.org/fhir/StructureDefinition/"


class Scope:
    """What `#...` can point at: the container's contained resources, `#` the container."""

    __slots__ = ("container_type", "contained")

    def __init__(self, container_type: str, contained: dict[str, str]):
        self.container_type = container_type
        self.contained = contained


def scope_of(resource_type: str, resource: dict) -> Scope:
    ids: dict[str, str] = {}
    contained = resource.get("contained")
    if type(contained) is list:
        for c in contained:
            if type(c) is dict and type(c.get("id")) is str and type(c.get("resourceType")) is str:
                ids[c["id"]] = c["resourceType"]
    return Scope(resource_type, ids)


def _target_of_literal(literal: str, resources: frozenset[str], scope: Scope) -> tuple[str | None, str | None]:
    """(resource type the literal reference points at, problem)."""
    if literal[0] == "#":
        if len(literal) == 1:
            return scope.container_type, None
        target = scope.contained.get(literal[1:])
        if target is None:
            return None, f"{literal!r} does not match the id of any contained resource"
        return target, None
    if literal.startswith(("urn:uuid:", "urn:oid:")):
        return None, None
    absolute = "://" in literal
    path = literal.split("?", 1)[0]
    segments = path.rstrip("/").split("/")
    if len(segments) >= 4 and segments[-2] == "_history":
        segments = segments[:-2]
    if "?" in literal and not absolute and len(segments) == 1:
        # Conditional reference (transactions): `Type?search`.
        rtype = segments[0]
        return (rtype, None) if rtype in resources else (None, f"unknown resource type {rtype!r}")
    if len(segments) < 2:
        return None, None if absolute else f"{literal!r} is not of the form Type/id"
    rtype, rid = segments[-2], segments[-1]
    if rtype not in resources:
        # An external URL need not follow the FHIR REST layout.
        return None, None if absolute else f"unknown resource type {rtype!r} in {literal!r}"
    if not absolute and _ID(rid) is None:
        return None, f"{rid!r} in {literal!r} is not a valid id"
    return rtype, None


def reference_problem(ref: dict, targets: frozenset[str] | None, scope: Scope,
                      resources: frozenset[str]) -> str | None:
    literal = ref.get("reference")
    rtype: str | None = None
    if type(literal) is str and literal:
        rtype, problem = _target_of_literal(literal, resources, scope)
        if problem:
            return problem
    declared = ref.get("type")
    if type(declared) is str:
        declared = declared[len(_SD):] if declared.startswith(_SD) else declared
        if declared in resources:
            if rtype is not None and rtype != declared:
                return f"reference points at {rtype} but type says {declared}"
            rtype = rtype or declared
    if targets is not None and rtype is not None and rtype not in targets:
        return f"a reference to {rtype} is not allowed here; allowed: {', '.join(sorted(targets))}"
    return None
