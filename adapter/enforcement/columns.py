"""The access columns of a stored version: `owner_org` and `security` (an access key).

The SQL filters (filters.py) read these instead of the JSON, so narrowing a search costs an
indexed comparison. The key says which rule of the engine (adapter.policy.decisions) judges the
resource, with exactly the inputs that rule reads:

- governed data (QuestionnaireResponse, Task, MeasureReport): `<data types>|<level>[|summary]`,
  owner = the owning organisation (policy.resources.owner);
- Consent: `consent|` + the organisations and clients it names (holder, actors);
- AuditEvent: `audit|` + the organisations it is about (entity.what);
- Provenance: `provenance` when every target is a literal reference, else `provenance-opaque`
  (visible to service clients only, as the engine decides);
- Subscription: `subscription|` + the client that created it (the server's owner tag), visible
  to that client alone, whatever its role;
- public reference data and anything else: no key.
"""
from __future__ import annotations

from mappings.names import ref_ods

from ..policy.decisions import named_in_consent
from ..policy.resources import GOVERNED, level_label, owner, required_data_types, subscription_owner

NAME_SEPARATOR = " "


def names_key(prefix: str, orgs, clients=()) -> str:
    """`prefix| org:A org:B client:c ` — separators on both sides, so LIKE '% org:A %' is exact."""
    names = [f"org:{o}" for o in sorted(orgs)] + [f"client:{c}" for c in sorted(clients)]
    return f"{prefix}|{NAME_SEPARATOR}{NAME_SEPARATOR.join(names)}{NAME_SEPARATOR}"


def governed_key(resource: dict) -> str:
    rtype = resource.get("resourceType")
    level = "practice"
    if rtype == "MeasureReport":
        level = level_label(resource) or ""
    key = f"{','.join(sorted(required_data_types(resource)))}|{level}"
    if level in ("icb", "pcn") and resource.get("type") == "summary":
        key += "|summary"
    return key


def audit_organisations(resource: dict) -> set[str]:
    return {ref_ods(e.get("what")) for e in resource.get("entity") or [] if isinstance(e, dict)} - {None}


def access_columns(resource: dict) -> tuple[str | None, str | None]:
    try:
        rtype = resource.get("resourceType")
        if rtype in GOVERNED:
            return owner(resource), governed_key(resource)
        if rtype == "Consent":
            orgs, clients = named_in_consent(resource)
            return None, names_key("consent", orgs, clients)
        if rtype == "AuditEvent":
            return None, names_key("audit", audit_organisations(resource))
        if rtype == "Provenance":
            targets = [t.get("reference") if isinstance(t, dict) else None for t in resource.get("target") or []]
            literal = bool(targets) and all(isinstance(t, str) and "/" in t and "#" not in t for t in targets)
            return None, "provenance" if literal else "provenance-opaque"
        if rtype == "Subscription":
            client_id = subscription_owner(resource)
            return None, names_key("subscription", (), [client_id] if client_id else [])
    except (AttributeError, TypeError):  # malformed: no key, so only unfiltered (service) callers see it
        return None, None
    return None, None
