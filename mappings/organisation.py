"""organisations.ndjson <-> Organization.

Organization.type carries two codings: the ODS role (ICB RO318, PCN RO272, GP practice RO76;
a federation has no ODS role) and the HL7 organization-type (`govt` for an ICB, a statutory
NHS body; `prov` for PCNs, practices and federations, which provide care). The inverse reads the
kind from the ODS role, and a missing ODS role as a federation.
"""
from __future__ import annotations

from .names import (EXT_FEDERATION_MEMBERSHIP, EXT_LIST_SIZE, EXT_PRACTICE_ICB, HL7_ORG_TYPE, ODS, ODS_ROLE,
                    CONFIDENTIALITY_NORMAL, PROFILE, code_of, coding, extension, first_extension, meta, org_ref,
                    ref_ods)
from .schemas import ODS_BY_KIND
from .types import Lookup, Problem

ODS_ROLES = {"icb": ("RO318", "INTEGRATED CARE BOARD"), "pcn": ("RO272", "PRIMARY CARE NETWORK"),
             "practice": ("RO76", "GP PRACTICE")}
HL7_TYPES = {"icb": ("govt", "Government"), "pcn": ("prov", "Healthcare Provider"),
             "practice": ("prov", "Healthcare Provider"), "federation": ("prov", "Healthcare Provider")}
_KIND_BY_ROLE = {code: kind for kind, (code, _display) in ODS_ROLES.items()}
_KIND_NAMES = {"icb": "an ICB", "pcn": "a PCN", "practice": "a practice", "federation": "a federation"}


def missing(what: str, key: str) -> str:
    return f"{what} {key} is not known (neither earlier in this package nor in the store)"


def expect_org(lookup: Lookup, ods: str, kinds: tuple[str, ...], field: str) -> Problem | None:
    """A problem when `ods` is not a known organisation of one of `kinds`."""
    found = lookup("organisation", ods)
    if found is None:
        return field, missing("organisation", ods)
    if found["kind"] not in kinds:
        return field, f"{ods} is {_KIND_NAMES[found['kind']]}, not " + " or ".join(_KIND_NAMES[k] for k in kinds)
    return None


def check_organisation(rec: dict, lookup: Lookup) -> list[Problem]:
    kind = rec["kind"]
    problems: list[Problem] = []
    if not ODS_BY_KIND[kind].match(rec["ods_code"]):
        problems.append(("ods_code", f"{rec['ods_code']!r} is not an ODS code of {_KIND_NAMES[kind]}"))
    parent = rec.get("parent")
    if kind == "icb" and parent:
        problems.append(("parent", "an ICB has no parent"))
    elif kind == "pcn" and not parent:
        problems.append(("parent", "a PCN needs its lead ICB"))
    elif parent:
        problem = expect_org(lookup, parent, ("pcn",) if kind == "practice" else ("icb",), "parent")
        problems += [problem] if problem else []
    if kind == "practice":
        if not rec.get("icb"):
            problems.append(("icb", "a practice needs its ICB"))
        else:
            problem = expect_org(lookup, rec["icb"], ("icb",), "icb")
            problems += [problem] if problem else []
        for i, federation in enumerate(rec.get("federations") or []):
            problem = expect_org(lookup, federation, ("federation",), f"federations[{i}]")
            problems += [problem] if problem else []
    else:
        for field in ("icb", "list_size", "federations"):
            if field in rec:
                problems.append((field, "only a practice has this field"))
    return problems


def organisation_to_fhir(rec: dict, source: str, _lookup: Lookup | None = None) -> dict:
    kind = rec["kind"]
    codings = []
    if kind in ODS_ROLES:
        codings.append(coding(ODS_ROLE, *ODS_ROLES[kind]))
    codings.append(coding(HL7_ORG_TYPE, *HL7_TYPES[kind]))
    extensions = []
    if rec.get("icb"):
        extensions.append({"url": EXT_PRACTICE_ICB, "valueReference": org_ref(rec["icb"])})
    for federation in rec.get("federations") or []:
        extensions.append({"url": EXT_FEDERATION_MEMBERSHIP, "valueReference": org_ref(federation)})
    if rec.get("list_size") is not None:
        extensions.append({"url": EXT_LIST_SIZE, "valueInteger": rec["list_size"]})
    body: dict = {"resourceType": "Organization", "id": rec["ods_code"],
                  "meta": meta("Organization", source, [CONFIDENTIALITY_NORMAL])}
    if extensions:
        body["extension"] = extensions
    body.update({"identifier": [{"system": ODS, "value": rec["ods_code"]}], "active": rec.get("active", True),
                 "type": [{"coding": codings}], "name": rec["name"]})
    if rec.get("postcode"):
        body["address"] = [{"postalCode": rec["postcode"]}]
    if rec.get("parent"):
        body["partOf"] = org_ref(rec["parent"])
    return body


def kind_of(org: dict) -> str:
    role = None
    for concept_ in org.get("type") or []:
        role = role or code_of(concept_, ODS_ROLE)
    return _KIND_BY_ROLE.get(role, "federation")


def fhir_to_organisation(org: dict, _lookup: Lookup | None = None) -> dict:
    ods = next((i["value"] for i in org.get("identifier") or [] if i.get("system") == ODS), org.get("id"))
    rec: dict = {"ods_code": ods, "kind": kind_of(org), "name": org.get("name")}
    parent = ref_ods(org.get("partOf"))
    if parent:
        rec["parent"] = parent
    icb = first_extension(org, EXT_PRACTICE_ICB)
    if icb:
        rec["icb"] = ref_ods(icb.get("valueReference"))
    postcode = next((a.get("postalCode") for a in org.get("address") or [] if a.get("postalCode")), None)
    if postcode:
        rec["postcode"] = postcode
    rec["active"] = org.get("active", True)
    size = first_extension(org, EXT_LIST_SIZE)
    if size is not None:
        rec["list_size"] = size.get("valueInteger")
    federations = [ref_ods(e.get("valueReference")) for e in extension(org, EXT_FEDERATION_MEMBERSHIP)]
    if federations:
        rec["federations"] = federations
    return rec


def is_hub_organisation(org: dict) -> bool:
    """Whether a stored Organization is one the import wrote (ours to export or retire): it
    claims our profile (an ODS code alone does not make it a Hub record)."""
    return PROFILE["Organization"] in ((org.get("meta") or {}).get("profile") or [])


def retire_organisation(org: dict) -> dict:
    return {**org, "active": False}
