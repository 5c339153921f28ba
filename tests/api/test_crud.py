"""read, vread, create, update, delete and versioning over HTTP, on both stores."""
from __future__ import annotations

from email.utils import parsedate_to_datetime

from tests.helpers import organization, post_json, put_json, task


def test_update_as_create_stores_version_one_with_standard_headers(client):
    response = put_json(client, "/fhir/Organization/A81001", organization())
    assert response.status_code == 201
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"] == "http://fhir.test/fhir/Organization/A81001/_history/1"
    assert parsedate_to_datetime(response.headers["Last-Modified"])
    body = response.get_json()
    assert body["meta"]["versionId"] == "1"
    assert body["meta"]["lastUpdated"].endswith("Z")
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_create_assigns_a_server_id_and_ignores_the_body_id(client):
    response = post_json(client, "/fhir/Organization", organization("A81002"))
    assert response.status_code == 201
    new_id = response.get_json()["id"]
    assert new_id != "A81002"
    assert response.headers["Location"].endswith(f"/Organization/{new_id}/_history/1")
    assert client.get(f"/fhir/Organization/{new_id}").status_code == 200
    assert client.get("/fhir/Organization/A81002").status_code == 404


def test_read_returns_current_version_and_vread_returns_older_ones(client):
    put_json(client, "/fhir/Organization/A81001", organization(name="FIRST"))
    put_json(client, "/fhir/Organization/A81001", organization(name="SECOND"))
    current = client.get("/fhir/Organization/A81001")
    assert current.get_json()["name"] == "SECOND"
    assert current.headers["ETag"] == 'W/"2"'
    old = client.get("/fhir/Organization/A81001/_history/1")
    assert old.status_code == 200
    assert old.get_json()["name"] == "FIRST"
    assert old.headers["ETag"] == 'W/"1"'
    assert client.get("/fhir/Organization/A81001/_history/3").status_code == 404
    assert client.get("/fhir/Organization/A81001/_history/x").status_code == 404


def test_unchanged_update_creates_no_new_version(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    again = put_json(client, "/fhir/Organization/A81001", organization())
    assert again.status_code == 200
    assert again.headers["ETag"] == 'W/"1"'


def test_if_match_mismatch_is_412_and_match_updates(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    stale = put_json(client, "/fhir/Organization/A81001", organization(name="X"), **{"If-Match": 'W/"7"'})
    assert stale.status_code == 412
    assert stale.get_json()["issue"][0]["code"] == "conflict"
    fresh = put_json(client, "/fhir/Organization/A81001", organization(name="X"), **{"If-Match": 'W/"1"'})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"2"'


def test_malformed_if_match_is_400(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    response = put_json(client, "/fhir/Organization/A81001", organization(), **{"If-Match": "yesterday"})
    assert response.status_code == 400


def test_if_none_match_on_read_answers_304(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    response = client.get("/fhir/Organization/A81001", headers={"If-None-Match": 'W/"1"'})
    assert response.status_code == 304
    assert response.data == b""
    assert client.get("/fhir/Organization/A81001", headers={"If-None-Match": 'W/"0"'}).status_code == 200


def test_delete_makes_reads_gone_while_history_remains(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    deleted = client.delete("/fhir/Organization/A81001")
    assert deleted.status_code == 200
    assert deleted.headers["ETag"] == 'W/"2"'
    gone = client.get("/fhir/Organization/A81001")
    assert gone.status_code == 410
    assert gone.get_json()["resourceType"] == "OperationOutcome"
    assert client.get("/fhir/Organization/A81001/_history/1").status_code == 200
    assert client.get("/fhir/Organization/A81001/_history/2").status_code == 410
    history = client.get("/fhir/Organization/A81001/_history").get_json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "PUT"]
    assert "resource" not in history["entry"][0]


def test_deleting_twice_or_deleting_nothing_writes_no_version(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    client.delete("/fhir/Organization/A81001")
    again = client.delete("/fhir/Organization/A81001")
    assert again.status_code == 200 and "ETag" not in again.headers
    assert client.delete("/fhir/Organization/NOPE1").status_code == 200
    assert client.get("/fhir/Organization/A81001/_history").get_json()["total"] == 2


def test_delete_with_stale_if_match_is_412(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    assert client.delete("/fhir/Organization/A81001", headers={"If-Match": 'W/"5"'}).status_code == 412
    assert client.get("/fhir/Organization/A81001").status_code == 200


def test_update_after_delete_recreates_with_next_version(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    client.delete("/fhir/Organization/A81001")
    again = put_json(client, "/fhir/Organization/A81001", organization())
    assert again.status_code == 201
    assert again.headers["ETag"] == 'W/"3"'


def test_prefer_return_minimal_representation_and_outcome(client):
    minimal = put_json(client, "/fhir/Task/A-1", task("A-1"), Prefer="return=minimal")
    assert minimal.status_code == 201 and minimal.data == b""
    assert minimal.headers["ETag"] == 'W/"1"' and minimal.headers["Location"]
    outcome = put_json(client, "/fhir/Task/A-1", task("A-1") | {"priority": "urgent"},
                       Prefer="return=OperationOutcome")
    assert outcome.get_json()["resourceType"] == "OperationOutcome"
    assert outcome.get_json()["issue"][0]["severity"] == "information"
    full = put_json(client, "/fhir/Task/A-1", task("A-1") | {"priority": "asap"}, Prefer="return=representation")
    assert full.get_json()["priority"] == "asap"


def test_summary_and_elements_trim_and_tag_subsetted(client):
    put_json(client, "/fhir/Organization/A81001", organization() | {
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">Densham</div>'}})
    summary = client.get("/fhir/Organization/A81001?_summary=true").get_json()
    assert "text" not in summary and summary["name"] == "THE DENSHAM SURGERY"
    assert {"code": "SUBSETTED"}.items() <= summary["meta"]["tag"][0].items()
    text = client.get("/fhir/Organization/A81001?_summary=text").get_json()
    assert "text" in text and "name" not in text and "identifier" not in text
    data = client.get("/fhir/Organization/A81001?_summary=data").get_json()
    assert "text" not in data and "address" in data
    full = client.get("/fhir/Organization/A81001?_summary=false").get_json()
    assert "text" in full and "tag" not in full["meta"]
    elements = client.get("/fhir/Organization/A81001?_elements=name").get_json()
    assert set(elements) == {"resourceType", "id", "meta", "name"}
    assert elements["meta"]["tag"][0]["code"] == "SUBSETTED"
    assert client.get("/fhir/Organization/A81001?_summary=bogus").status_code == 400


def test_history_type_and_system_list_versions_newest_first(client):
    put_json(client, "/fhir/Organization/A81001", organization())
    put_json(client, "/fhir/Task/A-1", task("A-1"))
    put_json(client, "/fhir/Organization/A81001", organization(name="RENAMED"))
    type_history = client.get("/fhir/Organization/_history").get_json()
    assert type_history["type"] == "history" and type_history["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in type_history["entry"]] == ["2", "1"]
    system = client.get("/fhir/_history?_count=2").get_json()
    assert [e["fullUrl"].split("/fhir/")[1] for e in system["entry"]] == ["Organization/A81001", "Task/A-1"]
    assert any(link["relation"] == "next" for link in system["link"])


def test_history_paging_is_stable_under_concurrent_writes(client):
    for n in range(5):
        put_json(client, f"/fhir/Task/T{n}", task(f"T{n}"))
    first = client.get("/fhir/Task/_history?_count=2").get_json()
    put_json(client, "/fhir/Task/LATE", task("LATE"))  # written while the caller pages
    seen = [e["fullUrl"] for e in first["entry"]]
    page = first
    while next_link := next((l["url"] for l in page["link"] if l["relation"] == "next"), None):
        page = client.get(next_link.replace("http://fhir.test", "")).get_json()
        assert page["total"] == 5
        seen += [e["fullUrl"] for e in page.get("entry", [])]
    assert [s.rsplit("/", 1)[1] for s in seen] == ["T4", "T3", "T2", "T1", "T0"]


def test_history_since_and_count(client):
    put_json(client, "/fhir/Task/T1", task("T1"))
    stamp = client.get("/fhir/Task/T1").get_json()["meta"]["lastUpdated"]
    put_json(client, "/fhir/Task/T1", task("T1") | {"priority": "urgent"})
    since = client.get(f"/fhir/Task/T1/_history?_since={stamp}").get_json()
    assert since["total"] == 2
    later = client.get("/fhir/Task/T1/_history?_since=2999-01-01T00:00:00Z").get_json()
    assert later["total"] == 0 and "entry" not in later
    assert client.get("/fhir/Task/T1/_history?_since=yesterday").status_code == 400
    assert client.get("/fhir/Task/T1/_history?_count=-1").status_code == 400
    assert len(client.get("/fhir/Task/T1/_history?_count=1").get_json()["entry"]) == 1


def test_history_of_unknown_resource_is_404(client):
    assert client.get("/fhir/Task/NOPE/_history").status_code == 404


def test_read_only_types_refuse_writes_with_405(client):
    code_system = client.get("/fhir/CodeSystem/data-type")
    assert code_system.status_code == 200
    body = code_system.get_json()
    assert put_json(client, "/fhir/CodeSystem/data-type", body).status_code == 405
    assert post_json(client, "/fhir/CodeSystem", body).status_code == 405
    assert client.delete("/fhir/CodeSystem/data-type").status_code == 405


def test_audit_events_can_be_recorded_but_not_changed_or_deleted(client):
    event = {"resourceType": "AuditEvent",
             "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
             "recorded": "2026-11-01T10:00:00Z",
             "agent": [{"requestor": True, "who": {"display": "client-1"}}],
             "source": {"observer": {"display": "dthub"}}}
    created = post_json(client, "/fhir/AuditEvent", event)
    assert created.status_code == 201
    new_id = created.get_json()["id"]
    assert put_json(client, f"/fhir/AuditEvent/{new_id}", event | {"id": new_id}).status_code == 405
    assert client.delete(f"/fhir/AuditEvent/{new_id}").status_code == 405


def test_shipped_resources_are_stored_once_across_restarts(config, client_key):
    from adapter import create_app
    from tests.conftest import authorised_client, close_app

    apps = [create_app(config), create_app(config)]
    first = authorised_client(apps[0], client_key, "first-start").get("/fhir/CodeSystem/granularity")
    second = authorised_client(apps[1], client_key, "second-start").get("/fhir/CodeSystem/granularity")
    for app in apps:
        close_app(app)
    assert first.headers["ETag"] == second.headers["ETag"] == 'W/"1"'
