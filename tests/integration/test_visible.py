"""Bulk reads (adapter.interactions.visible) give each caller exactly what paging a search gives
it, view for view; `since`/`until`, the area and search criteria narrow it; bad criteria are 400s.
The aggregate list (adapter.aggregates.recent) covers exactly the ICBs and cells the caller has an
aggregate grant for, over the last four complete quarters, with stable identifiers."""
from __future__ import annotations

from datetime import date

import pytest

from adapter.aggregates.recent import AGGREGATE_IDENTIFIER, complete_quarters, recent_reports
from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.enforcement.gate import Gate
from adapter.interactions.visible import Selection, area_of, checked, visible
from adapter.outcomes import OperationOutcomeError
from adapter.aggregates.definitions import MEASURES
from adapter.aggregates.periods import Period
from tests.policy_world import STORES, bundle_entries, get_world, local, next_url

TYPES = ("QuestionnaireResponse", "Task", "MeasureReport", "Consent", "Organization", "Provenance", "AuditEvent")
CALLERS = ("practice-A00001", "pcn-U00001", "federation-FED01", "icb-QAA", "external", "service")


def _gate(world, name: str, purpose: str) -> Gate:
    from tests.policy_world import ROLE_ORG

    role, org = ROLE_ORG[name]
    ctx = world.app.extensions["dthub"]
    principal = Principal(world.client_id(name), org, role, ScopeSet.parse("system/*.rs"), purpose)
    return Gate(ctx.policy, principal, ctx.repo)


def _searched(world, name: str, purpose: str, type_: str, query: str = "") -> dict[str, dict]:
    http = world.client(name, purpose)
    url, out = f"/fhir/{type_}?_count=1000{query}", {}
    while url:
        response = http.get(url)
        assert response.status_code == 200, response.get_json()
        bundle = response.get_json()
        out.update({e["resource"]["id"]: e["resource"] for e in bundle_entries(bundle)})
        url = local(next_url(bundle), world) if next_url(bundle) else None
    return out


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", CALLERS)
def test_bulk_read_is_what_search_serves(request, store, name):
    world = get_world(request, store)
    world.set_phase("all-contracts")
    ctx = world.app.extensions["dthub"]
    for type_ in TYPES:
        if type_ == "AuditEvent":
            continue  # searching writes AuditEvents: compared below once the trail is quiet
        searched = _searched(world, name, "HOPERAT", type_)
        gate = _gate(world, name, "HOPERAT")
        bulk = {v.id: view for v, view in visible(ctx, gate, Selection(type_), batch=7)}
        assert set(bulk) == set(searched), type_

        def plain(r):
            return {k: v for k, v in r.items() if k != "meta"} | {"security": r.get("meta", {}).get("security")}
        assert all(plain(bulk[i]) == plain(searched[i]) for i in bulk), type_


@pytest.mark.parametrize("store", STORES)
def test_since_until_area_and_criteria_narrow(request, store):
    world = get_world(request, store)
    world.set_phase("all-contracts")
    ctx = world.app.extensions["dthub"]
    gate = _gate(world, "service", "HOPERAT")
    every = [v for v, _ in visible(ctx, gate, Selection("Task"))]
    assert len(every) > 3
    stamps = sorted(v.last_updated for v in every)
    middle = stamps[len(stamps) // 2]
    later = {v.id for v, _ in visible(ctx, gate, Selection("Task", since=middle))}
    assert later == {v.id for v in every if v.last_updated > middle}
    earlier = {v.id for v, _ in visible(ctx, gate, Selection("Task", until=middle))}
    assert earlier == {v.id for v in every if v.last_updated <= middle}

    hierarchy = ctx.policy.inputs().hierarchy
    area = area_of(hierarchy, "U00001")
    assert area is not None and "U00001" in area and hierarchy.practices_of("U00001") <= area
    in_area = {v.id for v, view in visible(ctx, gate, Selection("Task", area=area))}
    assert in_area and in_area == {v.id for v in every if v.resource()["for"]["reference"].split("/")[1] in area}
    orgs = {v.id for v, _ in visible(ctx, gate, Selection("Organization", area=area))}
    assert orgs == set(area)
    assert area_of(hierarchy, "NOPE") is None

    first = every[0].resource()
    status = first["status"]
    by_status = {v.id for v, _ in visible(ctx, gate, Selection("Task", params=(("status", status),)))}
    assert first["id"] in by_status and all(v.resource()["status"] == status for v in every if v.id in by_status)


def test_bad_criteria_are_refused_before_any_work():
    with pytest.raises(OperationOutcomeError) as unknown:
        checked(Selection("Task", params=(("colour", "red"),)))
    assert unknown.value.status == 400 and "colour" in str(unknown.value.outcome)
    with pytest.raises(OperationOutcomeError) as result:
        checked(Selection("Task", params=(("_sort", "status"),)))
    assert result.value.status == 400


def test_complete_quarters_are_the_four_before_today():
    assert complete_quarters(date(2026, 11, 23)) == [
        Period(date(2025, 10, 1), date(2025, 12, 31)), Period(date(2026, 1, 1), date(2026, 3, 31)),
        Period(date(2026, 4, 1), date(2026, 6, 30)), Period(date(2026, 7, 1), date(2026, 9, 30))]
    assert complete_quarters(date(2026, 4, 1))[-1] == Period(date(2026, 1, 1), date(2026, 3, 31))


@pytest.mark.parametrize("name", ("pcn-U00001", "icb-QAA", "external"))
def test_recent_aggregates_cover_the_granted_groups(request, name):
    world = get_world(request, "sqlite")
    world.set_phase("all-contracts")
    ctx = world.app.extensions["dthub"]
    gate = _gate(world, name, "HOPERAT")
    today = ctx.policy.today()
    items = list(recent_reports(ctx.aggregates, gate.grants, today, measures=("usage", "global-assessment")))
    quarters = complete_quarters(today)
    for measure in ("usage", "global-assessment"):
        mine = [i for i in items if i.measure_id == measure]
        # Every item is what $evaluate-measure gives the caller for that subject and quarter.
        http = world.client(name, "HOPERAT")
        for item in mine[:6]:
            query = (f"subject=Organization/{item.subject}&periodStart={item.period.start}"
                     f"&periodEnd={item.period.end}" + (f"&icb={item.cell_icb}" if item.cell_icb else ""))
            response = http.get(f"/fhir/Measure/{measure}/$evaluate-measure?{query}")
            assert response.status_code == 200
            assert response.get_json()["group"] == item.report["group"]
        subjects = {(i.subject, i.cell_icb) for i in mine}
        assert len(mine) == len(subjects) * len(quarters)
        assert subjects == _expected_subjects(name, MEASURES[measure].data_type)
        for item in mine:
            assert item.report["identifier"] == [{"system": AGGREGATE_IDENTIFIER, "value": item.report["id"]}]
            assert item.subject in item.report["id"] and item.period.start.isoformat() in item.report["id"]
    assert len({i.report["id"] for i in items}) == len(items)


def _expected_subjects(name: str, data_type: str) -> set:
    """From the oracle: the ICBs and cells with a member in the caller's scope at that level."""
    from tests.policy_oracle import CELLS, CONTRACTS, PRACTICES_OF, expected_scope, sees
    from tests.policy_world import ROLE_ORG

    role, org = ROLE_ORG[name]
    contracts = [c for c, _ in CONTRACTS]
    out = set()
    icb_scope = expected_scope(role, org, "HOPERAT", data_type, "icb", contracts)
    pcn_scope = expected_scope(role, org, "HOPERAT", data_type, "pcn", contracts)
    out |= {(icb, None) for icb in ("QAA", "QBB") if any(sees(icb_scope, p) for p in PRACTICES_OF[icb])}
    out |= {cell for cell, members in CELLS.items() if any(sees(pcn_scope, p) for p in members)}
    return out
