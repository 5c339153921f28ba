"""contracts.ndjson <-> Consent.

scope `consent-scope#data-use-agreement`, category v3-ActCode IDSCL, policyRule
`consent-policy#data-use-policy`; status `active`, or `inactive` for a suspended or ended
contract, the Hub status always in the `contract-status` extension. The holder is the Consent's
`organization` and the provision's actor (v3-RoleCode GRANTEE). Each covered practice is a
provision.data (meaning `related`); `covers: null` has no `data`: "every practice beneath the
holder" is resolved by the policy engine at request time, so a practice joining later is
covered without a new import. The provision also names the tier the contract grants with
`audience-role` (icb, pcn or federation = the contract kind) and the purposes the policy allows
contract tiers (HOPERAT, HQUALIMP). Period: start and end dates (inclusive).
"""
from __future__ import annotations

from .names import (CONFIDENTIALITY_NORMAL, CS_CONSENT_POLICY, CS_CONSENT_SCOPE,
                    EXT_AUDIENCE_ROLE, EXT_CONTRACT_STATUS, ID_CONTRACT, V3_ACT_CODE, V3_ACT_REASON,
                    V3_ROLE_CODE, coding, concept, first_extension, meta, org_ref, ref_ods)
from .organisation import expect_org
from .types import Lookup, Problem


def check_contract(rec: dict, lookup: Lookup) -> list[Problem]:
    problems: list[Problem] = []
    problem = expect_org(lookup, rec["holder"], (rec["kind"],), "holder")
    problems += [problem] if problem else []
    covers = rec.get("covers")
    if covers is None and rec["kind"] == "federation":
        problems.append(("covers", "a federation's contract must list the practices it covers"))
    elif covers == []:
        problems.append(("covers", "an empty list covers no practice; null means every practice beneath the holder"))
    for i, practice in enumerate(covers or []):
        problem = expect_org(lookup, practice, ("practice",), f"covers[{i}]")
        problems += [problem] if problem else []
    if rec["end"] < rec["start"]:
        problems.append(("end", f"the contract ends ({rec['end']}) before it starts ({rec['start']})"))
    return problems


def contract_to_consent(rec: dict, source: str, _lookup: Lookup | None = None) -> dict:
    provision: dict = {
        "extension": [{"url": EXT_AUDIENCE_ROLE, "valueCode": rec["kind"]}],
        "type": "permit", "period": {"start": rec["start"], "end": rec["end"]},
        "actor": [{"role": concept(V3_ROLE_CODE, "GRANTEE", "grantee"), "reference": org_ref(rec["holder"])}],
        "purpose": [coding(V3_ACT_REASON, "HOPERAT"), coding(V3_ACT_REASON, "HQUALIMP")],
    }
    if rec.get("covers") is not None:
        provision["data"] = [{"meaning": "related", "reference": org_ref(p)} for p in rec["covers"]]
    return {
        "resourceType": "Consent", "id": rec["id"], "meta": meta("Consent", source, [CONFIDENTIALITY_NORMAL]),
        "extension": [{"url": EXT_CONTRACT_STATUS, "valueCode": rec["status"]}],
        "identifier": [{"system": ID_CONTRACT, "value": rec["id"]}],
        "status": "active" if rec["status"] == "active" else "inactive",
        "scope": concept(CS_CONSENT_SCOPE, "data-use-agreement"),
        "category": [concept(V3_ACT_CODE, "IDSCL", "information disclosure")],
        "organization": [org_ref(rec["holder"])],
        "policyRule": concept(CS_CONSENT_POLICY, "data-use-policy"),
        "provision": provision,
    }


def fhir_to_contract(consent: dict, _lookup: Lookup | None = None) -> dict:
    provision = consent.get("provision") or {}
    ident = next((i["value"] for i in consent.get("identifier") or [] if i.get("system") == ID_CONTRACT),
                 consent.get("id"))
    holder = next((ref_ods(a.get("reference")) for a in provision.get("actor") or []), None)
    status = first_extension(consent, EXT_CONTRACT_STATUS)
    rec: dict = {"id": ident, "holder": holder,
                 "kind": (first_extension(provision, EXT_AUDIENCE_ROLE) or {}).get("valueCode")}
    if "data" in provision:
        rec["covers"] = [ref_ods(d.get("reference")) for d in provision["data"]]
    hub_status = status["valueCode"] if status else ("active" if consent.get("status") == "active" else "ended")
    rec.update({"start": provision["period"]["start"], "end": provision["period"]["end"], "status": hub_status})
    return rec


def is_hub_contract(consent: dict) -> bool:
    return any(i.get("system") == ID_CONTRACT for i in consent.get("identifier") or [])


def retire_consent(consent: dict) -> dict:
    return {**consent, "status": "entered-in-error"}
