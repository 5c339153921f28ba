"""`_summary` and `_elements`: trimmed views of a resource, tagged SUBSETTED (FHIR R4 search.html#summary)."""
from __future__ import annotations

from functools import lru_cache

from ..outcomes import error

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
_ALWAYS = ("resourceType", "id", "meta")
SUMMARY_MODES = ("true", "text", "data", "count", "false")


@lru_cache(maxsize=None)
def _element_flags(resource_type: str) -> tuple[frozenset, frozenset]:
    """(summary elements, mandatory elements) of a type.

    Mandatory ones come from the R4 definitions (min >= 1), so a trimmed view stays valid R4;
    the summary flags, which R4B did not change for our types, from the fhir.resources models.
    """
    from fhir.resources.R4B import get_fhir_model_class

    from ..validation.rules import get_rules

    type_rule = get_rules().resource(resource_type)
    mandatory = {name for _label, names in (type_rule.required if type_rule else ()) for name in names}
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return frozenset(), frozenset(mandatory)
    summary = {field.alias or name for name, field in model.model_fields.items()
               if (field.json_schema_extra or {}).get("summary_element_property")}
    return frozenset(summary), frozenset(mandatory)


def _json_names(resource: dict, wanted: set) -> set:
    # A primitive's extension travels as "_name"; choice elements are asked for by their base name.
    keep = set()
    for key in resource:
        base = key[1:] if key.startswith("_") else key
        if base in wanted or any(base.startswith(w) and base[len(w):len(w) + 1].isupper() for w in wanted):
            keep.add(key)
    return keep


def _points_inside(value) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith("#"):
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _tagged(resource: dict, keep: set) -> dict:
    out = {k: v for k, v in resource.items() if k in keep}
    if "contained" in resource and "contained" not in out and _points_inside(out):
        # A local reference needs its target (R4 ref-1), so the trimmed view keeps `contained`.
        out["contained"] = resource["contained"]
    meta = dict(resource.get("meta") or {})
    tags = [t for t in meta.get("tag", []) if not (t.get("system") == SUBSETTED["system"] and t.get("code") == "SUBSETTED")]
    meta["tag"] = tags + [SUBSETTED]
    out["meta"] = meta
    return out


def apply_summary(resource: dict, mode: str | None) -> dict:
    if mode is None or mode == "false":
        return resource
    if mode not in SUMMARY_MODES or mode == "count":
        raise error(400, "invalid", f"_summary={mode!r} is not supported here (true, text, data, false)",
                    expression=["_summary"])
    summary, mandatory = _element_flags(resource["resourceType"])
    if mode == "true":
        wanted = set(_ALWAYS) | summary | mandatory
    elif mode == "text":
        wanted = set(_ALWAYS) | {"text"} | mandatory
    else:  # data
        wanted = set(resource) - {"text"}
    return _tagged(resource, _json_names(resource, wanted))


def apply_elements(resource: dict, elements: str | None) -> dict:
    if not elements:
        return resource
    names = {e.strip().split(".")[-1] if "." in e and e.split(".")[0] == resource["resourceType"] else e.strip()
             for e in elements.split(",") if e.strip()}
    _, mandatory = _element_flags(resource["resourceType"])
    return _tagged(resource, _json_names(resource, set(_ALWAYS) | mandatory | names))
