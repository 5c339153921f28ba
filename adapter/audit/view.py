"""The AuditEvent as a caller other than a service client may see it.

An organisation's client searches the events about its own data (policy rule
`audit-about-own-organisation`); an event can also name other organisations' resources (one
search returns several practices' Tasks), so those are cut here:

* agents: kept (who asked, for whom, why: that is the point of the trail);
* organisation entities: only those in `own`;
* resource entities: only those whose owner is in `own` (ownerless ones are dropped: whose they
  are cannot be told);
* the request entity: dropped, its path and query can name any organisation's resource ids;
* security entities (deciding Consents and rules): all kept. Tier Consents are public, and a
  contract Consent names its holder, who asked: nothing the caller could not already learn.

If anything was cut the view carries the v3-ObservationValue REDACTED label.
"""
from __future__ import annotations

import copy

from mappings.names import coding

from .event import entity_ods, entity_owner, is_organisation_entity, is_resource_entity, is_security_entity

V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
REDACTED = coding(V3_OBSERVATION_VALUE, "REDACTED", "redacted")


def _visible(entity: dict, own: frozenset[str]) -> bool:
    if is_organisation_entity(entity):
        return entity_ods(entity) in own
    if is_resource_entity(entity):
        return entity_owner(entity) in own
    return is_security_entity(entity)


def audit_view(principal, event: dict, own: frozenset[str]) -> dict:
    """A deep copy of `event` cut to what `principal` may see; `own` = the caller's organisation
    and, for a PCN, ICB or federation, its member practices (the caller computes it)."""
    view = copy.deepcopy(event)
    if getattr(principal, "role", None) == "service":
        return view
    entities = [e for e in view.get("entity") or [] if isinstance(e, dict)]
    kept = [e for e in entities if _visible(e, own)]
    if len(kept) == len(view.get("entity") or []):
        return view
    if kept:
        view["entity"] = kept
    else:
        view.pop("entity", None)
    meta = view.setdefault("meta", {})
    security = meta.setdefault("security", [])
    if not any(s.get("system") == REDACTED["system"] and s.get("code") == REDACTED["code"] for s in security):
        security.append(dict(REDACTED))
    return view
