"""Decision points (HAPI's consent service, house-style.md): pure functions returning immutable
`Verdict`s. They never raise for bad input and never abort: the interaction acts on the verdict.

    can_see(principal, grants, resource, target_visible=None)  -> Verdict   (before paging/serving)
    start_check(principal, interaction, resource_type)         -> Verdict   (before any data is touched)
    can_write(principal, before, after, tiers=None)            -> Verdict   (each write, old and new body)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from adapter.resource_types import READ_ONLY
from mappings.names import MEASURE_URL, ref_ods

from .codes import DATA_TYPES, ID_CLIENT, OPERATIONAL_PURPOSES
from .contracts import is_contract_consent
from .grants import Grants
from .overrides import Override
from .resources import GOVERNED, PUBLIC, data_types, level_label, owner, required_data_types, subscription_owner
from .scope import is_all
from .tiers import Tiers, shipped_tiers

MASK_STAFF = "staff"    # practice staff's personal data removed (label REDACTED)
MASK_IMPACT = "impact"  # Task.output removed: no Impact Summary at practice level (label MASKED)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str                       # for the audit trail
    source: str                       # the deciding Consent ("Consent/<id>") or rule ("rule:<name>")
    masks: tuple[str, ...] = ()       # what will_see removes
    sources: tuple[str, ...] = ()     # every Consent that decided (tier and contract)

    def __bool__(self) -> bool:
        return self.allowed


def _allow(reason: str, source: str, masks: tuple[str, ...] = (), sources: tuple[str, ...] = ()) -> Verdict:
    return Verdict(True, reason, source, masks, sources or (source,))


def _refuse(reason: str, source: str) -> Verdict:
    return Verdict(False, reason, source, (), (source,))


# -- can_see ---------------------------------------------------------------------------------

def can_see(principal, grants: Grants, resource: dict,
            target_visible: Callable[[str], bool] | None = None) -> Verdict:
    try:
        return _can_see(principal, grants, resource, target_visible)
    except (AttributeError, TypeError, KeyError, ValueError):  # malformed input: fail closed, never abort
        return _refuse("the resource is malformed and cannot be judged", "rule:malformed")


def _can_see(principal, grants: Grants, resource: dict, target_visible: Callable[[str], bool] | None) -> Verdict:
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if rtype in PUBLIC:
        return _allow("public reference data: every authenticated caller may read it", "rule:public-reference-data")
    if rtype in GOVERNED:
        return _governed(principal, grants, resource)
    if rtype == "Consent":
        return _consent(principal, grants, resource)
    if rtype == "AuditEvent":
        return _audit_event(principal, resource)
    if rtype == "Provenance":
        return _provenance(principal, resource, target_visible)
    if rtype == "Subscription":
        return _subscription(principal, resource)
    return _refuse(f"{rtype or 'this resource'} is not served under the data-use policy", "rule:deny-by-default")


def _governed(principal, grants: Grants, resource: dict) -> Verdict:
    rtype, ods, needed = resource["resourceType"], owner(resource), required_data_types(resource)
    if not needed or not ods:
        # Unlabelled or ownerless governed data cannot be judged: only the vendor's service sees it.
        if principal.role == "service" and principal.purpose in OPERATIONAL_PURPOSES:
            return _allow(f"{rtype} without data-type label or owner: service delivery only", "rule:unlabelled-data")
        return _refuse(f"{rtype} carries no data-type label or owner organisation", "rule:unlabelled-data")
    level = "practice"
    if rtype == "MeasureReport":
        kind = grants.hierarchy.kind(ods)
        level = level_label(resource) or (kind if kind in ("icb", "pcn") else "practice")
    if level == "practice":
        return _practice_level(grants, resource, ods, needed)
    return _group_level(grants, resource, ods, needed, level)


def _practice_level(grants: Grants, resource: dict, ods: str, needed: list[str]) -> Verdict:
    sources: list[str] = []
    deciding = None
    for data_type in needed:
        grant = grants.deciding(data_type, "practice", ods)
        if grant is None:
            return _refuse(f"no grant of {data_type} at practice level over {ods}", "rule:no-grant")
        deciding = deciding or grant.contract or grant.tier  # a contract decides over its tier's table
        sources += grant.sources
    masks: list[str] = []
    if resource["resourceType"] in ("QuestionnaireResponse", "Task") and not grants.sees_staff(needed[0], ods):
        masks.append(MASK_STAFF)
    if (resource["resourceType"] == "Task" and "impact-summary" in data_types(resource)
            and not grants.covers("impact-summary", "practice", ods)):
        masks.append(MASK_IMPACT)
    return _allow(f"{', '.join(needed)} at practice level over {ods}", deciding, tuple(masks),
                  tuple(dict.fromkeys(sources)))


def _group_level(grants: Grants, resource: dict, ods: str, needed: list[str], level: str) -> Verdict:
    """A stored PCN's or ICB's report (the organisation's own monthly usage row, or a `summary`
    report someone stored) needs the level over all its practices *and* Practice-level rights over
    each of them: only then would $evaluate-measure serve that aggregate for any period with
    nothing suppressed (data-use-policy.md "Reporting periods", "Small numbers"). Every other
    caller gets its aggregates from the operation, quarter by quarter, with suppression."""
    members = grants.hierarchy.practices_of(ods)
    sources: list[str] = []
    for data_type in needed:
        scope = grants.scope(data_type, level)
        if not (is_all(scope) or bool(members) and members <= scope):
            return _refuse(f"no grant of {data_type} at {level} level over {ods}", "rule:no-grant")
        practice = grants.scope(data_type, "practice")
        if not (is_all(practice) or bool(members) and members <= practice):
            return _refuse(f"{data_type} of {ods} is served to this caller only as an aggregate "
                           "(Measure/$evaluate-measure): not every practice of it is visible at practice level",
                           "rule:aggregate-only")
        sources += [s for g in grants.grants(data_type, level) if is_all(g.scope) or members & g.scope
                    for s in g.sources]
    sources = list(dict.fromkeys(sources))
    return _allow(f"{', '.join(needed)} at {level} level over {ods}", sources[0], (), tuple(sources))


def named_in_consent(resource: dict) -> tuple[set[str], set[str]]:
    """(organisations, client ids) a Consent names: its `organization` and its provisions' actors."""
    orgs = {ref_ods(o) for o in resource.get("organization") or []}
    clients: set[str] = set()
    stack = [resource.get("provision") or {}]
    while stack:
        provision = stack.pop()
        for actor in provision.get("actor") or []:
            ref = actor.get("reference") or {}
            ident = ref.get("identifier") or {}
            if ident.get("system") == ID_CLIENT:
                clients.add(ident.get("value"))
            orgs.add(ref_ods(ref))
        stack += provision.get("provision") or []
    return orgs - {None}, clients - {None}


def refrains_reuse(principal) -> bool:
    """Whether what `principal` is served carries the NOREUSE refrain: everything governed that
    leaves for anyone but the vendor's own service (conventions: handling caveats)."""
    return principal.role != "service"


def serving(principal) -> bool:
    """A service client acting for service delivery. Like the service tier itself, its view of
    every Consent, the whole audit trail and every Provenance holds only for the operational
    purposes: for marketing it is any other organisation's client (data-use-policy.md, "Purpose of use")."""
    return principal.role == "service" and principal.purpose in OPERATIONAL_PURPOSES


def _consent(principal, grants: Grants, resource: dict) -> Verdict:
    ref = f"Consent/{resource.get('id')}"
    if resource.get("id") in grants.tier_ids:
        return _allow("a tier of the data-use policy: public to every caller", ref)
    if serving(principal):
        return _allow("service clients see every Consent", "rule:service")
    orgs, clients = named_in_consent(resource)
    if (principal.org and principal.org in orgs) or principal.client_id in clients:
        return _allow("the Consent names the caller (holder or actor)", ref)
    return _refuse("the Consent does not name the caller", "rule:consent-not-named")


def _audit_event(principal, resource: dict) -> Verdict:
    """An AuditEvent is about the organisations its `entity.what` names (ODS identifier or a
    literal Organization/<ods> reference): the audit writer records one such entity per
    organisation whose data was accessed. The requesting agent alone does not make it visible:
    a refused access's record would tell the caller what exists."""
    if serving(principal):
        return _allow("service clients see the whole audit trail", "rule:service")
    about = {ref_ods(e.get("what")) for e in resource.get("entity") or [] if isinstance(e, dict)} - {None}
    if principal.org and principal.org in about:
        return _allow(f"an access to data about {principal.org}", "rule:audit-about-own-organisation")
    return _refuse("the AuditEvent is not about the caller's organisation", "rule:audit-about-own-organisation")


def _provenance(principal, resource: dict, target_visible: Callable[[str], bool] | None) -> Verdict:
    if serving(principal):
        return _allow("service clients see every Provenance", "rule:service")
    targets = [t.get("reference") for t in resource.get("target") or [] if isinstance(t, dict)]
    if not targets or None in targets or target_visible is None:
        return _refuse("a Provenance is visible only when each of its targets can be checked",
                       "rule:provenance-targets")
    hidden = [t for t in targets if not target_visible(t)]
    if hidden:
        return _refuse(f"target {hidden[0]} is not visible to the caller", "rule:provenance-targets")
    return _allow("every target is visible to the caller", "rule:provenance-targets")


def _subscription(principal, resource: dict) -> Verdict:
    """A Subscription is its creating client's alone, whatever the caller's role: its channel
    headers may hold the endpoint's secrets (issue 8)."""
    if principal.client_id and subscription_owner(resource) == principal.client_id:
        return _allow("the caller's own Subscription", "rule:subscription-owner")
    return _refuse("a Subscription is visible only to the client that created it", "rule:subscription-owner")


# -- writes ----------------------------------------------------------------------------------

READS = frozenset({"read", "vread", "history-instance", "history-type", "history-system", "search-type",
                   "search-system", "operation", "capabilities"})
WRITES = frozenset({"create", "update", "patch", "delete"})
BUNDLES = frozenset({"batch", "transaction"})  # each entry is checked as its own interaction
PRACTICE_WRITABLE = ("QuestionnaireResponse", "Task")


def start_check(principal, interaction: str, resource_type: str | None) -> Verdict:
    if interaction in READS:
        return _allow("reads are narrowed per resource (can_see)", "rule:read")
    if interaction in BUNDLES:
        return _allow("each entry of a batch or transaction is checked on its own", "rule:bundle")
    if interaction not in WRITES:
        return _refuse(f"unknown interaction {interaction!r}", "rule:deny-by-default")
    if resource_type is None or resource_type in READ_ONLY:
        return _refuse(f"{resource_type or 'the system'} is read-only: it ships with the adapter", "rule:read-only")
    if resource_type == "AuditEvent" and interaction != "create":
        return _refuse("the audit trail only grows", "rule:append-only")
    if resource_type == "Subscription":  # any client may subscribe; notifications are judged as it may see
        return _allow("a client manages its own Subscriptions", "rule:subscription-owner")
    if principal.purpose not in OPERATIONAL_PURPOSES:
        return _refuse(f"writing is an operation: purpose {principal.purpose} does not allow it", "rule:write-purpose")
    if principal.role == "service":
        return _allow("service delivery writes", "rule:service-writes")
    if principal.role == "practice" and resource_type in PRACTICE_WRITABLE:
        return _allow(f"a practice writes its own {resource_type}s (checked per resource)", "rule:own-practice-writes")
    return _refuse(f"a {principal.role} client may not write {resource_type}", "rule:writers")


def can_write(principal, before: dict | None, after: dict | None, tiers: Tiers | None = None) -> Verdict:
    try:
        return _can_write(principal, before, after, tiers or shipped_tiers())
    except (AttributeError, TypeError, KeyError, ValueError):  # malformed input: fail closed, never abort
        return _refuse("the resource is malformed and cannot be judged", "rule:malformed")


def _can_write(principal, before: dict | None, after: dict | None, tiers: Tiers) -> Verdict:
    bodies = [r for r in (before, after) if isinstance(r, dict)]
    types = {r.get("resourceType") for r in bodies}
    if not bodies or len(types) != 1:
        return _refuse("a write has one resource type", "rule:deny-by-default")
    rtype = types.pop()
    interaction = "create" if before is None else ("delete" if after is None else "update")
    verdict = start_check(principal, interaction, rtype)
    if not verdict.allowed:
        return verdict
    if rtype == "Consent":
        return _consent_write(before, after, tiers)
    if rtype == "Subscription":
        if all(subscription_owner(body) == principal.client_id for body in bodies):
            return verdict
        return _refuse("a Subscription is written only by the client that owns it", "rule:subscription-owner")
    if rtype == "Measure" and any(_is_shipped_measure(body) for body in bodies):
        return _refuse("the six Measures ship with the adapter: they change only with a release", "rule:read-only")
    if principal.role == "service":
        return verdict
    for body in bodies:  # a practice, QuestionnaireResponse or Task: before and after are its own
        if owner(body) is None or owner(body) != principal.org:
            return _refuse(f"{rtype} of {owner(body) or 'no practice'} is not the caller's own practice's",
                           "rule:own-practice-writes")
    if after is not None and not required_data_types(after):
        return _refuse(f"a {rtype} carries its data-type label ({'actions' if rtype == 'Task' else 'assessment'})",
                       "rule:own-practice-writes")
    return _allow(f"the practice's own {rtype}", "rule:own-practice-writes")


def _is_shipped_measure(body: dict) -> bool:
    """One of the six shipped Measures, by id or by its canonical URL (a copy under another id
    would make the canonical ambiguous)."""
    return body.get("id") in DATA_TYPES or str(body.get("url") or "").split("|")[0] in {
        MEASURE_URL + m for m in DATA_TYPES}


def _consent_write(before: dict | None, after: dict | None, tiers: Tiers) -> Verdict:
    for body in (before, after):
        if body is None:
            continue
        if body.get("id") in tiers.ids:
            return _refuse("tier Consents are read-only: they change only with a release", f"Consent/{body.get('id')}")
        if is_contract_consent(body):
            return _refuse("a contract's Consent is owned by the import of that contract",
                           "rule:contract-owned-by-import")
    # Any status may be written (an override is withdrawn by making it inactive), in the one shape.
    if after is not None and Override.from_consent({**after, "status": "active"}) is None:
        return _refuse("service clients write override Consents only (see adapter/policy/overrides.py)",
                       "rule:override-shape")
    return _allow("an override Consent", "rule:service-writes")
