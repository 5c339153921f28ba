"""$validate and the terminology operations over HTTP; each advertised operation answers."""
from __future__ import annotations

import pytest

from tests.helpers import organization, post_json, put_json

B = "https://fhir.dandthub.co.uk"
PROFILE = f"{B}/StructureDefinition/dthub-organization"


def test_validate_reports_profile_violations_without_storing(client):
    bad = organization() | {"meta": {"profile": [PROFILE]}}
    del bad["active"]  # the profile makes it 1..1
    response = post_json(client, "/fhir/Organization/$validate", bad)
    assert response.status_code == 200
    outcome = response.get_json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(i["severity"] == "error" and "active" in " ".join(i.get("expression", [])) for i in outcome["issue"])
    assert client.get("/fhir/Organization/A81001").status_code == 404
    good = post_json(client, "/fhir/Organization/$validate", organization() | {"meta": {"profile": [PROFILE]}})
    assert good.get_json()["issue"][0]["severity"] == "information"


def test_validate_takes_a_parameters_body_and_checks_stored_instances(client):
    parameters = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": organization()}]}
    assert post_json(client, "/fhir/Organization/$validate", parameters).get_json()["issue"][0]["severity"] == "information"
    put_json(client, "/fhir/Organization/A81001", organization())
    assert client.get("/fhir/Organization/A81001/$validate").get_json()["issue"][0]["severity"] == "information"
    assert client.get("/fhir/Organization/NOPE/$validate").status_code == 404
    assert post_json(client, "/fhir/Organization/$validate", {"resourceType": "Task"}).status_code == 400


def test_writes_enforce_our_profiles(client):
    bad = organization() | {"meta": {"profile": [PROFILE]}}
    del bad["active"]
    assert put_json(client, "/fhir/Organization/A81001", bad).status_code == 422
    unknown = organization() | {"meta": {"profile": [f"{B}/StructureDefinition/no-such-profile"]}}
    assert put_json(client, "/fhir/Organization/A81001", unknown).status_code == 422


def test_lookup_validate_code_and_expand(client):
    found = client.get(f"/fhir/CodeSystem/$lookup?system={B}/CodeSystem/granularity&code=pcn").get_json()
    assert found["resourceType"] == "Parameters"
    assert {"name": "display", "valueString": "PCN level"} in found["parameter"]
    assert client.get(f"/fhir/CodeSystem/$lookup?system={B}/CodeSystem/granularity&code=nope").status_code == 404
    assert client.get(f"/fhir/CodeSystem/$lookup?system=http://unknown&code=x").status_code == 404
    assert client.get("/fhir/CodeSystem/$lookup?code=x").status_code == 400
    ok = client.get(f"/fhir/ValueSet/$validate-code?url={B}/ValueSet/data-type&system={B}/CodeSystem/data-type&code=usage")
    assert {"name": "result", "valueBoolean": True} in ok.get_json()["parameter"]
    no = client.get(f"/fhir/ValueSet/$validate-code?url={B}/ValueSet/data-type&system={B}/CodeSystem/data-type&code=x")
    assert {"name": "result", "valueBoolean": False} in no.get_json()["parameter"]
    cs = client.get(f"/fhir/CodeSystem/$validate-code?url={B}/CodeSystem/granularity&code=icb").get_json()
    assert {"name": "result", "valueBoolean": True} in cs["parameter"]
    expansion = client.get(f"/fhir/ValueSet/$expand?url={B}/ValueSet/data-type&filter=assess&count=1").get_json()
    assert expansion["expansion"]["total"] == 2 and len(expansion["expansion"]["contains"]) == 1
    instance = client.get("/fhir/ValueSet/granularity/$expand").get_json()
    assert {c["code"] for c in instance["expansion"]["contains"]} == {"icb", "pcn", "practice"}
    posted = post_json(client, "/fhir/ValueSet/$expand", {"resourceType": "Parameters", "parameter": [
        {"name": "url", "valueUri": f"{B}/ValueSet/granularity"}]})
    assert posted.get_json()["expansion"]["total"] == 3


def test_terminology_operations_need_a_token(anonymous):
    assert anonymous.get(f"/fhir/ValueSet/$expand?url={B}/ValueSet/data-type").status_code == 401


def test_every_advertised_operation_definition_is_served(client):
    statement = client.get("/fhir/metadata").get_json()
    definitions = {op["definition"] for r in statement["rest"][0]["resource"] for op in r.get("operation", [])}
    assert definitions
    for url in definitions:
        assert client.get(f"/fhir/OperationDefinition?url={url}").get_json()["total"] == 1, url


@pytest.mark.parametrize("path", ["/fhir/StructureDefinition/dthub-organization", "/fhir/StructureDefinition/score",
                                  "/fhir/OperationDefinition/Resource-validate", "/fhir/CodeSystem/action-status",
                                  "/fhir/SearchParameter/MeasureReport-organization"])
def test_shipped_conformance_resources_are_served_and_conform(client, path):
    from tests.conformance import assert_conformant

    response = client.get(path)
    assert response.status_code == 200
    assert_conformant(response.get_json(), client.get(path, headers={"Accept": "application/fhir+xml"}).data)
