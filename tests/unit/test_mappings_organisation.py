"""organisations.ndjson <-> Organization, field by field, both ways; the organisation rules."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapter.validation import validate_resource
from mappings.names import EXT_FEDERATION_MEMBERSHIP, EXT_LIST_SIZE, EXT_PRACTICE_ICB, ODS, PROFILE
from mappings.organisation import check_organisation, fhir_to_organisation, organisation_to_fhir
from mappings.schemas import load_record
from mappings.types import dict_lookup

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"
ODS_ROLE = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


def natives() -> dict[str, dict]:
    rows = [orjson.loads(line) for line in (PACKAGE / "organisations.ndjson").read_bytes().splitlines() if line.strip()]
    return {row["ods_code"]: load_record("organisation", row)[0] for row in rows}


def lookup():
    return dict_lookup(organisations=natives().values())


def ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def test_practice_maps_field_by_field():
    org = organisation_to_fhir(natives()["A81001"], "dthub-test")
    assert org["resourceType"] == "Organization" and org["id"] == "A81001"
    assert org["meta"] == {"source": "dthub-test", "profile": [PROFILE["Organization"]],
                           "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                                         "code": "N", "display": "normal"}]}
    assert org["identifier"] == [{"system": ODS, "value": "A81001"}]
    assert org["active"] is True
    codings = org["type"][0]["coding"]
    assert [(c["system"], c["code"]) for c in codings] == [(ODS_ROLE, "RO76"), (ORG_TYPE, "prov")]
    assert org["name"] == "THE DENSHAM SURGERY"
    assert org["address"] == [{"postalCode": "TS18 1HU"}]
    assert org["partOf"] == ref("U89141")
    assert org["extension"] == [
        {"url": EXT_PRACTICE_ICB, "valueReference": ref("QHM")},
        {"url": EXT_FEDERATION_MEMBERSHIP, "valueReference": ref("FED01")},
        {"url": EXT_LIST_SIZE, "valueInteger": 9120},
    ]


@pytest.mark.parametrize("ods,role,hl7", [("QHM", "RO318", "govt"), ("U89141", "RO272", "prov"),
                                          ("FED01", None, "prov"), ("A81003", "RO76", "prov")])
def test_each_kind_has_its_ods_role_and_hl7_type(ods, role, hl7):
    org = organisation_to_fhir(natives()[ods], "s")
    roles = [c["code"] for c in org["type"][0]["coding"] if c["system"] == ODS_ROLE]
    assert roles == ([role] if role else [])
    assert [c["code"] for c in org["type"][0]["coding"] if c["system"] == ORG_TYPE] == [hl7]


def test_optional_elements_are_left_out_when_absent():
    org = organisation_to_fhir(natives()["QHM"], "s")
    assert "partOf" not in org and "extension" not in org
    practice = organisation_to_fhir(natives()["A81003"], "s")  # no PCN, no postcode, no list size
    assert "partOf" not in practice and "address" not in practice
    assert [e["url"] for e in practice["extension"]] == [EXT_PRACTICE_ICB]


@pytest.mark.parametrize("ods", ["A81001", "A81002", "A81003", "FED01", "QHM", "U89141"])
def test_round_trip_and_valid_fhir(ods):
    native = natives()[ods]
    org = organisation_to_fhir(native, "s")
    assert fhir_to_organisation(org) == native
    assert [i for i in validate_resource(org) if i.severity in ("error", "fatal")] == []


def test_normalisations_default_active_and_drop_nulls():
    loaded, problems = load_record("organisation", {"ods_code": "A81003", "kind": "practice", "name": "X",
                                                    "parent": None, "icb": "QHM", "postcode": "  ",
                                                    "federations": []})
    assert problems == []
    assert loaded == {"ods_code": "A81003", "kind": "practice", "name": "X", "icb": "QHM", "active": True}


def test_inactive_survives_the_round_trip():
    native = {**natives()["A81002"], "active": False}
    assert organisation_to_fhir(native, "s")["active"] is False
    assert fhir_to_organisation(organisation_to_fhir(native, "s")) == native


@pytest.mark.parametrize("change,field,reason", [
    ({"ods_code": "AB1234"}, "ods_code", "not an ODS code of a practice"),
    ({"parent": "QHM"}, "parent", "QHM is an ICB, not a PCN"),
    ({"parent": "U00000"}, "parent", "U00000 is not known"),
    ({"icb": None}, "icb", "a practice needs its ICB"),
    ({"icb": "U89141"}, "icb", "U89141 is a PCN, not an ICB"),
    ({"federations": ["A81002"]}, "federations[0]", "A81002 is a practice, not a federation"),
])
def test_practice_rules(change, field, reason):
    native = {k: v for k, v in {**natives()["A81001"], **change}.items() if v is not None}
    problems = check_organisation(native, lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems


@pytest.mark.parametrize("native,field,reason", [
    ({"ods_code": "QHM", "kind": "icb", "name": "X", "parent": "QHM"}, "parent", "an ICB has no parent"),
    ({"ods_code": "U12345", "kind": "pcn", "name": "X"}, "parent", "a PCN needs its lead ICB"),
    ({"ods_code": "U12345", "kind": "pcn", "name": "X", "parent": "U89141"}, "parent", "not an ICB"),
    ({"ods_code": "U12345", "kind": "pcn", "name": "X", "parent": "QHM", "icb": "QHM"}, "icb", "only a practice"),
    ({"ods_code": "FED02", "kind": "federation", "name": "X", "list_size": 4}, "list_size", "only a practice"),
])
def test_other_kinds_rules(native, field, reason):
    problems = check_organisation({"active": True, **native}, lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems


def test_a_federation_without_icb_is_fine():
    assert check_organisation({"ods_code": "FED02", "kind": "federation", "name": "X", "active": True}, lookup()) == []
