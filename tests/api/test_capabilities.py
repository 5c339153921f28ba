"""The CapabilityStatement tells the truth: each listed interaction works, each unlisted one is refused."""
from __future__ import annotations

import pytest

from tests.examples import audit_event, writable_examples
from tests.helpers import post_json, put_json

ALL = ("read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type")


def _example(resource_type: str, client) -> dict:
    if resource_type == "AuditEvent":
        return audit_event()
    if resource_type in writable_examples():
        return writable_examples()[resource_type]
    return None


def _exercise(client, resource_type: str, interaction: str) -> int:
    """Perform the interaction on a resource of the type; return the HTTP status."""
    example = _example(resource_type, client)
    if example is not None and "id" in example:
        put_json(client, f"/fhir/{resource_type}/{example['id']}", example)
        rid = example["id"]
    elif example is not None:
        rid = post_json(client, f"/fhir/{resource_type}", example).get_json()["id"]
        example = example | {"id": rid}
    else:  # read-only type: use what ships, if anything does
        bundle = client.get(f"/fhir/{resource_type}/_history").get_json()
        if not bundle.get("entry"):
            pytest.skip(f"no {resource_type} ships yet")
        example = bundle["entry"][0]["resource"]
        rid = example["id"]
    path = f"/fhir/{resource_type}/{rid}"
    if interaction == "read":
        return client.get(path).status_code
    if interaction == "vread":
        return client.get(f"{path}/_history/1").status_code
    if interaction == "update":
        return put_json(client, path, example).status_code
    if interaction == "delete":
        return client.delete(path).status_code
    if interaction == "history-instance":
        return client.get(f"{path}/_history").status_code
    if interaction == "history-type":
        return client.get(f"/fhir/{resource_type}/_history").status_code
    if interaction == "search-type":
        return client.get(f"/fhir/{resource_type}?_id={rid}").status_code
    if interaction == "create":
        return post_json(client, f"/fhir/{resource_type}", {k: v for k, v in example.items() if k != "id"}).status_code
    raise AssertionError(interaction)


def _listed(client) -> dict[str, set[str]]:
    statement = client.get("/fhir/metadata").get_json()
    rest = statement["rest"][0]
    return {r["type"]: {i["code"] for i in r["interaction"]} for r in rest["resource"]}


def test_every_listed_interaction_works_and_every_unlisted_one_is_refused(client):
    listed = _listed(client)
    assert set(listed) >= {"Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Consent", "Measure",
                           "MeasureReport", "AuditEvent", "Provenance", "CodeSystem", "ValueSet",
                           "StructureDefinition", "OperationDefinition", "SearchParameter"}
    for resource_type, interactions in listed.items():
        for interaction in ALL:
            try:
                status = _exercise(client, resource_type, interaction)
            except pytest.skip.Exception:
                continue
            if interaction in interactions:
                assert status < 300, (resource_type, interaction, status)
            else:
                assert status == 405, (resource_type, interaction, status)


def test_every_listed_search_parameter_is_served_and_accepted(client):
    statement = client.get("/fhir/metadata").get_json()
    for entry in statement["rest"][0]["resource"]:
        for param in entry["searchParam"]:
            definition = client.get(f"/fhir/SearchParameter?url={param['definition']}").get_json()
            assert definition.get("total", 0) >= 1, param["definition"]
            value = {"token": "x", "string": "x", "date": "2026", "reference": "Organization/x", "uri": "http://x"}[param["type"]]
            response = client.get(f"/fhir/{entry['type']}?{param['name']}={value}", headers={"Prefer": "handling=strict"})
            assert response.status_code == 200, (entry["type"], param["name"], response.get_json())
        for include in entry["searchInclude"]:
            assert client.get(f"/fhir/{entry['type']}?_include={include}").status_code == 200, include


def test_statement_declares_r4_formats_and_system_history(client):
    statement = client.get("/fhir/metadata").get_json()
    assert statement["fhirVersion"] == "4.0.1" and statement["kind"] == "instance"
    assert {"application/fhir+json", "application/fhir+xml"} <= set(statement["format"])
    assert {"code": "history-system"} in statement["rest"][0]["interaction"]
    assert client.get("/fhir/_history").status_code == 200


def test_statement_advertises_the_ics_integration(client):
    """Bulk export as a system operation (and the Bulk Data statement it instantiates), Subscription
    with its rest-hook channel, and push in the REST documentation (push is a client of another server)."""
    statement = client.get("/fhir/metadata").get_json()
    rest = statement["rest"][0]
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    assert "export" in {o["name"] for o in rest["operation"]}
    subscription = next(r for r in rest["resource"] if r["type"] == "Subscription")
    assert "rest-hook" in subscription["documentation"]
    assert {"create", "read", "search-type"} <= {i["code"] for i in subscription["interaction"]}
    assert "dthub push" in rest["documentation"] and "$export" in rest["documentation"]
