"""Which R4B model errors to report next to the R4 structure check's issues.

The R4 rules decide wherever they know the answer (the target is R4; R4B differs in element
names, open types and codes); the model's errors are kept where the rules cannot speak (e.g.
min cardinality of primitives in resource types known only from the JSON schema) and are
dropped when they repeat an issue already reported at the same place.
"""
from __future__ import annotations

from adapter.outcomes import Issue

from .models import ModelError, fields_of
from .rules import COMPLEX, PRIMITIVE, RESOURCE, ElementRule, Rules, TypeRule


def _resolve(resource: dict, loc: tuple, rules: Rules) -> tuple[TypeRule | None, ElementRule | None]:
    """The R4 type holding the element the model complains about, and that element's rule.

    Raises LookupError inside a nested resource that is not R4 (already reported as such).
    """
    node: object = resource
    type_rule = rules.resource(resource.get("resourceType"))
    parent: TypeRule | None = None
    element: ElementRule | None = None
    pending_resource = False
    for seg in fields_of(loc):
        if type(seg) is int:
            node = node[seg] if type(node) is list and 0 <= seg < len(node) else None
        else:
            if type_rule is None:
                return None, None
            name = seg[1:] if seg.startswith("_") else seg
            parent, element = type_rule, type_rule.elements.get(name)
            if element is None:
                return parent, None
            node = node.get(seg) if type(node) is dict else None
            if seg.startswith("_"):
                type_rule = rules.element
            elif element.kind == COMPLEX:
                type_rule = element.type_rule
            else:
                type_rule = None
            pending_resource = element.kind == RESOURCE and not seg.startswith("_")
        if pending_resource and type(node) is dict:
            type_rule = rules.resource(node.get("resourceType"))
            if type_rule is None:
                raise LookupError
            pending_resource = False
    return parent, element


def _overlaps(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return long_.startswith(short) and long_[len(short)] in ".["


def model_issues_to_keep(resource: dict, errors: list[ModelError], reported: list[Issue],
                         rules: Rules) -> list[Issue]:
    kept: list[Issue] = []
    places = [e for i in reported for e in i.expression]
    for err in errors:
        where = err.issue.expression[0]
        if any(_overlaps(where, p) for p in places):
            continue
        try:
            parent, element = _resolve(resource, err.loc, rules)
        except LookupError:
            continue
        if parent is not None:
            if err.kind in ("extra", "type"):
                continue
            if err.kind == "missing" and parent.from_snapshot:
                continue
            if element is not None and element.kind == PRIMITIVE and err.kind != "missing":
                continue
        kept.append(err.issue)
        places.append(where)
    return kept
