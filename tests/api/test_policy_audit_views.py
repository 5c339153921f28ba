"""AuditEvent over HTTP: every access (allowed or refused) is recorded; an organisation's
clients see the events about their organisation only, never other organisations' resource ids;
service sees all. A world of its own ("audit"), so the trail holds only what these tests did."""
from __future__ import annotations

import json

import pytest

from tests.policy_world import ITEM_BY_REF, ITEMS, ODS, STORES, get_world

# (caller, purpose, path, the practice whose data it is)
ACCESSES = [("service", "HOPERAT", "/fhir/Task/A-A00003-1", "A00003"),
            ("service", "HOPERAT", "/fhir/QuestionnaireResponse/S-B00001-G", "B00001"),
            ("pcn-U00003", "HOPERAT", "/fhir/Task/A-B00002-1", "B00002"),
            ("icb-QAA", "HOPERAT", "/fhir/Task/A-A00001-1", "A00001"),  # refused: 404
            ("practice-A00001", "HOPERAT", "/fhir/Task/A-A00001-1", "A00001")]


@pytest.fixture(scope="module", params=STORES)
def audited(request):
    world = get_world(request, request.param, "audit")
    world.set_phase("all-contracts")
    if world.audit is None:  # TODO: the audit trail extension is not there: nothing to test yet
        pytest.skip("no audit trail extension (AuditTrail with flush()) on the app")
    if not getattr(world, "_audited", False):
        statuses = [world.client(name, purpose).get(path).status_code for name, purpose, path, _ in ACCESSES]
        assert statuses == [200, 200, 200, 404, 200]
        service = world.client("service", "HOPERAT")  # accesses to data of every practice at once
        assert service.get("/fhir/Task?_count=100").status_code == 200
        assert service.get("/fhir/QuestionnaireResponse?_revinclude=Task:focus&_count=100").status_code == 200
        world.audit.flush()
        world._audited = True
    return world


def _events(world, name: str, purpose: str = "HOPERAT") -> tuple[list[dict], str]:
    response = world.client(name, purpose).get("/fhir/AuditEvent?_count=1000")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    bundle = response.get_json()
    events = [e["resource"] for e in bundle.get("entry") or [] if e.get("search", {}).get("mode") == "match"]
    assert bundle.get("total") == len(events)
    return events, response.get_data(as_text=True)


def _about(event: dict) -> set[str]:
    return {(e.get("what") or {}).get("identifier", {}).get("value") for e in event.get("entity") or []
            if (e.get("what") or {}).get("identifier", {}).get("system") == ODS}


def _names(event: dict, path: str) -> bool:
    return path.removeprefix("/fhir/") in json.dumps(event)


@pytest.mark.parametrize("name, org", [("practice-A00001", "A00001"), ("practice-A00003", "A00003"),
                                       ("practice-C00001", "C00001"), ("pcn-U00003", "U00003"),
                                       ("icb-QAA", "QAA"), ("icb-QBB", "QBB"), ("federation-FED02", "FED02")])
def test_an_organisation_sees_only_the_events_about_itself(audited, name, org):
    """Events about the caller's organisation only; never naming a resource the caller may not see
    (a refused read's event naming the resource and its owner would tell that it exists); the
    practice finds every access to its own data."""
    events, text = _events(audited, name)
    assert all(org in _about(e) for e in events), [sorted(_about(e)) for e in events]
    viewer = audited.viewer(name, "HOPERAT")
    problems = []
    for _, _, path, practice in ACCESSES:
        ref = path.removeprefix("/fhir/")
        if not viewer.sees(ITEM_BY_REF[ref]) and ref in text:
            problems.append(f"{name} is shown an event naming {ref}, which it may not see")
        if practice == org and not any(_names(e, path) for e in events):
            problems.append(f"{name} does not see the access to {path}")
    hidden = sorted(i.id for i in ITEMS if not viewer.sees(i) and i.id in text)
    if hidden:
        problems.append(f"{name}'s AuditEvents name resources it may not see: {hidden}")
    assert not problems, "\n".join(problems)


def test_a_practice_sees_who_accessed_its_data_even_when_refused(audited):
    events, _ = _events(audited, "practice-A00001")
    agents = [{json.dumps(a.get("who")) for a in e.get("agent") or []} for e in events
              if _names(e, "/fhir/Task/A-A00001-1")]
    assert any(any('"QAA"' in who for who in whos) for whos in agents), "the ICB's refused read is not shown"


def test_service_sees_every_access(audited):
    events, _ = _events(audited, "service")
    for _, _, path, _ in ACCESSES:
        assert any(_names(e, path) for e in events), path


@pytest.mark.parametrize("name, purpose", [("external", "HMARKT"), ("external", "HOPERAT")])
def test_a_client_without_organisation_sees_no_events(audited, name, purpose):
    events, text = _events(audited, name, purpose)
    assert events == []
    assert not any(path.removeprefix("/fhir/") in text for _, _, path, _ in ACCESSES)


def test_reading_another_organisations_event_is_a_404(audited):
    events, _ = _events(audited, "service")
    about_b = [e for e in events if "B00001" in _about(e) and "A00003" not in _about(e)]
    assert about_b
    http = audited.client("practice-A00003", "HOPERAT")
    response = http.get(f"/fhir/AuditEvent/{about_b[0]['id']}")
    missing = http.get("/fhir/AuditEvent/X-missing-1")
    assert response.status_code == missing.status_code == 404
    assert "B00001" not in response.get_data(as_text=True)
