"""$export goes through the same policy engine as every other read: each caller of the policy
world gets in bulk exactly what paging its searches gives it (masked and labelled), plus the
recent aggregates of the ICBs and PCN cells it has an aggregate grant for; an aggregate-only
caller gets no practice rows. Expectations come from searching and from the oracle."""
from __future__ import annotations

import tempfile
import time

import orjson
import pytest
import requests

from adapter.aggregates.definitions import MEASURES
from adapter.aggregates.recent import AGGREGATE_IDENTIFIER, complete_quarters
from tests.api.test_bulk_export import ASYNC
from tests.conftest import close_app, fetch_token, start_live_server
from tests.integration.test_visible import _expected_subjects, _searched
from tests.policy_oracle import PRACTICES_OF, STAFF_NAME, TODAY
from tests.policy_world import ROLE_ORG, STORES, get_world, local

DEFAULT_TYPES = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Measure", "MeasureReport",
                 "Consent", "Provenance")
CALLERS = ("service", "practice-A00001", "pcn-U00001", "icb-QAA", "external", "pcn-U00004")


def _export(world, http, query: str = "") -> tuple[dict, dict[str, list[dict]]]:
    """Kick off, poll, download every file: (manifest, resources by type), through the test client."""
    response = http.get(f"/fhir/$export{query}", headers=ASYNC)
    assert response.status_code == 202, response.get_json()
    location = local(response.headers["Content-Location"], world)
    end = time.monotonic() + 300
    while (status := http.get(location)).status_code == 202 and time.monotonic() < end:
        time.sleep(0.05)
    assert status.status_code == 200, status.get_data(as_text=True)
    manifest = status.get_json()
    out: dict[str, list[dict]] = {}
    for entry in manifest["output"]:
        data = http.get(local(entry["url"], world))
        assert data.status_code == 200
        rows = [orjson.loads(line) for line in data.data.splitlines() if line]
        assert len(rows) == entry["count"] and all(r["resourceType"] == entry["type"] for r in rows)
        out.setdefault(entry["type"], []).extend(rows)
    assert http.delete(location).status_code == 202  # done with it: files go
    return manifest, out


def _plain(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "meta"} | {"security": resource.get("meta", {}).get("security")}


def _is_aggregate(resource: dict) -> bool:
    return resource["resourceType"] == "MeasureReport" and any(
        i.get("system") == AGGREGATE_IDENTIFIER for i in resource.get("identifier") or [])


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", CALLERS)
def test_each_caller_exports_exactly_what_it_may_search(request, store, name):
    world = get_world(request, store)
    world.set_phase("all-contracts")
    http = world.client(name, "HOPERAT")
    manifest, exported = _export(world, http)
    assert {o["type"] for o in manifest["output"]} <= set(DEFAULT_TYPES)
    for type_ in DEFAULT_TYPES:
        rows = [r for r in exported.get(type_, []) if not _is_aggregate(r)]
        searched = _searched(world, name, "HOPERAT", type_)
        by_id = {r["id"]: r for r in rows}
        assert len(by_id) == len(rows), type_  # each resource once
        assert set(by_id) == set(searched), type_
        assert all(_plain(by_id[i]) == _plain(searched[i]) for i in by_id), type_

    # The recent aggregates: every Measure x every ICB and cell granted x the last four quarters.
    aggregates = [r for r in exported.get("MeasureReport", []) if _is_aggregate(r)]
    quarters = [q.start.isoformat() for q in complete_quarters(TODAY)]
    expected = {"-".join([m, subject] + ([cell] if cell else []) + [q])
                for m, definition in MEASURES.items()
                for subject, cell in _expected_subjects(name, definition.data_type) for q in quarters}
    assert {r["id"] for r in aggregates} == expected
    assert all(r["type"] == "summary" for r in aggregates)

    text = orjson.dumps(exported).decode()
    viewer = world.viewer(name, "HOPERAT")
    role, org = ROLE_ORG[name]
    if not (role == "service" or role == "practice"):
        assert STAFF_NAME not in text  # masked: no staff names anywhere
    if name in ("external", "pcn-U00004"):  # aggregate-only for assessments and actions
        assert "QuestionnaireResponse" not in exported and "Task" not in exported
        assert aggregates
    leaked = [s for s in viewer.forbidden_strings() if s in text and not any(s in r["id"] for r in aggregates)]
    assert not leaked


@pytest.mark.parametrize("store", STORES)
def test_since_type_filters_and_organization_narrow_the_export(request, store):
    world = get_world(request, store)
    world.set_phase("all-contracts")
    http = world.client("service", "HOPERAT")
    tasks = _searched(world, "service", "HOPERAT", "Task")
    subjects = sorted({t["for"]["reference"] for t in tasks.values()})[:2]
    assert len(subjects) == 2

    # Several _typeFilters of one type are ORed: the union, each resource once (the second filter
    # overlaps the first).
    _, exported = _export(world, http, f"?_type=Task&_typeFilter=Task?subject={subjects[0]}"
                                       f"&_typeFilter=Task?subject={subjects[0]},{subjects[1]}")
    either = _searched(world, "service", "HOPERAT", "Task", f"&subject={subjects[0]},{subjects[1]}")
    assert sorted(r["id"] for r in exported["Task"]) == sorted(either)
    assert {r["for"]["reference"] for r in exported["Task"]} == set(subjects)

    # organization: that organisation and everything beneath it.
    _, exported = _export(world, http, "?_type=Task,Organization,MeasureReport&organization=U00001")
    area = {"U00001"} | set(PRACTICES_OF["U00001"])
    assert {r["id"] for r in exported["Organization"]} == area
    assert {r["id"] for r in exported["Task"]} == {
        i for i, t in tasks.items() if t["for"]["reference"].split("/")[1] in area}
    subjects = {r["extension"][0]["valueReference"]["reference"].split("/")[1]
                for r in exported["MeasureReport"] if _is_aggregate(r)}
    assert subjects == {"U00001"}
    keys = {r["id"] for r in exported["MeasureReport"] if _is_aggregate(r)}
    assert any("-U00001-QAA-" in k for k in keys) and any("-U00001-QBB-" in k for k in keys)  # both cells

    # organization=<ICB>: the ICB and the cells inside it; the spanning PCN's cell in QBB is not QAA's.
    _, exported = _export(world, http, "?_type=MeasureReport&organization=QAA")
    keys = {r["id"] for r in exported["MeasureReport"] if _is_aggregate(r)}
    assert any("-U00001-QAA-" in k for k in keys) and any(k.split("-")[-4] == "QAA" for k in keys)
    assert not any("QBB" in k for k in keys)

    # _since: only what changed after it; the aggregates (recomputed) are always there.
    stamps = sorted(t["meta"]["lastUpdated"] for t in tasks.values())
    middle = stamps[len(stamps) // 2]
    _, exported = _export(world, http, f"?_type=Task&_since={middle}")
    assert {r["id"] for r in exported.get("Task", [])} == {
        i for i, t in tasks.items() if t["meta"]["lastUpdated"] > middle}


@pytest.mark.parametrize("store", STORES)
def test_whole_flow_over_real_http_for_a_masked_caller(request, store):
    world = get_world(request, store)
    world.set_phase("all-contracts")
    name = "pcn-U00001"
    searched = {t: _searched(world, name, "HOPERAT", t) for t in ("QuestionnaireResponse", "Task")}
    role, org = ROLE_ORG[name]
    client_id = world.client_id(name)
    world.register(client_id, role, org)
    world.register("pw-bulk-stranger", "service", None)
    server = start_live_server(world.url, policy_today=TODAY.isoformat(), token_lifetime=3600,
                               rate_limit_per_minute=0, audit_spool_dir=tempfile.mkdtemp(prefix="dthub-bulk-"))
    try:
        token = fetch_token(requests, server.token_url, client_id, world.private, purpose="HOPERAT")
        stranger = fetch_token(requests, server.token_url, "pw-bulk-stranger", world.private, purpose="HOPERAT")
        auth = {"Authorization": f"Bearer {token}"}
        kicked = requests.get(f"{server.fhir}/$export?_type=QuestionnaireResponse,Task",
                              headers={**auth, **ASYNC, "Accept": "application/fhir+json"}, timeout=30)
        assert kicked.status_code == 202
        location = kicked.headers["Content-Location"]
        assert location.startswith(f"{server.fhir}/_bulk/")
        end = time.monotonic() + 300
        while (status := requests.get(location, headers=auth, timeout=30)).status_code == 202:
            assert status.headers["X-Progress"] and int(status.headers["Retry-After"]) >= 1
            assert time.monotonic() < end
            time.sleep(0.05)
        assert status.status_code == 200 and status.headers["Content-Type"].startswith("application/json")
        manifest = status.json()
        assert manifest["requiresAccessToken"] is True
        got: dict[str, dict] = {}
        for entry in manifest["output"]:
            response = requests.get(entry["url"], headers={**auth, "Accept": "application/fhir+ndjson"}, timeout=30)
            assert response.status_code == 200
            assert response.headers["Content-Type"].startswith("application/fhir+ndjson")
            assert STAFF_NAME not in response.text
            for line in response.text.splitlines():
                resource = orjson.loads(line)
                got.setdefault(resource["resourceType"], {})[resource["id"]] = resource
            other = {"Authorization": f"Bearer {stranger}"}
            assert requests.get(entry["url"], headers=other, timeout=30).status_code == 404
            assert requests.get(entry["url"], timeout=30).status_code == 401
        for type_, expected in searched.items():
            assert set(got.get(type_, {})) == set(expected), type_
            assert all(_plain(got[type_][i]) == _plain(expected[i]) for i in expected), type_
        assert requests.get(location, headers={"Authorization": f"Bearer {stranger}"}, timeout=30).status_code == 404
        assert requests.delete(location, headers=auth, timeout=30).status_code == 202
        assert requests.get(location, headers=auth, timeout=30).status_code == 404
    finally:
        server.stop()
        close_app(server.app)
