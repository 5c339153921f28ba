"""AccessRecord -> AuditEvent: BALP shape, R4 validity (our validator and the official artefacts),
and no credentials anywhere."""
from __future__ import annotations

import base64
from types import SimpleNamespace

import orjson
import pytest

from adapter.audit import AccessRecord, entity_organisations, new_record, scrub_query, to_audit_event
from adapter.audit.event import ACTION
from adapter.policy import can_see
from adapter.validation import validate_resource
from mappings.names import ODS, ref_ods
from tests.conformance import assert_conformant

BASE = "http://fhir.test/fhir"
INTERACTIONS = sorted(ACTION)


def practice_search(**overrides) -> AccessRecord:
    fields = dict(interaction="search-type", method="GET", path="/fhir/Task", status=200,
                  query="owner=Organization/A81001&_count=10", client_id="pcn-app", org="U12345", role="pcn",
                  purpose="HOPERAT", source="10.1.2.3", request_id="req-1",
                  resources=(("Task/t1", "A81001"), ("Task/t2", "B82002"), ("Organization/A81001", None)),
                  organisations=("A81001", "U12345", "QWE"), deciding=("Consent/tier-pcn", "rule:no-grant"))
    fields.update(overrides)
    return new_record(**fields)


def assert_valid(event: dict) -> None:
    errors = [i for i in validate_resource(event) if i.severity in ("error", "fatal")]
    assert errors == []
    assert_conformant(event)


@pytest.mark.parametrize("interaction", INTERACTIONS)
@pytest.mark.parametrize("status", [200, 201, 304, 401, 403, 404, 500])
def test_every_interaction_and_outcome_is_a_valid_audit_event(interaction, status):
    rec = practice_search(interaction=interaction, status=status)
    assert_valid(to_audit_event(rec, BASE))


@pytest.mark.parametrize("rec", [
    new_record("read", "GET", "/fhir/Task/1", 401, source="192.0.2.1", outcome_desc="no bearer token"),
    new_record("login", "POST", "/auth/token", 400, client_id="x", outcome_desc="bad assertion"),
    new_record("capabilities", "GET", "/fhir/metadata", 200),
    new_record("search-system", "GET", "/fhir", 401, count=17, source="192.0.2.9"),
    new_record("transaction", "POST", "/fhir", 200, client_id="svc", role="service", purpose="HOPERAT",
               resources=tuple((f"Task/{i}", "A81001") for i in range(50)), organisations=("A81001",)),
], ids=["unauthenticated", "login", "bare", "summarised", "transaction"])
def test_record_shapes_are_valid(rec):
    assert_valid(to_audit_event(rec, BASE))


def test_search_event_has_balp_shape():
    rec = practice_search()
    event = to_audit_event(rec, BASE)
    assert event["id"] == rec.id and event["recorded"] == rec.recorded
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "search-type"}]
    assert event["action"] == "E" and event["outcome"] == "0"
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "HOPERAT"
    client, org = event["agent"]
    assert client["requestor"] is True and org["requestor"] is False
    assert client["who"]["identifier"] == {"system": "https://fhir.dandthub.co.uk/Id/client", "value": "pcn-app"}
    assert client["network"] == {"address": "10.1.2.3", "type": "2"}
    assert client["role"][0]["coding"][0]["code"] == "pcn"
    assert org["who"] == {"reference": "Organization/U12345", "identifier": {"system": ODS, "value": "U12345"}}
    assert event["source"]["type"][0]["code"] == "4"
    whats = [e.get("what", {}).get("reference") for e in event["entity"]]
    assert whats[:3] == ["Organization/A81001", "Organization/U12345", "Organization/QWE"]
    assert f"{BASE}/Task/t1" in whats and "Consent/tier-pcn" in whats
    owned = {e["what"]["reference"]: e["detail"][0]["valueString"] for e in event["entity"] if "detail" in e}
    assert owned == {f"{BASE}/Task/t1": "A81001", f"{BASE}/Task/t2": "B82002"}
    assert any(e.get("name") == "rule:no-grant" for e in event["entity"])
    query = next(e for e in event["entity"] if "query" in e)
    assert base64.b64decode(query["query"]).decode() == "owner=Organization/A81001&_count=10"
    assert query["role"]["code"] == "24" and query["description"] == "GET /fhir/Task"


@pytest.mark.parametrize("status,outcome", [(200, "0"), (304, "0"), (400, "4"), (403, "4"), (500, "8"), (503, "8")])
def test_outcome_follows_http_status(status, outcome):
    assert to_audit_event(new_record("read", "GET", "/fhir/Task/1", status), BASE)["outcome"] == outcome


@pytest.mark.parametrize("interaction,action", [("create", "C"), ("read", "R"), ("vread", "R"), ("update", "U"),
                                                ("patch", "U"), ("delete", "D"), ("search-type", "E"),
                                                ("history-instance", "R"), ("operation", "E"), ("login", "E")])
def test_action_follows_interaction(interaction, action):
    assert to_audit_event(new_record(interaction, "GET", "/", 200), BASE)["action"] == action


def test_login_uses_dicom_user_authentication():
    event = to_audit_event(new_record("login", "POST", "/auth/token", 200, client_id="c"), BASE)
    assert event["type"]["code"] == "110114"
    assert event["subtype"][0] == {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110122",
                                   "display": "Login"}


def test_unauthenticated_agent_is_named_so():
    event = to_audit_event(new_record("read", "GET", "/fhir/Task/1", 401, source="192.0.2.1"), BASE)
    assert event["agent"] == [{"type": event["agent"][0]["type"], "requestor": True,
                               "who": {"display": "unauthenticated"},
                               "network": {"address": "192.0.2.1", "type": "2"}}]
    assert "purposeOfEvent" not in event


def test_summarised_requests_say_how_many():
    event = to_audit_event(new_record("read", "GET", "/fhir/Task/1", 401, count=12, outcome_desc="no token"), BASE)
    assert event["outcomeDesc"] == "no token (12 similar requests)"
    request = event["entity"][-1]
    assert request["detail"] == [{"type": "count", "valueString": "12"}]


def test_tokens_never_reach_the_record_or_the_event():
    secret = "eyJhbGciOiJFUzM4NCJ9.c2VjcmV0.c2ln"
    rec = practice_search(query=f"access_token={secret}&_count=5&client_assertion={secret}&Access_Token={secret}")
    assert rec.query == "_count=5"
    assert secret not in rec.to_json().decode()
    event = to_audit_event(rec, BASE)
    dump = orjson.dumps(event).decode()
    assert secret not in dump and "access_token" not in dump.lower()
    assert base64.b64decode(event["entity"][-1]["query"]) == b"_count=5"
    # even a record rebuilt from a tampered spool line is scrubbed
    tampered = orjson.loads(rec.to_json())
    tampered["query"] = f"a=1&access_token={secret}"
    assert AccessRecord.from_json(orjson.dumps(tampered)).query == "a=1"


def test_scrub_query_keeps_everything_else_byte_for_byte():
    assert scrub_query("subject=Organization%2FA1&code=x&access_token=t") == "subject=Organization%2FA1&code=x"
    assert scrub_query("") == "" and scrub_query("_id=1") == "_id=1"


def test_record_round_trips_through_json():
    rec = practice_search(count=3)
    again = AccessRecord.from_json(rec.to_json())
    assert again == rec and isinstance(again.resources[0], tuple)
    assert rec.recorded.endswith("Z") and len(rec.recorded) == len("2026-11-23T10:00:00.123Z")


def test_unknown_interaction_is_refused():
    with pytest.raises(ValueError):
        new_record("rummage", "GET", "/", 200)


def test_only_organisation_entities_name_an_organisation():
    """The policy rule reads ref_ods(entity.what); a returned Organization resource must not make
    the event 'about' that organisation unless the caller listed it."""
    rec = practice_search(organisations=("A81001",), resources=(("Organization/B82002", None),))
    event = to_audit_event(rec, BASE)
    assert entity_organisations(event) == {"A81001"}
    assert {ref_ods(e.get("what")) for e in event["entity"]} - {None} == {"A81001"}


@pytest.mark.parametrize("org,allowed", [("A81001", True), ("U12345", True), ("B82002", False), (None, False)])
def test_policy_rule_sees_the_organisation_entities(org, allowed):
    event = to_audit_event(practice_search(organisations=("A81001", "U12345")), BASE)
    principal = SimpleNamespace(client_id="c", org=org, role="practice", purpose="HOPERAT")
    assert bool(can_see(principal, None, event)) is allowed
