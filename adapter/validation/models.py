"""Validation with the fhir.resources R4B models, errors translated into Issues.

fhir.resources has no R4 package, so R4B is the closest model; where R4 and R4B differ the
R4 rules (structure.py) decide and the caller drops the model's opinion (see __init__).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pydantic import ValidationError

from adapter.outcomes import Issue

from . import model_cache

_MISSING = {"missing", "model_field_validation.missing"}
_FIELD = re.compile(r"_?[A-Za-z][A-Za-z0-9_]*$").match


@dataclass(frozen=True)
class ModelError:
    issue: Issue
    loc: tuple
    kind: str  # "extra" | "missing" | "type" | "value"


@lru_cache(maxsize=None)
def _model_class(resource_type: str):
    from fhir.resources.R4B import get_fhir_model_class

    model_cache.install()
    try:
        return get_fhir_model_class(resource_type)
    except Exception:  # not an R4B type (e.g. R4's MedicinalProduct): nothing to check with
        return None


def _kind(error_type: str) -> str:
    if error_type == "extra_forbidden":
        return "extra"
    if error_type in _MISSING:
        return "missing"
    if error_type.endswith("_type") or error_type in ("model_attributes_type", "dict_type"):
        return "type"
    return "value"


_CODES = {"extra": "invalid", "missing": "required", "type": "invalid", "value": "value"}


def fields_of(loc: tuple) -> tuple:
    """The loc without pydantic's own segments (union tags, validator names)."""
    return tuple(p for p in loc if type(p) is int or (type(p) is str and _FIELD(p)))


def expression(resource_type: str, loc: tuple) -> str:
    out = [resource_type]
    for p in fields_of(loc):
        if type(p) is int:
            out.append(f"[{p}]")
        else:
            out.append("." + (p[1:] if p.startswith("_") else p))
    return "".join(out)


def model_errors(resource: dict, *, pure_json: bool | None = None) -> list[ModelError]:
    """`pure_json`: whether `resource` is pure JSON, if the caller knows (else found here)."""
    rtype = resource.get("resourceType")
    cls = _model_class(rtype) if type(rtype) is str else None
    if cls is None:
        return []
    try:
        with model_cache.nested_cache(resource, pure_json):  # the model is discarded: sharing is safe
            cls.model_validate(resource)
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            kind = _kind(err["type"])
            loc = tuple(err["loc"])
            msg = err["msg"]
            if kind == "missing" and loc:
                msg = f"{loc[-1]} is required"
            out.append(ModelError(Issue("error", _CODES[kind], f"R4B model: {msg}",
                                        (expression(rtype, loc),)), loc, kind))
        return out
    except (RecursionError, MemoryError):
        raise
    except Exception:
        # The models raise other exceptions on shapes they cannot dispatch (e.g. a contained
        # resource of a type unknown to R4B); the R4 structure check reports those precisely.
        return []
    return []
