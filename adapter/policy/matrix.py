"""`$policy-matrix`: a caller's grants as an R4 Parameters resource (fhir-conventions.md).

One `grant` parameter per data type x level, always all eighteen (an empty scope says "not
granted" as plainly as a full one says "granted"), each with parts:
  data-type (valueCoding), level (valueCoding),
  scope: parts `count` (valueInteger: practices reached) and one `practice` (valueReference,
         with the ODS identifier) per practice reached, in ODS order; for the baseline and
         service tiers, which reach every practice, `all` (valueBoolean true) and the count of
         practices known today instead of listing them all (thousands, for every caller),
  source: one valueReference per deciding Consent (tier, then contract), none when not granted.
Before them: the caller (`client-id`, `role`, `organization` when it has one, `purpose`) and
the `date` the grants were judged on.
"""
from __future__ import annotations

from mappings.names import org_ref

from .codes import CS_AUDIENCE_ROLE, CS_DATA_TYPE, CS_GRANULARITY, DATA_TYPES, LEVELS, V3_ACT_REASON
from .grants import Grants
from .hierarchy import Hierarchy
from .scope import is_all


def _scope_part(grants: Grants, data_type: str, level: str, hierarchy: Hierarchy) -> dict:
    scope = grants.scope(data_type, level)
    if is_all(scope):
        parts = [{"name": "count", "valueInteger": len(hierarchy.practices)}, {"name": "all", "valueBoolean": True}]
    else:
        parts = [{"name": "count", "valueInteger": len(scope)}]
        parts += [{"name": "practice", "valueReference": org_ref(ods)} for ods in sorted(scope)]
    return {"name": "scope", "part": parts}


def policy_matrix(principal, grants: Grants, hierarchy: Hierarchy | None = None) -> dict:
    hierarchy = hierarchy or grants.hierarchy
    parameters: list[dict] = [{"name": "client-id", "valueString": principal.client_id},
                              {"name": "role", "valueCoding": {"system": CS_AUDIENCE_ROLE, "code": principal.role}}]
    if principal.org:
        parameters.append({"name": "organization", "valueReference": org_ref(principal.org)})
    parameters += [{"name": "purpose", "valueCoding": {"system": V3_ACT_REASON, "code": principal.purpose}},
                   {"name": "date", "valueDate": grants.today.isoformat()}]
    for data_type in DATA_TYPES:
        for level in LEVELS:
            parts = [{"name": "data-type", "valueCoding": {"system": CS_DATA_TYPE, "code": data_type}},
                     {"name": "level", "valueCoding": {"system": CS_GRANULARITY, "code": level}},
                     _scope_part(grants, data_type, level, hierarchy)]
            parts += [{"name": "source", "valueReference": {"reference": ref}}
                      for ref in grants.sources(data_type, level)]
            parameters.append({"name": "grant", "part": parts})
    return {"resourceType": "Parameters", "parameter": parameters}
