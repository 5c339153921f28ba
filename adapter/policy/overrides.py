"""Override Consents: how a `service` client withdraws what a tier (or a contract) grants.

Shape (validated by `Override.from_consent`; anything else is not an override and has no effect):

    {"resourceType": "Consent", "status": "active",
     "scope"/"category"/"policyRule": as every Consent of ours,
     "sourceReference": {"reference": "Consent/policy-service"},     # the tier or contract it overrides
     "provision": {
        "actor": [{"role": v3-RoleCode GRANTEE,                     # whom it applies to: a client ...
                   "reference": {"type": "Device", "identifier": {"system": ".../Id/client", "value": "<client id>"}}},
                  {"role": ..., "reference": org_ref("<ODS>")}],   # ... or every client of an organisation
        "period": {"start": ..., "end": ...},                        # optional: in force between (inclusive)
        "provision": [{"type": "deny",                               # one or more withdrawals:
                       "securityLabel": [data-type codes, granularity codes],  # none of a kind = all of it
                       "purpose": [v3-ActReason codes]}]}}           # optional: only for these purposes

`sourceReference` (R4: "the source on which this consent statement is based", Reference(Consent))
names the overridden Consent without a new extension. A withdrawal removes whole cells (data type
x level) of that source's grant; the same cell granted by another tier (e.g. the baseline) stays:
"an override wins over the tier it names". Overrides never name practices (no `provision.data`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mappings.names import concept, org_ref, ref_id, ref_ods

from .codes import (CS_CONSENT_POLICY, CS_CONSENT_SCOPE, CS_DATA_TYPE, CS_GRANULARITY, DATA_TYPES, ID_CLIENT, LEVELS,
                    PROFILE_CONSENT, PURPOSES, V3_ACT_CODE, V3_ACT_REASON, V3_ROLE_CODE)
from .contracts import parse_date


@dataclass(frozen=True)
class Withdrawal:
    data_types: frozenset[str]
    levels: frozenset[str]
    purposes: frozenset[str]


@dataclass(frozen=True)
class Override:
    id: str
    target: str                        # "Consent/<id>" of the tier or contract it overrides
    clients: frozenset[str]            # client ids it applies to
    orgs: frozenset[str]               # organisations (ODS) whose clients it applies to
    withdrawals: tuple[Withdrawal, ...]
    start: date | None = None
    end: date | None = None

    @property
    def reference(self) -> str:
        return f"Consent/{self.id}"

    @classmethod
    def from_consent(cls, consent: dict) -> "Override | None":
        """The override a Consent records, or None when it is not a well-formed active override."""
        if consent.get("resourceType") != "Consent" or consent.get("status") != "active":
            return None
        target = ref_id(consent.get("sourceReference"), "Consent")
        root = consent.get("provision") or {}
        if not target or root.get("type") or root.get("data") or not root.get("provision"):
            return None
        clients, orgs = set(), set()
        for actor in root.get("actor") or []:
            ref = actor.get("reference") or {}
            ident = ref.get("identifier") or {}
            if ident.get("system") == ID_CLIENT and ident.get("value"):
                clients.add(ident["value"])
            elif ref_ods(ref):
                orgs.add(ref_ods(ref))
            else:
                return None  # an actor we cannot match would silently apply to nobody
        withdrawals = []
        for deny in root["provision"]:
            labels = deny.get("securityLabel") or []
            data_types = {c.get("code") for c in labels if c.get("system") == CS_DATA_TYPE}
            levels = {c.get("code") for c in labels if c.get("system") == CS_GRANULARITY}
            purposes = {c.get("code") for c in deny.get("purpose") or [] if c.get("system") == V3_ACT_REASON}
            if (deny.get("type") != "deny" or deny.get("provision") or deny.get("data")
                    or len(labels) != len(data_types) + len(levels) or not data_types <= set(DATA_TYPES)
                    or not levels <= set(LEVELS) or not purposes <= set(PURPOSES)):
                return None
            withdrawals.append(Withdrawal(frozenset(data_types or DATA_TYPES), frozenset(levels or LEVELS),
                                          frozenset(purposes or PURPOSES)))
        period = root.get("period") or {}
        start, end = parse_date(period.get("start")), parse_date(period.get("end"))
        if (period.get("start") and start is None) or (period.get("end") and end is None) or not (clients or orgs):
            return None
        return cls(str(consent.get("id")), f"Consent/{target}", frozenset(clients), frozenset(orgs),
                   tuple(withdrawals), start, end)

    def applies_to(self, client_id: str, org: str | None, today: date) -> bool:
        if (self.start and today < self.start) or (self.end and today > self.end):
            return False
        return client_id in self.clients or (org is not None and org in self.orgs)

    def withdraws(self, source: str, data_type: str, level: str, purpose: str) -> bool:
        return source == self.target and any(
            data_type in w.data_types and level in w.levels and purpose in w.purposes for w in self.withdrawals)


def override_consent(id_: str, target: str, *, clients=(), orgs=(), data_types=(), levels=(), purposes=(),
                     start: date | None = None, end: date | None = None) -> dict:
    """An override Consent of the shape above, with one withdrawal (for a service client or a CLI)."""
    grantee = concept(V3_ROLE_CODE, "GRANTEE", "grantee")
    actors = [{"role": grantee, "reference": {"type": "Device", "identifier": {"system": ID_CLIENT, "value": c}}}
              for c in clients] + [{"role": grantee, "reference": org_ref(o)} for o in orgs]
    deny: dict = {"type": "deny"}
    labels = ([{"system": CS_DATA_TYPE, "code": d} for d in data_types]
              + [{"system": CS_GRANULARITY, "code": level} for level in levels])
    if labels:
        deny["securityLabel"] = labels
    if purposes:
        deny["purpose"] = [{"system": V3_ACT_REASON, "code": p} for p in purposes]
    provision: dict = {"actor": actors}
    if start or end:
        provision["period"] = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v}
    provision["provision"] = [deny]
    return {"resourceType": "Consent", "id": id_, "meta": {"profile": [PROFILE_CONSENT]}, "status": "active",
            "scope": concept(CS_CONSENT_SCOPE, "data-use-agreement"),
            "category": [concept(V3_ACT_CODE, "IDSCL", "information disclosure")],
            "policyRule": concept(CS_CONSENT_POLICY, "data-use-policy"),
            "sourceReference": {"reference": target if target.startswith("Consent/") else f"Consent/{target}"},
            "provision": provision}
