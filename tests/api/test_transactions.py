"""Batch, transaction and conditional create/update/delete over HTTP, on both stores."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conformance import assert_conformant
from tests.conftest import authorised_client
from tests.helpers import FHIR_JSON, ODS, organization, post_json, put_json, task

IDENT = f"identifier={ODS}|A81001"


def _without_id(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "id"}


def _count(client, query: str) -> int:
    return client.get(f"/fhir/{query}&_summary=count").get_json()["total"]


def _transaction(entries: list[dict], type_: str = "transaction") -> dict:
    return {"resourceType": "Bundle", "type": type_, "entry": entries}


def test_transaction_resolves_urn_uuid_references_and_answers_in_entry_order(client):
    pcn = "urn:uuid:5f0c1a8e-0000-4000-8000-000000000001"
    practice = "urn:uuid:5f0c1a8e-0000-4000-8000-000000000002"
    bundle = _transaction([
        {"fullUrl": practice, "resource": _without_id(organization("A81001", partof=None)) | {
            "partOf": {"reference": pcn}}, "request": {"method": "POST", "url": "Organization"}},
        {"fullUrl": pcn, "resource": _without_id(organization("U89141", "STOCKTON PCN", None)),
         "request": {"method": "POST", "url": "Organization"}},
        {"resource": _without_id(task("x")) | {"for": {"reference": practice}}, "request": {"method": "POST", "url": "Task"}},
    ])
    response = post_json(client, "/fhir", bundle)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in result["entry"]]
    assert statuses == ["201 Created"] * 3
    practice_id = result["entry"][0]["resource"]["id"]
    pcn_id = result["entry"][1]["resource"]["id"]
    assert result["entry"][0]["resource"]["partOf"]["reference"] == f"Organization/{pcn_id}"
    assert result["entry"][2]["resource"]["for"]["reference"] == f"Organization/{practice_id}"
    assert result["entry"][0]["response"]["location"].endswith(f"/Organization/{practice_id}/_history/1")
    assert client.get(f"/fhir/Organization/{pcn_id}").status_code == 200
    assert_conformant(result)


def test_a_failing_entry_rolls_back_the_whole_transaction(client):
    put_json(client, "/fhir/Organization/U89141", organization("U89141", "STOCKTON PCN", None))
    invalid_task = _without_id(task("x"))
    del invalid_task["status"]
    for failing, status in ((invalid_task, 422), ({"request": {"method": "GET", "url": "Organization/NOPE"}}, 404),
                            ({"resource": organization("U89141", "CHANGED", None),
                              "request": {"method": "PUT", "url": "Organization/U89141", "ifMatch": 'W/"9"'}}, 412)):
        entry = failing if "request" in failing else {"resource": failing, "request": {"method": "POST", "url": "Task"}}
        bundle = _transaction([
            {"resource": _without_id(organization("A81001")), "request": {"method": "POST", "url": "Organization"}},
            {"request": {"method": "DELETE", "url": "Organization/U89141"}},
            entry,
        ])
        response = post_json(client, "/fhir", bundle)
        assert response.status_code == status, response.get_json()
        assert response.get_json()["resourceType"] == "OperationOutcome"
        assert "entry 2" in response.get_json()["issue"][0]["diagnostics"]
        assert _count(client, "Organization?name:contains=densham") == 0
        assert client.get("/fhir/Organization/U89141").status_code == 200  # the delete was rolled back


def test_transaction_processes_deletes_creates_updates_then_reads(client):
    put_json(client, "/fhir/Organization/U89141", organization("U89141", "OLD NAME", None))
    put_json(client, "/fhir/Organization/A81009", organization("A81009", "TO DELETE", None))
    bundle = _transaction([
        {"request": {"method": "GET", "url": f"Organization?{IDENT}"}},
        {"resource": organization("U89141", "NEW NAME", None), "request": {"method": "PUT", "url": "Organization/U89141"}},
        {"resource": _without_id(organization("A81001")), "request": {"method": "POST", "url": "Organization"}},
        {"request": {"method": "DELETE", "url": "Organization/A81009"}},
        {"request": {"method": "GET", "url": "Organization/U89141"}},
    ])
    result = post_json(client, "/fhir", bundle).get_json()
    assert result["entry"][0]["resource"]["total"] == 1  # the GET ran after the POST
    assert result["entry"][4]["resource"]["name"] == "NEW NAME"  # ... and after the PUT
    assert result["entry"][3]["response"]["status"] == "200 OK"
    assert client.get("/fhir/Organization/A81009").status_code == 410


def test_conditional_references_and_if_none_exist_inside_a_transaction(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    bundle = _transaction([
        {"resource": _without_id(organization()), "request": {"method": "POST", "url": "Organization",
                                                              "ifNoneExist": IDENT}},
        {"resource": _without_id(task("x")) | {"for": {"reference": f"Organization?{IDENT}"}},
         "request": {"method": "POST", "url": "Task"}},
    ])
    result = post_json(client, "/fhir", bundle).get_json()
    assert result["entry"][0]["response"]["status"] == "200 OK"  # found, not created again
    assert result["entry"][1]["resource"]["for"]["reference"] == "Organization/A81001"
    assert _count(client, f"Organization?{IDENT}") == 1
    dangling = _transaction([{"resource": _without_id(task("x")) | {
        "for": {"reference": f"Organization?identifier={ODS}|NOPE1"}}, "request": {"method": "POST", "url": "Task"}}])
    assert post_json(client, "/fhir", dangling).status_code == 412


def test_batch_entries_succeed_or_fail_on_their_own(client):
    bundle = _transaction([
        {"resource": _without_id(organization()), "request": {"method": "POST", "url": "Organization"}},
        {"request": {"method": "GET", "url": "Organization/NOPE"}},
        {"resource": {"resourceType": "Task", "intent": "plan"}, "request": {"method": "POST", "url": "Task"}},
        {"request": {"method": "PATCH", "url": "Organization/A81001"}},
        {"request": {"method": "GET", "url": "Patient/1"}},
    ], type_="batch")
    response = post_json(client, "/fhir", bundle)
    assert response.status_code == 200
    result = response.get_json()
    assert result["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in result["entry"]]
    assert statuses == ["201", "404", "422", "405", "404"]
    assert result["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert _count(client, "Organization?name:contains=densham") == 1
    assert_conformant(result)


def test_bundles_that_are_not_batch_or_transaction_are_refused(client):
    assert post_json(client, "/fhir", {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert post_json(client, "/fhir", organization()).status_code == 400


def test_entry_scopes_are_checked(app, client_key):
    reader = authorised_client(app, client_key, "org-writer", scopes="system/Organization.cruds")
    bundle = _transaction([
        {"resource": _without_id(organization()), "request": {"method": "POST", "url": "Organization"}},
        {"resource": _without_id(task("x")), "request": {"method": "POST", "url": "Task"}},
    ])
    assert post_json(reader, "/fhir", bundle).status_code == 403
    bundle["type"] = "batch"
    result = post_json(reader, "/fhir", bundle).get_json()
    assert [e["response"]["status"][:3] for e in result["entry"]] == ["201", "403"]


def test_conditional_create_with_if_none_exist(client):
    first = post_json(client, "/fhir/Organization", _without_id(organization()), **{"If-None-Exist": IDENT})
    assert first.status_code == 201
    again = post_json(client, "/fhir/Organization", _without_id(organization()), **{"If-None-Exist": IDENT})
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    post_json(client, "/fhir/Organization", _without_id(organization()))  # now two match
    assert post_json(client, "/fhir/Organization", _without_id(organization()),
                     **{"If-None-Exist": IDENT}).status_code == 412
    assert post_json(client, "/fhir/Organization", _without_id(organization()),
                     **{"If-None-Exist": "bogus=1"}).status_code == 400


def test_conditional_update_creates_updates_or_refuses(client):
    created = client.put(f"/fhir/Organization?{IDENT}", data=json.dumps(_without_id(organization())),
                         headers={"Content-Type": FHIR_JSON})
    assert created.status_code == 201
    new_id = created.get_json()["id"]
    updated = client.put(f"/fhir/Organization?{IDENT}", data=json.dumps(_without_id(organization(name="RENAMED"))),
                         headers={"Content-Type": FHIR_JSON})
    assert updated.status_code == 200 and updated.get_json()["id"] == new_id and updated.headers["ETag"] == 'W/"2"'
    wrong_id = client.put(f"/fhir/Organization?{IDENT}", data=json.dumps(organization("OTHER1")),
                          headers={"Content-Type": FHIR_JSON})
    assert wrong_id.status_code == 400
    post_json(client, "/fhir/Organization", _without_id(organization()))
    several = client.put(f"/fhir/Organization?{IDENT}", data=json.dumps(_without_id(organization())),
                         headers={"Content-Type": FHIR_JSON})
    assert several.status_code == 412


def test_conditional_delete(client):
    assert client.delete(f"/fhir/Organization?{IDENT}").status_code == 200  # nothing matched
    put_json(client, "/fhir/Organization/A81001", organization())
    assert client.delete(f"/fhir/Organization?{IDENT}").status_code == 200
    assert client.get("/fhir/Organization/A81001").status_code == 410
    put_json(client, "/fhir/Organization/A81001", organization())
    post_json(client, "/fhir/Organization", _without_id(organization()))
    assert client.delete(f"/fhir/Organization?{IDENT}").status_code == 412
    assert client.delete("/fhir/Organization?").status_code == 400


def test_racing_conditional_creates_make_one_resource(live_server):
    url = f"{live_server.fhir}/Organization"
    headers = {**live_server.headers, "Content-Type": FHIR_JSON, "If-None-Exist": f"identifier={ODS}|A81077"}
    body = json.dumps(_without_id(organization("A81077")))

    def create(_n):
        return requests.post(url, data=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(create, range(6)))
    assert statuses.count(201) == 1 and statuses.count(200) == 5
    found = requests.get(f"{url}?identifier={ODS}|A81077", headers=live_server.headers, timeout=10).json()
    assert found["total"] == 1
