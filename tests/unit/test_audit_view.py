"""What an organisation's client sees of an AuditEvent about its data."""
from __future__ import annotations

from types import SimpleNamespace

import orjson

from adapter.audit import audit_view, new_record, to_audit_event
from tests.conformance import assert_conformant

BASE = "http://fhir.test/fhir"
REDACTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "REDACTED",
            "display": "redacted"}


def caller(role: str, org: str | None) -> SimpleNamespace:
    return SimpleNamespace(client_id=f"{role}-app", org=org, role=role, purpose="HOPERAT")


def icb_search_event() -> dict:
    """An ICB analyst's search that returned Tasks of two practices in two PCNs."""
    rec = new_record("search-type", "GET", "/fhir/Task", 200, client_id="icb-app", org="QWE", role="icb",
                     purpose="HQUALIMP", source="10.0.0.7", request_id="r-9",
                     query="_id=secret-b-task,a-task&owner=Organization/B82002",
                     resources=(("Task/a-task", "A81001"), ("Task/secret-b-task", "B82002"), ("Task/nobody", None)),
                     organisations=("A81001", "U11111", "B82002", "U22222", "QWE"),
                     deciding=("Consent/tier-icb", "Consent/contract-qwe", "rule:icb-contract"))
    return to_audit_event(rec, BASE)


def org_codes(event: dict) -> list[str]:
    return [e["what"]["identifier"]["value"] for e in event.get("entity", [])
            if e.get("type", {}).get("code") == "3"]


def test_practice_sees_only_its_own_entities():
    event = icb_search_event()
    view = audit_view(caller("practice", "A81001"), event, frozenset({"A81001"}))
    dump = orjson.dumps(view).decode()
    assert org_codes(view) == ["A81001"]
    assert f"{BASE}/Task/a-task" in dump
    for hidden in ("secret-b-task", "B82002", "U11111", "U22222", "Task/nobody", "r-9"):
        assert hidden not in dump
    assert not any("query" in e for e in view["entity"])  # the query names other practices' ids
    assert view["meta"]["security"] == [REDACTED]
    assert_conformant(view)


def test_view_keeps_who_why_and_what_was_decided():
    event = icb_search_event()
    view = audit_view(caller("practice", "A81001"), event, frozenset({"A81001"}))
    assert view["agent"] == event["agent"]
    assert view["purposeOfEvent"] == event["purposeOfEvent"] and view["outcome"] == event["outcome"]
    refs = {e.get("what", {}).get("reference") for e in view["entity"]}
    assert {"Consent/tier-icb", "Consent/contract-qwe"} <= refs
    assert any(e.get("name") == "rule:icb-contract" for e in view["entity"])


def test_pcn_sees_its_member_practices():
    view = audit_view(caller("pcn", "U11111"), icb_search_event(), frozenset({"U11111", "A81001", "A81002"}))
    assert org_codes(view) == ["A81001", "U11111"]
    assert "secret-b-task" not in orjson.dumps(view).decode()


def test_service_sees_everything_unlabelled():
    event = icb_search_event()
    view = audit_view(caller("service", None), event, frozenset())
    assert view == event and view is not event
    assert "meta" not in view


def test_view_is_a_copy():
    event = icb_search_event()
    before = orjson.dumps(event)
    view = audit_view(caller("practice", "A81001"), event, frozenset({"A81001"}))
    view["agent"][0]["who"]["display"] = "changed"
    assert orjson.dumps(event) == before


def test_nothing_cut_means_no_label_and_labelling_is_idempotent():
    event = icb_search_event()
    event["entity"] = [e for e in event["entity"] if e.get("type", {}).get("code") == "3"
                       and e["what"]["identifier"]["value"] == "A81001"]
    view = audit_view(caller("practice", "A81001"), event, frozenset({"A81001"}))
    assert "meta" not in view
    twice = audit_view(caller("practice", "B82002"), audit_view(caller("practice", "B82002"), icb_search_event(),
                                                                frozenset({"B82002"})), frozenset({"B82002"}))
    assert twice["meta"]["security"] == [REDACTED]


def test_event_with_nothing_of_the_callers_keeps_no_entity():
    view = audit_view(caller("practice", "Z99999"), icb_search_event(), frozenset({"Z99999"}))
    assert org_codes(view) == []
    assert all(e["role"]["code"] == "13" for e in view["entity"])  # only the deciding Consents and rule
    assert_conformant(view)
