"""The audit trail over HTTP: every request leaves an AuditEvent; each organisation finds the
accesses to its own data and nothing else; AuditEvents cannot be changed; `$policy-matrix`
and `dthub policy matrix` agree."""
from __future__ import annotations

import base64

import orjson
import pytest

from tests.conftest import fetch_token, register_client
from tests.policy_oracle import TODAY, contract_consent, organization_resources, practice_resources, CONTRACTS

ICB_CONTRACT = next(c for c, _ in CONTRACTS if c["id"] == "C-QAA")


@pytest.fixture
def world(database_url, client_key):
    from adapter.http.app import build_app
    from tests.conftest import make_config

    app = build_app(make_config(database_url, policy_today=TODAY.isoformat(), audit_flush_seconds=60))
    repo = app.extensions["dthub"].repo
    for org in organization_resources():
        repo.put("Organization", org["id"], org)
    repo.put("Consent", ICB_CONTRACT["id"], contract_consent(ICB_CONTRACT))
    for practice in ("A00001", "B00001"):
        for body in practice_resources(practice).values():
            repo.put(body["resourceType"], body["id"], body)
    private, jwks = client_key
    clients = {}
    for name, role, org in (("svc", "service", None), ("icb-qaa", "icb", "QAA"), ("icb-qbb", "icb", "QBB"),
                            ("prac-b1", "practice", "B00001")):
        register_client(app, name, jwks, role=role, org=org, scopes="system/*.rs", purposes=("HOPERAT",))
        http = app.test_client()
        token = fetch_token(http, app.extensions["dthub"].config.token_url, name, private, scope="system/*.rs")
        http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        clients[name] = http
    clients["anonymous"] = app.test_client()
    yield app, clients
    app.extensions["dthub.audit"].close()
    repo.engine.dispose()


def _events(app, client, params: str = "") -> list[dict]:
    app.extensions["dthub.audit"].flush()
    bundle = client.get(f"/fhir/AuditEvent?_count=1000{params}").get_json()
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _subtype(event: dict) -> str:
    return event["subtype"][0]["code"]


def test_every_request_allowed_or_refused_is_recorded_without_tokens(world):
    app, c = world
    token = c["icb-qaa"].environ_base["HTTP_AUTHORIZATION"].split()[1]
    assert c["icb-qaa"].get("/fhir/QuestionnaireResponse/S-A00001-G").status_code == 200
    assert c["icb-qaa"].get("/fhir/QuestionnaireResponse/S-B00001-G").status_code == 404   # QBB's: refused
    assert c["anonymous"].get("/fhir/Task").status_code == 401
    assert c["icb-qaa"].get(f"/fhir/Task?_id=x&access_token={token}").status_code == 401   # tokens never in URLs
    events = _events(app, c["svc"])
    text = orjson.dumps(events).decode()
    assert token not in text and base64.b64encode(token.encode()).decode()[:40] not in text
    reads = [e for e in events if _subtype(e) == "read" and e["agent"][0]["who"]["identifier"]["value"] == "icb-qaa"]
    outcomes = sorted(e["outcome"] for e in reads)
    assert outcomes == ["0", "4"], outcomes
    allowed = next(e for e in reads if e["outcome"] == "0")
    assert allowed["purposeOfEvent"][0]["coding"][0]["code"] == "HOPERAT"
    names = {(e.get("what") or {}).get("reference", "") for e in allowed["entity"]}
    assert "Organization/A00001" in names and "Organization/QAA" in names
    assert any(r.endswith("Consent/C-QAA") for r in names), names   # the deciding contract
    assert any(e["outcome"] == "4" and not e["agent"][0]["who"].get("identifier") for e in events)  # the 401


def test_an_organisation_sees_only_the_audit_of_its_own_data(world):
    app, c = world
    c["icb-qaa"].get("/fhir/QuestionnaireResponse/S-A00001-G")
    c["svc"].get("/fhir/QuestionnaireResponse/S-B00001-G")
    c["svc"].get("/fhir/Task?_count=100")    # touches both practices
    qaa = _events(app, c["icb-qaa"])
    qbb = _events(app, c["icb-qbb"])
    everything = _events(app, c["svc"])
    assert qaa and qbb and len(everything) > len(qaa)
    for events, own, other in ((qaa, "A00001", "B00001"), (qbb, "B00001", "A00001")):
        text = orjson.dumps(events).decode()
        assert other not in text, f"{own}'s audit shows {other}"
        assert all(own in orjson.dumps(e).decode() for e in events)
    # the practice finds the service's read of its data, and who made it
    mine = _events(app, c["prac-b1"])
    assert any(_subtype(e) == "read" and e["agent"][0]["who"]["identifier"]["value"] == "svc" for e in mine)
    assert "A00001" not in orjson.dumps(mine).decode()


def test_audit_events_cannot_be_changed_or_deleted(world):
    app, c = world
    c["svc"].get("/fhir/Organization/QAA")
    event = _events(app, c["svc"])[0]
    assert c["svc"].put(f"/fhir/AuditEvent/{event['id']}", json=event).status_code == 405
    assert c["svc"].delete(f"/fhir/AuditEvent/{event['id']}").status_code == 405


def test_policy_matrix_over_http_and_from_the_cli_agree(world, capsys, monkeypatch):
    from adapter.cli import main

    app, c = world
    mine = c["icb-qaa"].get("/fhir/$policy-matrix").get_json()
    grants = {(_part(g, "data-type")["valueCoding"]["code"], _part(g, "level")["valueCoding"]["code"]): g
              for g in mine["parameter"] if g["name"] == "grant"}
    assert len(grants) == 18
    practices = _part(grants[("global-assessment", "practice")], "scope")["part"]
    assert {p["valueReference"]["identifier"]["value"] for p in practices if p["name"] == "practice"} == \
        {"A00001", "A00002", "A00004", "C00001", "D00001"}
    assert c["icb-qaa"].get("/fhir/$policy-matrix?client-id=svc").status_code == 403
    theirs = c["svc"].get("/fhir/$policy-matrix?client-id=icb-qaa").get_json()
    assert [p for p in theirs["parameter"] if p["name"] == "grant"] == [p for p in mine["parameter"]
                                                                         if p["name"] == "grant"]
    assert c["svc"].get("/fhir/$policy-matrix?client-id=nobody").status_code == 404
    config = app.extensions["dthub"].config
    monkeypatch.setenv("DTHUB_DATABASE_URL", config.database_url)
    monkeypatch.setenv("DTHUB_POLICY_TODAY", TODAY.isoformat())
    assert main(["policy", "matrix", "--client-id", "icb-qaa"]) == 0
    table = capsys.readouterr().out
    assert "global-assessment       practice  5          Consent/policy-icb-contract Consent/C-QAA" in table
    assert "actions                 practice  -          -" in table
    assert main(["policy", "matrix", "--client-id", "icb-qaa", "--json"]) == 0
    assert [p for p in orjson.loads(capsys.readouterr().out)["parameter"] if p["name"] == "grant"] == \
        [p for p in mine["parameter"] if p["name"] == "grant"]


def _part(grant: dict, name: str) -> dict:
    return next(p for p in grant["part"] if p["name"] == name)
