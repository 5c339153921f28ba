"""Validation of every resource written to the server against FHIR R4 (4.0.1).

    issues = validate_resource(resource)   # [] when valid

Two passes: the fhir.resources R4B models (models.py), and the R4 rules generated from the
official definitions (structure.py: element names, JSON types, cardinality, primitive
formats, required bindings, reference targets). merge.py decides which model errors add
something. Issues use http://hl7.org/fhir/issue-type codes; never raises for bad input.
"""
from __future__ import annotations

from adapter.outcomes import Issue

from .merge import model_issues_to_keep
from .model_cache import is_pure_json
from .models import model_errors
from .rules import get_rules
from .structure import check_structure

__all__ = ["validate_resource"]


def validate_resource(resource: dict) -> list[Issue]:
    if not isinstance(resource, dict):
        return [Issue("error", "structure", "not a FHIR resource: expected a JSON object")]
    rules = get_rules()
    rtype = resource.get("resourceType")
    if rtype is None:
        return [Issue("error", "invalid", "resourceType is missing", ("resourceType",))]
    if rules.resource(rtype) is None:
        return [Issue("error", "invalid", f"{rtype!r} is not an R4 resource type",
                      ("resourceType",))]
    try:
        pure = is_pure_json(resource)  # once for both passes' caches
        issues = check_structure(resource, rules, pure_json=pure)
        issues += model_issues_to_keep(resource, model_errors(resource, pure_json=pure), issues, rules)
    except RecursionError:
        return [Issue("error", "too-costly", "resource is nested too deeply to validate", (rtype,))]
    return issues
