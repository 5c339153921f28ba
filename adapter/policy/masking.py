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

import copy

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
    replacement: dict[str, dict | None] = {}
    kept = []
    for contained in view.get("contained") or []:
        if isinstance(contained, dict) and contained.get("resourceType") in STAFF_TYPES:
            ods = ref_ods(contained.get("organization")) or fallback
            replacement[f"#{contained.get('id')}"] = org_ref(ods) if ods else None
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


def _replace_references(root, replacement: dict[str, dict | None]) -> None:
    """Every Reference to a removed contained resource becomes its organisation's reference
    (or goes, when there is none); walks lists and objects, not the kept contained resources'
    own ids. Only subtrees whose JSON holds one of the local references are entered: a test at C
    speed, where a Python walk of a response's whole answer tree costs ~0.5 ms."""
    markers = [orjson.dumps(reference) for reference in replacement]

    def holds(value) -> bool:
        text = orjson.dumps(value)
        return any(marker in text for marker in markers)

    def entered(container, key, value):
        """The child to walk, copied into its (already copied) parent first: copy on write."""
        copied = dict(value) if isinstance(value, dict) else list(value)
        container[key] = copied
        return copied

    stack = [root]  # every node on the stack is the view's own copy
    while stack:
        node = stack.pop()
        # Lists backwards, so that a deletion does not shift the positions still to visit.
        slots = list(reversed(range(len(node)))) if isinstance(node, list) else list(node)
        for slot in slots:
            value = node[slot]
            if isinstance(value, dict) and value.get("reference") in replacement:
                if replacement[value["reference"]] is None:
                    del node[slot]
                else:
                    node[slot] = copy.deepcopy(replacement[value["reference"]])
            elif isinstance(value, (dict, list)) and holds(value):
                stack.append(entered(node, slot, value))


def _label(view: dict, code: str) -> None:
    security = (view.get("meta") or {}).get("security") or []
    if not any(c.get("system") == V3_OBSERVATION_VALUE and c.get("code") == code for c in security):
        label = {"system": V3_OBSERVATION_VALUE, "code": code, "display": _DISPLAY[code]}
        view["meta"] = {**(view.get("meta") or {}), "security": [*security, label]}
