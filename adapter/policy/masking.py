"""The view a caller is served (HAPI's willSeeResource): masks applied to a copy, never the input.

- `staff` (policy "Personal data"): contained Practitioner/PractitionerRole removed, every
  reference to them replaced by the organisation the PractitionerRole names (the practice, or
  the PCN/ICB owning an action; the resource's owner when none), `note` and the narrative
  removed (the mappers write no narrative; a client's may name staff, and regenerating it is
  not the policy's job). Label REDACTED.
- `impact` (fhir-conventions.md: "gets the Task with output masked"): `Task.output` removed.
  Label MASKED, the caveat the conventions use for what the data-use policy withholds (as for
  suppressed aggregate groups); REDACTED stays the caveat of removed personal data.

A label is added whenever its mask applies, whether or not the resource held anything to
remove: its presence would otherwise tell that there was a named author or an impact.
"""
from __future__ import annotations

import orjson

from mappings.names import org_ref, ref_ods

from .codes import MASKED, REDACTED, V3_OBSERVATION_VALUE
from .decisions import MASK_IMPACT, MASK_STAFF, can_see
from .grants import Grants
from .resources import owner

STAFF_TYPES = ("Practitioner", "PractitionerRole")
_LABEL = {MASK_STAFF: REDACTED, MASK_IMPACT: MASKED}
_DISPLAY = {REDACTED: "redacted", MASKED: "masked"}


def will_see(principal, grants: Grants, resource: dict, masks: tuple[str, ...] | None = None) -> dict:
    """The resource as `principal` may be served it. `masks` defaults to can_see's; pass a
    verdict's masks to avoid deciding twice. Call only for resources can_see allowed."""
    if masks is None:
        masks = can_see(principal, grants, resource).masks
    # Copy on write: a new top level, and a new copy of each node on the way to a change (meta,
    # the subtrees holding a staff reference); what no mask touches is shared with the input,
    # which is never changed. A deep copy of a whole QuestionnaireResponse cost more than the masks.
    view = dict(resource)
    if not masks:
        return view
    if MASK_STAFF in masks:
        _remove_staff(view)
    if MASK_IMPACT in masks:
        view.pop("output", None)
    for mask in masks:
        _label(view, _LABEL[mask])
    return view


def _remove_staff(view: dict) -> None:
    fallback = owner(view)
    replacement: dict[str, str | None] = {}  # "#local id" -> the ODS code of its organisation, or None
    kept = []
    for contained in view.get("contained") or []:
        if isinstance(contained, dict) and contained.get("resourceType") in STAFF_TYPES:
            replacement[f"#{contained.get('id')}"] = ref_ods(contained.get("organization")) or fallback
        else:
            kept.append(contained)
    if kept:
        view["contained"] = kept
    else:
        view.pop("contained", None)
    view.pop("note", None)
    view.pop("text", None)
    if replacement:
        _replace_references(view, replacement)


def _replace_references(root: dict, replacement: dict[str, str | None]) -> None:
    """Every Reference to a removed contained resource becomes its organisation's reference
    (or goes, when there is none); walks lists and objects, not the kept contained resources'
    own ids.

    Why it is fast: the resource's JSON is searched once (at C speed) for the local references,
    and the walk ends as soon as each occurrence found there has been replaced: a mapped
    response's only staff reference is its top-level `author`, replaced without entering the
    answer tree. While occurrences remain (a reference deeper down, or the same text elsewhere,
    e.g. in a `display`), only subtrees whose own JSON holds one are entered, each copied first
    (copy on write)."""
    markers = [orjson.dumps(reference) for reference in replacement]
    text = orjson.dumps(root)
    remaining = sum(text.count(marker) for marker in markers)

    def holds(value) -> bool:
        text = orjson.dumps(value)
        return any(marker in text for marker in markers)

    def entered(container, key, value):
        copied = dict(value) if isinstance(value, dict) else list(value)
        container[key] = copied
        return copied

    stack = [root]  # every node on the stack is the view's own copy
    while stack and remaining:
        node = stack.pop()
        # This node's own references first (they may be all there is); lists backwards, so that
        # a deletion does not shift the positions still to visit.
        for slot in (list(reversed(range(len(node)))) if isinstance(node, list) else list(node)):
            value = node[slot]
            if isinstance(value, dict) and value.get("reference") in replacement:
                remaining -= 1
                ods = replacement[value["reference"]]
                if ods is None:
                    del node[slot]
                else:
                    node[slot] = org_ref(ods)
        if remaining:
            for slot in (range(len(node)) if isinstance(node, list) else list(node)):
                value = node[slot]
                if isinstance(value, (dict, list)) and holds(value):
                    stack.append(entered(node, slot, value))


def _label(view: dict, code: str) -> None:
    security = (view.get("meta") or {}).get("security") or []
    if not any(c.get("system") == V3_OBSERVATION_VALUE and c.get("code") == code for c in security):
        label = {"system": V3_OBSERVATION_VALUE, "code": code, "display": _DISPLAY[code]}
        view["meta"] = {**(view.get("meta") or {}), "security": [*security, label]}
