"""Small builders the tests share: realistic resources and request headers."""
from __future__ import annotations

import json

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def organization(ods: str = "A81001", name: str = "THE DENSHAM SURGERY", partof: str | None = "U89141") -> dict:
    org = {
        "resourceType": "Organization",
        "id": ods,
        "identifier": [{"system": ODS, "value": ods}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
        "name": name,
        "address": [{"postalCode": "TS18 1HU"}],
    }
    if partof:
        org["partOf"] = {"reference": f"Organization/{partof}", "identifier": {"system": ODS, "value": partof}}
    return org


def task(id_: str = "A-000981", practice: str = "A81001") -> dict:
    return {
        "resourceType": "Task",
        "id": id_,
        "status": "in-progress",
        "businessStatus": {"text": "in-progress"},
        "intent": "plan",
        "priority": "routine",
        "description": "Appoint a digital lead",
        "for": {"reference": f"Organization/{practice}", "identifier": {"system": ODS, "value": practice}},
        "authoredOn": "2026-05-11T08:00:00Z",
        "restriction": {"period": {"end": "2026-09-30"}},
    }


def put_json(client, path: str, body: dict, **headers):
    return client.put(path, data=json.dumps(body), headers={"Content-Type": FHIR_JSON, **headers})


def post_json(client, path: str, body: dict, **headers):
    return client.post(path, data=json.dumps(body), headers={"Content-Type": FHIR_JSON, **headers})


STORE_TYPES = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "MeasureReport", "Consent")


def snapshot(repo, types=STORE_TYPES) -> dict:
    """Current resources without versionId/lastUpdated (Provenance left out: it records each run)."""
    out = {}
    for resource_type in types:
        for stored in repo.iter_current(resource_type):
            body = stored.resource()
            body["meta"] = {k: v for k, v in body["meta"].items() if k not in ("versionId", "lastUpdated")}
            out[(resource_type, stored.id)] = body
    return out
