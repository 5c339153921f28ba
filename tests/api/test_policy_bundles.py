"""Policy enforcement inside batch and transaction Bundles: each GET entry judged like the
interaction it names (hidden = a missing id's 404), each write entry like its write; a
transaction holding one write the caller may not make is refused whole (403), nothing stored."""
from __future__ import annotations

import json
import re

import pytest

from tests.api.test_policy_writes import ACTION, _forbidden, _identifier, _stored, new_task
from tests.policy_world import (FHIR_JSON, ITEMS, STORES, bundle_entries, combo_id, combos, get_world, ids_of, leaks,
                                view_problems)

MISSING = "X-missing-1"


@pytest.fixture(scope="module", params=STORES)
def world(request):
    return get_world(request, request.param, "reads")


@pytest.fixture(scope="module")
def writes(request, world):
    w = get_world(request, world.store, "writes")
    w.set_phase("all-contracts")
    return w


def _post(http, bundle: dict):
    return http.post("/fhir", data=json.dumps(bundle), headers={"Content-Type": FHIR_JSON})


def _status(entry: dict) -> str:
    return str((entry.get("response") or {}).get("status", "")).split(" ")[0]


def _outcome_shape(entry: dict, id_: str) -> str:
    text = json.dumps((entry.get("response") or {}).get("outcome") or entry.get("resource") or {}, sort_keys=True)
    return re.sub(r"\b[0-9a-f]{32}\b|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>",
                  text).replace(id_, "<id>")


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=("no-contract", "all-contracts")),
                         ids=combo_id)
def test_batch_get_entries_are_judged_one_by_one(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    requests = [(item, f"{item.type}/{item.id}") for item in ITEMS]
    requests += [(item, f"{item.type}/{item.id}/_history/1") for item in ITEMS if item.type == "Task"]
    missing = [(None, f"{t}/{MISSING}") for t in ("QuestionnaireResponse", "Task", "MeasureReport")]
    missing.append((None, f"Task/{MISSING}/_history/1"))
    searches = [(None, "Task?_count=500"), (None, "QuestionnaireResponse?_count=500")]
    all_requests = requests + missing + searches
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"request": {"method": "GET", "url": url}} for _, url in all_requests]}
    response = _post(http, bundle)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    entries = response.get_json().get("entry") or []
    assert len(entries) == len(all_requests)
    problems = []
    for (_, url), entry in zip(all_requests, entries):  # each entry may name only what its own request did
        text = json.dumps(entry)
        named = sorted(s for s in viewer.forbidden_strings(url) if s in text)
        if named:
            problems.append(f"{url}: the entry names {named}")
    if leaks(response, viewer, allowed=json.dumps(bundle)):
        problems.append(f"batch response names {leaks(response, viewer, allowed=json.dumps(bundle))}")
    missing_shape = {url.replace(MISSING, "<id>"): _outcome_shape(e, MISSING)
                     for (_, url), e in zip(missing, entries[len(requests):len(requests) + len(missing)])}
    for (item, url), entry in zip(requests, entries):
        status = _status(entry)
        if not viewer.sees(item):
            if status != "404":
                problems.append(f"{url}: entry status {status}, want 404")
            elif _outcome_shape(entry, item.id) != missing_shape[url.replace(item.id, "<id>")]:
                problems.append(f"{url}: 404 entry differs from a missing id's")
        else:
            want = "410" if item.deleted and "_history" not in url else "200"
            if status != want:
                problems.append(f"{url}: entry status {status}, want {want}")
            elif want == "200":
                problems += [f"{url}: {p}" for p in view_problems(entry["resource"], item, viewer)]
    for (_, url), entry in zip(searches, entries[-2:]):
        type_ = url.split("?")[0]
        got = set(ids_of(bundle_entries(entry.get("resource") or {})))
        if got != viewer.visible(type_):
            problems.append(f"{url} in a batch: {sorted(got)}, want {sorted(viewer.visible(type_))}")
    assert not problems, "\n".join(problems)


def test_a_transaction_with_one_forbidden_write_is_refused_whole(writes):
    http = writes.client("practice-A00001", "HOPERAT")
    own, theirs = new_task("A00001"), new_task("B00001")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:6f1b0c44-0c1e-4a43-9d7c-4e1f1c0a0001", "resource": own,
         "request": {"method": "POST", "url": "Task"}},
        {"fullUrl": "urn:uuid:6f1b0c44-0c1e-4a43-9d7c-4e1f1c0a0002", "resource": theirs,
         "request": {"method": "POST", "url": "Task"}}]}
    assert _forbidden(_post(http, bundle)) is None
    assert _stored(writes, "Task", _identifier(own)) == [] and _stored(writes, "Task", _identifier(theirs)) == []
    bundle["entry"] = bundle["entry"][:1]
    response = _post(http, bundle)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert len(_stored(writes, "Task", _identifier(own))) == 1


def test_a_transaction_touching_a_contract_consent_is_refused_whole(writes):
    service = writes.client("service", "HOPERAT")
    task = new_task("A00001")
    contract = service.get("/fhir/Consent/C-U3").get_json()
    contract["status"] = "inactive"
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:6f1b0c44-0c1e-4a43-9d7c-4e1f1c0a0003", "resource": task,
         "request": {"method": "POST", "url": "Task"}},
        {"fullUrl": f"{writes.config.fhir_base}/Consent/C-U3", "resource": contract,
         "request": {"method": "PUT", "url": "Consent/C-U3"}}]}
    assert _forbidden(_post(service, bundle)) is None
    assert _stored(writes, "Task", _identifier(task)) == []
    assert service.get("/fhir/Consent/C-U3").get_json()["status"] == "active"


def test_a_transaction_conditional_entry_does_not_reach_hidden_resources(writes):
    http = writes.client("practice-A00001", "HOPERAT")
    task = new_task("A00001")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:6f1b0c44-0c1e-4a43-9d7c-4e1f1c0a0004", "resource": task,
         "request": {"method": "PUT", "url": f"Task?identifier={ACTION}|A-B00001-1"}}]}
    response = _post(http, bundle)
    assert "Jo Bloggs" not in response.get_data(as_text=True) or response.status_code == 200
    (theirs,) = _stored(writes, "Task", f"{ACTION}|A-B00001-1")
    assert theirs["meta"]["versionId"] == "1" and theirs["for"]["reference"] == "Organization/B00001"


@pytest.mark.parametrize("name, purpose, own_status, other_status", [
    ("practice-A00001", "HOPERAT", "201", "403"), ("practice-A00001", "HMARKT", "403", "403"),
    ("pcn-U00001", "HOPERAT", "403", "403"), ("service", "HOPERAT", "201", "201")])
def test_batch_write_entries_are_judged_one_by_one(writes, name, purpose, own_status, other_status):
    http = writes.client(name, purpose)
    own, other = new_task("A00001"), new_task("B00001")
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": own, "request": {"method": "POST", "url": "Task"}},
        {"resource": other, "request": {"method": "POST", "url": "Task"}}]}
    response = _post(http, bundle)
    assert response.status_code == 200, response.get_data(as_text=True)
    got = [_status(e) for e in response.get_json()["entry"]]
    assert got == [own_status, other_status]
    assert len(_stored(writes, "Task", _identifier(own))) == (own_status == "201")
    assert len(_stored(writes, "Task", _identifier(other))) == (other_status == "201")
