"""Validation against our profiles and extensions, and the full check the server runs.

    validate_profiles(resource) -> list[Issue]   # our profiles in meta.profile + our extensions
    validate_all(resource)      -> list[Issue]   # base R4 validation + the above

A `meta.profile` of ours (https://fhir.dandthub.co.uk/StructureDefinition/...) is enforced; one
we do not define is an error (a client claims conformance we cannot check); any other profile
(UK Core, HL7, ...) is ignored without an issue. Never raises for bad input.
"""
from __future__ import annotations

from adapter.outcomes import Issue
from adapter.validation import validate_resource

from .definitions import SD_PREFIX, get_definitions
from .extensions import check_extensions
from .walker import Walk

__all__ = ["validate_profiles", "validate_all"]


def validate_profiles(resource: dict) -> list[Issue]:
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return []  # the base validator says why
    definitions = get_definitions()
    rtype = resource["resourceType"]
    issues: list[Issue] = []
    meta = resource.get("meta")
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    for i, canonical in enumerate(claimed if isinstance(claimed, list) else ()):
        if not isinstance(canonical, str) or not canonical.startswith(SD_PREFIX):
            continue
        url, _, version = canonical.partition("|")
        definition = definitions.get(url)
        where = (f"{rtype}.meta.profile[{i}]",)
        if definition is None or definition.kind != "resource" or (version and version != definition.version):
            issues.append(Issue("error", "not-found", f"profile {canonical} is not defined by this server",
                                where))
        elif definition.type != rtype:
            issues.append(Issue("error", "invalid", f"profile {canonical} is for {definition.type} "
                                f"resources, not {rtype}", where))
        else:
            Walk(definition, resource, issues).value(definition.root, resource, rtype)
    check_extensions(resource, definitions, issues)
    return list(dict.fromkeys(issues))  # an identical issue once (Issue is a frozen dataclass)


def validate_all(resource: dict) -> list[Issue]:
    """What a write and `$validate` check: R4 itself, then our profiles and extensions."""
    issues = validate_resource(resource)
    if not isinstance(resource, dict):
        return issues
    # An element both R4 and a profile require is reported once, by R4.
    seen = {(i.severity, i.code, i.expression) for i in issues}
    return issues + [i for i in validate_profiles(resource)
                     if (i.severity, i.code, i.expression) not in seen]
