"""Standard clients (fhirpy, requests) against the server over real HTTP."""
from __future__ import annotations

import pytest
import requests
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from tests.helpers import organization


def test_fhirpy_creates_reads_updates_and_deletes(live_server):
    client = SyncFHIRClient(live_server.fhir, authorization=live_server.headers["Authorization"])
    org = client.resource("Organization", **organization())
    org.save()  # PUT: the id is set
    fetched = client.reference("Organization", "A81001").to_resource()
    assert fetched["name"] == "THE DENSHAM SURGERY"
    assert fetched["meta"]["versionId"] == "1"
    fetched["name"] = "RENAMED"
    fetched.save()
    assert client.reference("Organization", "A81001").to_resource()["meta"]["versionId"] == "2"
    created = client.resource("Organization", **{k: v for k, v in organization("A81002").items() if k != "id"})
    created.save()  # POST: the server assigns the id
    assert created.id and created.id != "A81002"
    fetched.delete()
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        client.reference("Organization", "A81001").to_resource()


def test_fhirpy_surfaces_validation_errors(live_server):
    client = SyncFHIRClient(live_server.fhir, authorization=live_server.headers["Authorization"])
    bad = client.resource("Task", id="A-1", intent="plan")  # no status
    with pytest.raises(OperationOutcome):
        bad.save()


def test_requests_reads_metadata_and_headers(live_server):
    response = requests.get(f"{live_server.fhir}/metadata", timeout=10)  # open without a token
    assert response.status_code == 200
    assert response.json()["fhirVersion"] == "4.0.1"
    assert response.json()["implementation"]["url"] == live_server.fhir
