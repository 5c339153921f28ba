"""Every failure is an OperationOutcome with the right 4xx (or a traceless 500), in the negotiated format."""
from __future__ import annotations

import json
import logging

import pytest

from adapter import create_app
from tests.conftest import authorised_client, close_app, make_config
from tests.helpers import FHIR_JSON, organization, post_json, put_json, task


def _issue(response) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def test_unparseable_json_is_400_structure_and_nothing_is_stored(client):
    response = client.put("/fhir/Organization/A81001", data=b'{"resourceType": "Organization",',
                          headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    assert _issue(response)["code"] == "structure"
    assert client.get("/fhir/Organization/A81001").status_code == 404


@pytest.mark.parametrize("body", [b"[]", b'"text"', b'{"name": "no type"}'])
def test_a_body_that_is_not_a_resource_is_400(client, body):
    response = client.post("/fhir/Organization", data=body, headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400


def test_body_of_another_type_than_the_url_is_400(client):
    response = put_json(client, "/fhir/Organization/A-1", task("A-1"))
    assert response.status_code == 400
    assert "Task" in _issue(response)["diagnostics"]


def test_update_whose_body_id_differs_or_is_missing_is_400(client):
    assert put_json(client, "/fhir/Organization/A81002", organization("A81001")).status_code == 400
    body = organization()
    del body["id"]
    assert put_json(client, "/fhir/Organization/A81001", body).status_code == 400


def test_invalid_id_in_url_is_400(client):
    response = put_json(client, "/fhir/Organization/bad_id", organization("bad_id"))
    assert response.status_code == 400


def test_invalid_resource_is_422_and_nothing_is_stored(client):
    bad = task("A-1")
    del bad["status"]
    response = put_json(client, "/fhir/Task/A-1", bad)
    assert response.status_code == 422
    assert _issue(response)["code"] in ("required", "invalid")
    assert client.get("/fhir/Task/A-1").status_code == 404


def test_code_outside_the_r4_required_binding_is_422(client):
    response = put_json(client, "/fhir/Task/A-1", task("A-1") | {"status": "finished"})
    assert response.status_code == 422
    assert any("status" in " ".join(i.get("expression", [])) for i in response.get_json()["issue"])


def test_wrongly_typed_primitive_is_422(client):
    response = put_json(client, "/fhir/Organization/A81001", organization() | {"active": "yes"})
    assert response.status_code == 422


def test_unsupported_resource_type_is_404(client):
    response = client.get("/fhir/Patient/123")
    assert response.status_code == 404
    assert _issue(response)["code"] == "not-supported"
    assert put_json(client, "/fhir/Patient/1", {"resourceType": "Patient", "id": "1"}).status_code == 404


def test_unsupported_method_is_405_with_allow(client):
    response = client.post("/fhir/Organization/A81001", data=b"{}", headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]
    assert _issue(response)["code"] == "not-supported"


def test_patch_is_answered_405(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    response = client.patch("/fhir/Organization/A81001", data=b'[{"op": "remove", "path": "/name"}]',
                            headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 405
    assert client.get("/fhir/Organization/A81001").get_json()["name"]


def test_unknown_route_is_404_outcome(client):
    response = client.get("/fhir/Organization/A1/extra/parts/here")
    assert response.status_code == 404
    assert _issue(response)["code"] == "not-found"


def test_body_over_the_limit_is_413(database_url, client_key):
    app = create_app(make_config(database_url, max_body_bytes=2048))
    client = authorised_client(app, client_key)
    big = organization() | {"alias": ["x" * 100] * 50}
    response = put_json(client, "/fhir/Organization/A81001", big)
    assert response.status_code == 413
    assert _issue(response)["code"] == "too-long"
    close_app(app)


def test_deeply_nested_json_is_refused_cleanly(client):
    nested = "[" * 5000 + "]" * 5000
    response = client.put("/fhir/Organization/A81001", data=('{"resourceType":"Organization","x":' + nested + "}").encode(),
                          headers={"Content-Type": FHIR_JSON})
    assert response.status_code == 400
    moderately = {"resourceType": "Organization", "id": "A81001", "extension": []}
    node = moderately
    for _ in range(100):
        child = {"url": "http://x", "extension": []}
        node.setdefault("extension", []).append(child)
        node = child
    response = put_json(client, "/fhir/Organization/A81001", moderately)
    assert response.status_code == 400
    assert "deeper" in _issue(response)["diagnostics"]


def test_unsupported_content_type_is_415_and_unacceptable_accept_is_406(client):
    response = client.put("/fhir/Organization/A81001", data=json.dumps(organization()),
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    no_type = client.put("/fhir/Organization/A81001", data=json.dumps(organization()))
    assert no_type.status_code == 415
    refused = client.get("/fhir/metadata", headers={"Accept": "text/html"})
    assert refused.status_code == 406
    assert refused.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/metadata?_format=turtle").status_code == 406
    old = client.get("/fhir/metadata", headers={"Accept": "application/fhir+json; fhirVersion=3.0"})
    assert old.status_code == 406


def test_unexpected_exception_is_a_500_outcome_with_request_id_and_no_trace(app, client, caplog, monkeypatch):
    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["dthub"].repo, "read", explode)
    with caplog.at_level(logging.ERROR, logger="dthub.http"):
        response = client.get("/fhir/Organization/A81001", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    issue = _issue(response)
    assert issue["code"] == "exception"
    assert "req-42" in issue["diagnostics"] and response.get_json()["id"] == "req-42"
    assert "secret internals" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert any("req-42" in record.getMessage() for record in caplog.records)


def test_errors_follow_the_negotiated_format(client):
    response = client.get("/fhir/Organization/NOPE", headers={"Accept": "application/fhir+xml"})
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/fhir+xml")
    assert b"<OperationOutcome" in response.data
    routing = client.get("/fhir/a/b/c/d", headers={"Accept": "application/fhir+xml"})
    assert routing.status_code == 404 and b"<OperationOutcome" in routing.data


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/fhir/metadata", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"] == "abc-1"
    generated = client.get("/fhir/metadata", headers={"X-Request-ID": "bad id with spaces"}).headers["X-Request-ID"]
    assert generated and " " not in generated


def test_healthz_reports_the_store(client, app, monkeypatch):
    assert client.get("/healthz").status_code == 200

    def down():
        raise OSError("store down")

    monkeypatch.setattr(app.extensions["dthub"].repo, "ping", down)
    assert client.get("/healthz").status_code == 503
