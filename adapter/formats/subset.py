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
    """(summary elements, mandatory elements) of a type, from the fhir.resources R4B model metadata."""
    from fhir.resources.R4B import get_fhir_model_class

    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return frozenset(), frozenset()
    summary, mandatory = set(), set()
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra or {}
        json_name = field.alias or name
        if extra.get("summary_element_property"):
            summary.add(json_name)
        if extra.get("element_required"):
            mandatory.add(json_name)
    return frozenset(summary), frozenset(mandatory)


def _json_names(resource: dict, wanted: set) -> set:
    # A primitive's extension travels as "_name"; choice elements are asked for by their base name.
    keep = set()
    for key in resource:
        base = key[1:] if key.startswith("_") else key
        if base in wanted or any(base.startswith(w) and base[len(w):len(w) + 1].isupper() for w in wanted):
            keep.add(key)
    return keep


def _tagged(resource: dict, keep: set) -> dict:
    out = {k: v for k, v in resource.items() if k in keep}
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
