"""usage.ndjson <-> MeasureReport and contracts.ndjson <-> Consent, field by field, both ways."""
from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapter.validation import validate_resource
from mappings.contract import check_contract, contract_to_consent, fhir_to_contract
from mappings.names import (CS_CONSENT_POLICY, CS_CONSENT_SCOPE, CS_DATA_TYPE, CS_GRANULARITY, CS_USAGE_METRIC,
                            EXT_AUDIENCE_ROLE, EXT_CONTRACT_STATUS, ID_CONTRACT, ID_USAGE, MEASURE_REPORT_SUBJECT,
                            ODS, PROFILE)
from mappings.schemas import load_record
from mappings.types import dict_lookup
from mappings.usage import check_usage, fhir_to_usage, usage_to_measure_report

PACKAGE = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"


def rows(file: str) -> list[dict]:
    return [orjson.loads(line) for line in (PACKAGE / file).read_bytes().splitlines() if line.strip()]


def lookup():
    return dict_lookup(organisations=[load_record("organisation", r)[0] for r in rows("organisations.ndjson")])


def usages() -> dict[str, dict]:
    return {r["organisation"]: load_record("usage", r)[0] for r in rows("usage.ndjson")}


def contracts() -> dict[str, dict]:
    return {r["id"]: load_record("contract", r)[0] for r in rows("contracts.ndjson")}


def ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def test_usage_report_fields():
    report = usage_to_measure_report(usages()["A81001"], "dthub-test", lookup())
    assert report["id"] == "usage-A81001-2026-10"
    assert report["meta"]["profile"] == [PROFILE["MeasureReport"]]
    assert report["identifier"] == [{"system": ID_USAGE, "value": "A81001-2026-10"}]
    assert report["extension"] == [{"url": MEASURE_REPORT_SUBJECT, "valueReference": ref("A81001")}]
    assert "subject" not in report and "date" not in report
    assert (report["status"], report["type"]) == ("complete", "individual")
    assert report["measure"] == "https://fhir.dandthub.co.uk/Measure/usage"
    assert report["reporter"] == {"display": "D&T Hub"}
    assert report["period"] == {"start": "2026-10-01", "end": "2026-10-31"}
    groups = {g["code"]["coding"][0]["code"]: g for g in report["group"]}
    assert groups["logins"]["code"]["coding"][0]["system"] == CS_USAGE_METRIC
    assert groups["logins"]["measureScore"] == {"value": 41}
    assert groups["logins"]["population"][0]["count"] == 1
    assert list(groups) == ["active_users", "logins", "assessments_started", "assessments_completed",
                            "actions_created", "actions_completed"]


@pytest.mark.parametrize("ods,level", [("A81001", "practice"), ("U89141", "pcn"), ("QHM", "icb")])
def test_usage_labels_carry_the_organisation_level(ods, level):
    report = usage_to_measure_report(usages()[ods], "s", lookup())
    assert [(c["system"], c["code"]) for c in report["meta"]["security"]][:2] == [
        (CS_DATA_TYPE, "usage"), (CS_GRANULARITY, level)]


def test_february_period_and_missing_metrics():
    report = usage_to_measure_report(usages()["QHM"], "s", lookup())
    assert report["period"] == {"start": "2026-02-01", "end": "2026-02-28"}
    assert [g["code"]["coding"][0]["code"] for g in report["group"]] == ["active_users", "logins"]


@pytest.mark.parametrize("ods", ["A81001", "U89141", "QHM"])
def test_usage_round_trip_and_valid_fhir(ods):
    native = usages()[ods]
    report = usage_to_measure_report(native, "s", lookup())
    assert fhir_to_usage(report) == native
    assert [i for i in validate_resource(report) if i.severity in ("error", "fatal")] == []


def test_usage_rules():
    assert check_usage({"organisation": "FED01", "period": "2026-10"}, lookup())[0][0] == "organisation"
    assert "not known" in check_usage({"organisation": "Z99999", "period": "2026-10"}, lookup())[0][1]


def test_consent_fields():
    consent = contract_to_consent(contracts()["C-FED01-2026"], "dthub-test")
    assert consent["id"] == "C-FED01-2026" and consent["identifier"] == [{"system": ID_CONTRACT,
                                                                           "value": "C-FED01-2026"}]
    assert consent["meta"]["profile"] == [PROFILE["Consent"]]
    assert consent["status"] == "inactive"
    assert consent["extension"] == [{"url": EXT_CONTRACT_STATUS, "valueCode": "suspended"}]
    assert consent["scope"] == {"coding": [{"system": CS_CONSENT_SCOPE, "code": "data-use-agreement"}]}
    assert consent["category"][0]["coding"][0]["code"] == "IDSCL"
    assert consent["policyRule"] == {"coding": [{"system": CS_CONSENT_POLICY, "code": "data-use-policy"}]}
    assert consent["organization"] == [ref("FED01")]
    provision = consent["provision"]
    assert provision["type"] == "permit" and provision["period"] == {"start": "2026-04-01", "end": "2027-03-31"}
    assert provision["actor"] == [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                                        "code": "GRANTEE", "display": "grantee"}]},
                                   "reference": ref("FED01")}]
    assert provision["data"] == [{"meaning": "related", "reference": ref("A81001")}]
    assert provision["extension"] == [{"url": EXT_AUDIENCE_ROLE, "valueCode": "federation"}]


def test_covers_null_has_no_data_and_active_is_active():
    consent = contract_to_consent(contracts()["C-QHM-2026"], "s")
    assert "data" not in consent["provision"] and consent["status"] == "active"


@pytest.mark.parametrize("contract_id", ["C-QHM-2026", "C-FED01-2026", "C-U89141-2025"])
def test_contract_round_trip_and_valid_fhir(contract_id):
    native = contracts()[contract_id]
    consent = contract_to_consent(native, "s")
    assert fhir_to_contract(consent) == native
    assert [i for i in validate_resource(consent) if i.severity in ("error", "fatal")] == []


@pytest.mark.parametrize("change,field,reason", [
    ({"holder": "U89141"}, "holder", "is a PCN, not an ICB"),
    ({"holder": "Q99"}, "holder", "not known"),
    ({"kind": "federation", "holder": "FED01"}, "covers", "must list the practices"),
    ({"covers": []}, "covers", "an empty list"),
    ({"covers": ["U89141"]}, "covers[0]", "is a PCN, not a practice"),
    ({"start": "2027-04-01"}, "end", "before it starts"),
])
def test_contract_rules(change, field, reason):
    native = {**contracts()["C-QHM-2026"], **change}
    problems = check_contract(native, lookup())
    assert [(f, r) for f, r in problems if f == field and reason in r], problems
