"""R4 Subscriptions over HTTP (Flask test client, both stores): create/read/update/delete/search/
history, what the server checks and sets, and that a Subscription is its creating client's alone."""
from __future__ import annotations

import base64
import uuid

import pytest

from tests.conftest import authorised_client, close_app, make_config
from tests.helpers import post_json, put_json

ID_CLIENT = "https://fhir.dandthub.co.uk/Id/client"
SECRET = "Bearer hook-secret-7f3a"
ENDPOINT = "http://127.0.0.1:9/hooks/dthub"


def subscription(**changes) -> dict:
    body = {
        "resourceType": "Subscription", "status": "requested", "reason": "ICS dashboard: actions of A00001",
        "criteria": "Task?subject=Organization/A00001",
        "channel": {"type": "rest-hook", "endpoint": ENDPOINT, "payload": "application/fhir+json",
                    "header": [f"Authorization: {SECRET}"]},
    }
    body.update(changes)
    return body


def channel(**changes) -> dict:
    return {**subscription()["channel"], **changes}


@pytest.fixture
def subs_app(database_url):
    from adapter import create_app

    # `*` admits any host whose addresses are all public; 127.0.0.1 is listed exactly (a local
    # receiver). Polling 0: no notifier in these tests (test_subscriptions_live.py has one).
    app = create_app(make_config(database_url, subscription_allowed_hosts=("127.0.0.1", "*"),
                                 subscription_poll_seconds=0))
    yield app
    close_app(app)


@pytest.fixture
def owner(subs_app, client_key):
    return authorised_client(subs_app, client_key, "ics-owner", role="icb", org="QAA",
                             scopes="system/Subscription.cruds system/Task.rs system/Organization.rs")


@pytest.fixture
def other(subs_app, client_key):
    """Another client, a service one: otherwise it sees everything."""
    return authorised_client(subs_app, client_key, "other-service", role="service", scopes="system/*.cruds")


def _issue(response) -> dict:
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def _created(client, body=None) -> dict:
    response = post_json(client, "/fhir/Subscription", body or subscription())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- create and what the server sets ------------------------------------------------------------

def test_a_requested_subscription_is_stored_active_and_owned_by_its_client(owner):
    sent = subscription(meta={"tag": [{"system": ID_CLIENT, "code": "someone-else"}],
                              "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                            "code": "HQUALIMP"}]})
    created = _created(owner, sent)
    assert created["status"] == "active"
    assert [t["code"] for t in created["meta"]["tag"] if t["system"] == ID_CLIENT] == ["ics-owner"]
    purposes = [c["code"] for c in created["meta"]["security"] if c["system"].endswith("v3-ActReason")]
    assert purposes == ["HOPERAT"]  # the token's purpose, not the one sent
    read = owner.get(f"/fhir/Subscription/{created['id']}")
    assert read.status_code == 200 and read.headers["ETag"] == 'W/"1"'
    assert read.get_json()["channel"]["header"] == [f"Authorization: {SECRET}"]


def test_status_off_stays_off_and_error_is_the_servers_to_set(owner):
    created = _created(owner, subscription(status="off"))
    assert created["status"] == "off"
    refused = put_json(owner, f"/fhir/Subscription/{created['id']}", dict(created, status="error"))
    assert refused.status_code == 422 and "set by the server" in _issue(refused)["diagnostics"]
    again = put_json(owner, f"/fhir/Subscription/{created['id']}", dict(created, status="requested"))
    assert again.status_code == 200 and again.get_json()["status"] == "active"


@pytest.mark.parametrize("body, status, words", [
    (subscription(criteria="Task?colour=blue"), 422, "unknown search parameters colour"),
    (subscription(criteria="Task?authored-on=notadate"), 422, "Subscription.criteria"),
    (subscription(criteria="Patient?name=x"), 422, "not a type one can subscribe to"),
    (subscription(criteria="AuditEvent?"), 422, "not a type one can subscribe to"),
    (subscription(criteria="Subscription?status=active"), 422, "not a type one can subscribe to"),
    (subscription(criteria="Task?_include=Task:subject"), 422, "shape a result page"),
    (subscription(criteria="Task?_getpages=abc"), 422, "shape a result page"),
    (subscription(criteria="Task?_contained=true"), 422, "unknown search parameters _contained"),
    (subscription(criteria=""), 422, "empty string"),
    (subscription(channel=channel(type="email", endpoint="mailto:ics@example.org")), 422, "only rest-hook"),
    (subscription(channel={"type": "rest-hook"}), 422, "endpoint is required"),
    (subscription(channel=channel(endpoint="https://intranet.example.org/hook")), 422, "does not resolve"),
    (subscription(channel=channel(endpoint="https://10.1.2.3/hook")), 422, "non-public address"),
    (subscription(channel=channel(endpoint="https://169.254.169.254/latest/meta-data")), 422, "non-public address"),
    (subscription(channel=channel(endpoint="https://localhost:8443/hook")), 422, "non-public address"),
    (subscription(channel=channel(endpoint="http://93.184.216.34/hook")), 422, "must use https"),
    (subscription(channel=channel(endpoint="https://user:pw@127.0.0.1/hook")), 422, "user information"),
    (subscription(channel=channel(endpoint="ftp://127.0.0.1/hook")), 422, "absolute https"),
    (subscription(channel=channel(payload="text/csv")), 422, "channel.payload"),
    (subscription(channel=channel(header=["Host: evil.example.org"])), 422, "set by the server"),
    (subscription(channel=channel(header=["no colon here"])), 422, "Name: value"),
    (subscription(status="bogus"), 422, ""),
])
def test_invalid_subscriptions_are_refused_with_an_outcome_and_nothing_is_stored(owner, subs_app, body, status,
                                                                                     words):
    response = post_json(owner, "/fhir/Subscription", body)
    assert response.status_code == status, response.get_json()
    assert words in (_issue(response).get("diagnostics") or "")
    assert owner.get("/fhir/Subscription").get_json()["total"] == 0


def test_an_endpoint_host_outside_the_allow_list_is_refused(database_url, client_key):
    from adapter import create_app

    app = create_app(make_config(database_url, subscription_allowed_hosts=("*.ics.example.org",),
                                 subscription_poll_seconds=0))
    try:
        client = authorised_client(app, client_key, "ics", role="icb", org="QAA",
                                   scopes="system/Subscription.cruds system/Task.rs")
        for endpoint in ("https://evil.example.com/hook", "https://ics.example.org/hook", "https://127.0.0.1/hook"):
            response = post_json(client, "/fhir/Subscription", subscription(channel=channel(endpoint=endpoint)))
            assert response.status_code == 422
            assert "not among the hosts" in _issue(response)["diagnostics"]
            assert _issue(response)["expression"] == ["Subscription.channel.endpoint"]
    finally:
        close_app(app)


def test_without_allowed_hosts_subscriptions_are_refused(app, client):
    response = post_json(client, "/fhir/Subscription", subscription())
    assert response.status_code == 422 and "not enabled" in _issue(response)["diagnostics"]


def test_subscribing_needs_search_rights_on_the_criteria_type(subs_app, client_key):
    client = authorised_client(subs_app, client_key, "narrow", role="icb", org="QAA",
                               scopes="system/Subscription.cruds system/Organization.rs")
    response = post_json(client, "/fhir/Subscription", subscription())
    assert response.status_code == 403 and "system/Task.s" in _issue(response)["diagnostics"]
    no_subscription_scope = authorised_client(subs_app, client_key, "reader", role="icb", org="QAA",
                                              scopes="system/Task.rs")
    assert post_json(no_subscription_scope, "/fhir/Subscription", subscription()).status_code == 403


# -- the owner's interactions ---------------------------------------------------------------------

def test_the_owner_reads_updates_searches_and_deletes_its_subscription(owner):
    created = _created(owner)
    sid = created["id"]
    updated = put_json(owner, f"/fhir/Subscription/{sid}", dict(created, criteria="Task?status=completed"))
    assert updated.status_code == 200 and updated.get_json()["meta"]["versionId"] == "2"
    for query in ("status=active", "type=rest-hook", f"url={ENDPOINT}", "criteria=Task",
                  "payload=application/fhir%2Bjson"):
        bundle = owner.get(f"/fhir/Subscription?{query}").get_json()
        assert [e["resource"]["id"] for e in bundle["entry"]] == [sid], query
    assert owner.get("/fhir/Subscription?status=off").get_json()["total"] == 0
    assert owner.get(f"/fhir/Subscription/{sid}/_history").get_json()["total"] == 2
    assert owner.get(f"/fhir/Subscription/{sid}/_history/1").status_code == 200
    assert owner.delete(f"/fhir/Subscription/{sid}").status_code == 200
    assert owner.get(f"/fhir/Subscription/{sid}").status_code == 410


# -- visible to its creator only --------------------------------------------------------------------

def test_another_client_even_a_service_one_cannot_find_read_change_or_delete_it(owner, other, subs_app):
    created = _created(owner)
    sid = created["id"]
    read = other.get(f"/fhir/Subscription/{sid}")
    never = other.get("/fhir/Subscription/never-existed")
    assert read.status_code == 404 and "ETag" not in read.headers
    assert read.get_json()["issue"] == [{**never.get_json()["issue"][0],
                                         "diagnostics": never.get_json()["issue"][0]["diagnostics"].replace(
                                             "never-existed", sid)}]
    assert other.get(f"/fhir/Subscription/{sid}/_history/1").status_code == 404
    assert other.get(f"/fhir/Subscription/{sid}/_history").status_code == 404
    assert other.get(f"/fhir/Subscription?_id={sid}").get_json()["total"] == 0
    assert other.get("/fhir/Subscription").get_json()["total"] == 0
    assert other.get("/fhir/Subscription?_summary=count").get_json()["total"] == 0
    for path in ("/fhir/Subscription/_history", "/fhir/_history?_count=1000"):
        assert sid not in other.get(path).get_data(as_text=True), path
    assert sid not in other.get("/fhir/Organization?_revinclude=*").get_data(as_text=True)
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "GET", "url": f"Subscription/{sid}"}},
        {"request": {"method": "GET", "url": "Subscription?status=active"}}]}
    answer = post_json(other, "/fhir", batch).get_json()
    assert answer["entry"][0]["response"]["status"].startswith("404")
    assert answer["entry"][1]["resource"]["total"] == 0
    assert SECRET not in str(answer)

    changed = put_json(other, f"/fhir/Subscription/{sid}", dict(created, channel=channel(endpoint="http://127.0.0.1:1/x")))
    assert changed.status_code == 404
    deleted = other.delete(f"/fhir/Subscription/{sid}")
    assert deleted.status_code == 200 and "does not exist" in deleted.get_data(as_text=True)
    mine = owner.get(f"/fhir/Subscription/{sid}")
    assert mine.status_code == 200 and mine.get_json()["channel"]["endpoint"] == ENDPOINT


def test_audit_events_of_a_subscription_never_name_it_to_another_client_nor_hold_its_headers(owner, other, subs_app):
    created = _created(owner)
    sid = created["id"]
    owner.get(f"/fhir/Subscription/{sid}")
    owner.get(f"/fhir/Subscription?url={ENDPOINT}")
    subs_app.extensions["dthub.audit"].flush()
    for client in (owner, other):
        text = client.get("/fhir/AuditEvent?_count=1000").get_data(as_text=True)
        assert "hook-secret" not in text
        decoded = " ".join(base64.b64decode(q).decode() for q in _queries(client))
        assert "hook-secret" not in decoded
    others_view = other.get("/fhir/AuditEvent?_count=1000").get_data(as_text=True)
    assert sid not in others_view and "127.0.0.1:9" not in " ".join(
        base64.b64decode(q).decode() for q in _queries(other))


def _queries(client) -> list[str]:
    bundle = client.get("/fhir/AuditEvent?_count=1000").get_json()
    return [e["query"] for entry in bundle.get("entry", []) for e in entry["resource"].get("entity", []) if "query" in e]


def test_the_capability_statement_advertises_subscriptions(subs_app, owner):
    statement = owner.get("/fhir/metadata").get_json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription")
    assert {i["code"] for i in entry["interaction"]} >= {"create", "read", "update", "delete", "search-type",
                                                         "history-instance", "history-type", "vread"}
    assert {p["name"] for p in entry["searchParam"]} >= {"status", "type", "url", "criteria"}
    assert "rest-hook" in entry["documentation"]
    smart = owner.get("/fhir/.well-known/smart-configuration").get_json()
    assert "system/Subscription.cruds" in smart["scopes_supported"]


def test_stored_subscriptions_conform_in_json_and_xml(owner):
    from tests.conformance import assert_conformant

    created = _created(owner)
    for path in (f"/fhir/Subscription/{created['id']}", f"/fhir/Subscription?_id={created['id']}"):
        as_json = owner.get(path)
        as_xml = owner.get(path, headers={"Accept": "application/fhir+xml"})
        assert as_json.status_code == 200 and as_xml.status_code == 200
        assert_conformant(as_json.get_json(), as_xml.data)
    # A Subscription sent as XML is read the same way.
    xml = owner.get(f"/fhir/Subscription/{created['id']}", headers={"Accept": "application/fhir+xml"}).data
    again = owner.post("/fhir/Subscription", data=xml, headers={"Content-Type": "application/fhir+xml"})
    assert again.status_code == 201 and again.get_json()["criteria"] == created["criteria"]


def _watched(subs_app, monkeypatch) -> list[str]:
    """Records each endpoint lookup as 'outside' or 'inside' a write transaction."""
    from adapter.subscriptions import admission

    ctx, inside, lookups = subs_app.extensions["dthub"], [], []
    real_unit, real_check = ctx.repo.write_unit, admission.check_endpoint

    def write_unit(work):
        inside.append(True)
        try:
            return real_unit(work)
        finally:
            inside.pop()

    def check_endpoint(url, allowed):
        lookups.append("inside" if inside else "outside")
        return real_check(url, allowed)

    monkeypatch.setattr(ctx.repo, "write_unit", write_unit)
    monkeypatch.setattr(admission, "check_endpoint", check_endpoint)
    return lookups


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_subscription_entry_resolves_its_endpoint_before_the_write_transaction(owner, subs_app, monkeypatch,
                                                                                  kind):
    lookups = _watched(subs_app, monkeypatch)
    endpoint = f"http://127.0.0.1:9/hooks/{uuid.uuid4()}"  # never looked up before (a short cache)
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [
        {"resource": subscription(channel=channel(endpoint=endpoint)),
         "request": {"method": "POST", "url": "Subscription"}}]}
    response = post_json(owner, "/fhir", bundle)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["entry"][0]["response"]["status"].startswith("201")
    assert lookups == ["outside"]


def test_a_subscription_is_validated_once_per_write(owner, subs_app, monkeypatch):
    from profiles import validate

    validated = []
    real = validate.validate_resource
    monkeypatch.setattr(validate, "validate_resource",
                        lambda body: validated.append(body.get("resourceType")) or real(body))
    assert post_json(owner, "/fhir/Subscription", subscription()).status_code == 201
    assert validated.count("Subscription") == 1
