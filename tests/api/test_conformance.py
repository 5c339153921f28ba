"""What the server emits is valid FHIR R4 by the official artefacts: JSON schema, XSD and invariants."""
from __future__ import annotations

import pytest

from tests.conformance import assert_conformant
from tests.examples import audit_event, writable_examples
from tests.helpers import FHIR_XML, post_json, put_json


def _check(client, path: str) -> dict:
    as_json = client.get(path)
    assert as_json.status_code == 200, as_json.get_data(as_text=True)
    as_xml = client.get(path, headers={"Accept": FHIR_XML})
    warnings = assert_conformant(as_json.get_json(), as_xml.data)
    if warnings:
        print(f"{path}: invariant warnings: {warnings}")
    return as_json.get_json()


@pytest.mark.parametrize("resource_type", list(writable_examples()))
def test_stored_resources_conform_in_json_and_xml(client, resource_type):
    example = writable_examples()[resource_type]
    put_json(client, f"/fhir/{resource_type}/{example['id']}", example)
    _check(client, f"/fhir/{resource_type}/{example['id']}")
    _check(client, f"/fhir/{resource_type}/{example['id']}/_history/1")
    _check(client, f"/fhir/{resource_type}/{example['id']}?_summary=true")


def test_audit_event_conforms(client):
    created = post_json(client, "/fhir/AuditEvent", audit_event()).get_json()
    _check(client, f"/fhir/AuditEvent/{created['id']}")


@pytest.mark.parametrize("path", ["/fhir/CodeSystem/data-type", "/fhir/ValueSet/granularity"])
def test_shipped_terminology_conforms(client, path):
    _check(client, path)


def test_capability_statement_conforms(client):
    _check(client, "/fhir/metadata")


def test_history_bundles_conform(client):
    for resource_type, example in writable_examples().items():
        put_json(client, f"/fhir/{resource_type}/{example['id']}", example)
    client.delete("/fhir/Task/A-000981")
    _check(client, "/fhir/_history")
    _check(client, "/fhir/Task/A-000981/_history")


def test_operation_outcomes_conform(client):
    as_json = client.get("/fhir/Organization/NOPE")
    as_xml = client.get("/fhir/Organization/NOPE", headers={"Accept": FHIR_XML})
    assert_conformant(as_json.get_json(), as_xml.data)
    invalid = put_json(client, "/fhir/Task/A-1", {"resourceType": "Task", "id": "A-1", "intent": "plan"})
    assert_conformant(invalid.get_json())
