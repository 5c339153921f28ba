"""Policy enforcement on search: matches, Bundle.total, _summary=count, paging, chains, _has,
_include/_revinclude (incl. :iterate and *), Provenance, Consents, predicates over masked data;
and on history (instance in test_policy_reads, type and system here). Expected sets come from
tests/policy_oracle.py through tests/policy_world.Viewer."""
from __future__ import annotations

from collections import Counter

import pytest

from adapter.policy import shipped_tiers
from tests.policy_world import (GOVERNED_TYPES, ITEM_BY_REF, ITEMS, PRACTICE_BODIES, PRACTICE_LIST, PRACTICES_OF,
                                PROVENANCES, STORES, bundle_entries, combo_id, combos, get_world, ids_of, leaks,
                                local, next_url, view_problems)

MAIN = ("no-contract", "all-contracts")


@pytest.fixture(scope="module", params=STORES)
def world(request):
    return get_world(request, request.param, "reads")


@pytest.fixture(scope="module")
def quiet(request, world):
    """A second world for history and `_revinclude=*`: the reads world's audit trail grows with every
    request, and AuditEvents are in system history and reference what was read."""
    return get_world(request, world.store, "quiet")


def _search(http, viewer, path: str, problems: list[str]) -> dict:
    response = http.get(path)
    found = leaks(response, viewer, allowed=path)
    if found:
        problems.append(f"{path}: names {found}")
    if response.status_code != 200:
        problems.append(f"{path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return {}
    return response.get_json()


def _same(path: str, what: str, got, want, problems: list[str]) -> None:
    if got != want:
        problems.append(f"{path}: {what} {sorted(got) if isinstance(got, (set, frozenset)) else got}, "
                        f"want {sorted(want) if isinstance(want, (set, frozenset)) else want}")


def _check_matches(path: str, bundle: dict, want: set[str], problems: list[str], viewer=None) -> None:
    matches = ids_of(bundle_entries(bundle))
    if len(matches) != len(set(matches)):
        problems.append(f"{path}: duplicate matches {[i for i, n in Counter(matches).items() if n > 1]}")
    _same(path, "matches", set(matches), want, problems)
    _same(path, "total", bundle.get("total"), len(want), problems)
    if viewer is not None:
        for entry in bundle_entries(bundle):
            resource = entry["resource"]
            item = ITEM_BY_REF.get(f"{resource['resourceType']}/{resource['id']}")
            if item is not None:
                problems += [f"{path}: {p}" for p in view_problems(resource, item, viewer)]


def _suppressed_outcome(path: str, bundle: dict, problems: list[str]) -> None:
    outcomes = [e["resource"] for e in bundle_entries(bundle, "outcome")]
    issues = [i for o in outcomes for i in o.get("issue") or []]
    if not any(i.get("code") == "suppressed" and "$evaluate-measure" in str(i.get("diagnostics", "")) +
               str((i.get("details") or {}).get("text", "")) for i in issues):
        problems.append(f"{path}: nothing visible, but no `suppressed` outcome naming $evaluate-measure: {issues}")


def _included(bundle: dict, type_: str) -> set[str]:
    return set(ids_of(bundle_entries(bundle, "include"), type_))


# -- every governed type ------------------------------------------------------------------------

@pytest.mark.parametrize("combo", combos(), ids=combo_id)
def test_search_matches_exactly_what_the_caller_may_see(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    problems: list[str] = []
    for type_ in GOVERNED_TYPES:
        want = viewer.visible(type_)
        path = f"/fhir/{type_}?_count=500"
        bundle = _search(http, viewer, path, problems)
        if bundle:
            _check_matches(path, bundle, want, problems, viewer)
            if not want:
                _suppressed_outcome(path, bundle, problems)
        path = f"/fhir/{type_}?_summary=count"
        bundle = _search(http, viewer, path, problems)
        if bundle:
            _same(path, "total", bundle.get("total"), len(want), problems)
            if bundle.get("entry") and not all((e.get("search") or {}).get("mode") == "outcome"
                                               for e in bundle["entry"]):
                problems.append(f"{path}: _summary=count returned resources")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=MAIN), ids=combo_id)
def test_paging_one_by_one_yields_exactly_the_visible_set(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    problems: list[str] = []
    for type_ in ("QuestionnaireResponse", "Task"):
        want = viewer.visible(type_)
        path, seen, totals = f"/fhir/{type_}?_count=1", [], set()
        for _ in range(len(want) + 3):
            bundle = _search(http, viewer, path, problems)
            if not bundle:
                break
            seen += ids_of(bundle_entries(bundle))
            totals.add(bundle.get("total"))
            url = next_url(bundle)
            if url is None:
                break
            path = local(url, world)
        if len(seen) != len(set(seen)):
            problems.append(f"{type_} paged with _count=1: duplicates {seen}")
        _same(f"{type_}?_count=1 pages", "ids", set(seen), want, problems)
        _same(f"{type_}?_count=1 pages", "totals", totals, {len(want)}, problems)
    assert not problems, "\n".join(problems)


# -- chains, _has, _include, _revinclude ---------------------------------------------------------

def _qr_i(p: str) -> str:
    return PRACTICE_BODIES[p]["qr-indepth"]["id"]


def _task(p: str) -> str:
    return PRACTICE_BODIES[p]["task"]["id"]


def _sees(viewer, type_: str, id_: str) -> bool:
    return viewer.sees(ITEM_BY_REF[f"{type_}/{id_}"])


def _provenances_targeting(viewer, refs: set[str]) -> set[str]:
    return {pid for pid, body in PROVENANCES.items() if viewer.sees_provenance(pid)
            and any("/".join(t["reference"].split("/")[:2]) in refs for t in body["target"])}


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=MAIN), ids=combo_id)
def test_chains_has_and_includes_only_go_through_what_the_caller_may_see(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    problems: list[str] = []
    qrs, tasks = viewer.visible("QuestionnaireResponse"), viewer.visible("Task")
    tasks_with_qr = {_task(p) for p in PRACTICE_LIST if _task(p) in tasks and _qr_i(p) in qrs}

    def check(path, want, includes=None):
        bundle = _search(http, viewer, path, problems)
        if bundle:
            _check_matches(path, bundle, want, problems, viewer)
            for type_, want_included in (includes or {}).items():
                _same(path, f"included {type_}", _included(bundle, type_), want_included, problems)
            included = bundle_entries(bundle, "include")
            for entry in included:
                resource = entry["resource"]
                item = ITEM_BY_REF.get(f"{resource['resourceType']}/{resource['id']}")
                if item is not None:
                    if not viewer.sees(item):
                        problems.append(f"{path}: includes {item.ref}, which the caller may not see")
                    else:
                        problems.extend(f"{path}: {p}" for p in view_problems(resource, item, viewer))
        return bundle

    check("/fhir/QuestionnaireResponse?subject.partof=Organization/U00001&_count=500",
          {i for i in qrs if ITEM_BY_REF[f"QuestionnaireResponse/{i}"].owner in PRACTICES_OF["U00001"]})
    bundle = _search(http, viewer, "/fhir/QuestionnaireResponse?subject.partof=Organization/U00001&_summary=count",
                     problems)
    _same("subject.partof _summary=count", "total", bundle.get("total"),
          len({i for i in qrs if ITEM_BY_REF[f"QuestionnaireResponse/{i}"].owner in PRACTICES_OF["U00001"]}), problems)
    check("/fhir/Task?focus:QuestionnaireResponse.status=completed&_count=500", tasks_with_qr)
    check("/fhir/QuestionnaireResponse?_has:Task:focus:status=in-progress&_count=500",
          {_qr_i(p) for p in PRACTICE_LIST if _task(p) in tasks and _qr_i(p) in qrs})
    # Not an oracle of its own: the practices whose in-progress Tasks the caller sees.
    bundle = _search(http, viewer, "/fhir/Organization?_has:Task:subject:status=in-progress&_count=500", problems)
    _same("Organization?_has:Task:subject", "matches", set(ids_of(bundle_entries(bundle))),
          {p for p in PRACTICE_LIST if _task(p) in tasks}, problems)
    check("/fhir/Task?_include=Task:focus&_count=500", tasks,
          {"QuestionnaireResponse": {_qr_i(p) for p in PRACTICE_LIST if _task(p) in tasks_with_qr}})
    check("/fhir/QuestionnaireResponse?_revinclude=Task:focus&_count=500", qrs, {"Task": tasks_with_qr})
    check("/fhir/Task?_revinclude=Provenance:target&_count=500", tasks,
          {"Provenance": _provenances_targeting(viewer, {f"Task/{t}" for t in tasks})})
    revinc_tasks = tasks_with_qr
    check("/fhir/QuestionnaireResponse?_revinclude=Task:focus&_revinclude:iterate=Provenance:target&_count=500", qrs,
          {"Task": revinc_tasks,
           "Provenance": _provenances_targeting(viewer, {f"QuestionnaireResponse/{q}" for q in qrs}
                                                | {f"Task/{t}" for t in revinc_tasks})})
    check("/fhir/Task?_include=Task:focus&_include:iterate=QuestionnaireResponse:subject&_count=500", tasks,
          {"QuestionnaireResponse": {_qr_i(p) for p in PRACTICE_LIST if _task(p) in tasks_with_qr},
           "Organization": {p for p in PRACTICE_LIST if _task(p) in tasks}})
    check("/fhir/Task?_include=*&_count=500", tasks,
          {"QuestionnaireResponse": {_qr_i(p) for p in PRACTICE_LIST if _task(p) in tasks_with_qr},
           "Organization": {p for p in PRACTICE_LIST if _task(p) in tasks}})
    check("/fhir/Provenance?_count=500", viewer.visible_provenances())
    check("/fhir/Provenance?target=Task/A-A00001-1&_count=500",
          _provenances_targeting(viewer, {"Task/A-A00001-1"}))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=MAIN), ids=combo_id)
def test_revinclude_star_includes_only_visible_resources(quiet, combo):
    phase, name, purpose = combo
    quiet.set_phase(phase)
    viewer, http = quiet.viewer(name, purpose), quiet.client(name, purpose)
    problems: list[str] = []
    qrs, tasks = viewer.visible("QuestionnaireResponse"), viewer.visible("Task")
    path = "/fhir/QuestionnaireResponse?_revinclude=*&_count=500"
    bundle = _search(http, viewer, path, problems)
    if bundle:
        _check_matches(path, bundle, qrs, problems, viewer)
        _same(path, "included Task", _included(bundle, "Task"),
              {_task(p) for p in PRACTICE_LIST if _task(p) in tasks and _qr_i(p) in qrs}, problems)
        _same(path, "included Provenance", _included(bundle, "Provenance"),
              _provenances_targeting(viewer, {f"QuestionnaireResponse/{q}" for q in qrs}), problems)
        others = {e["resource"]["resourceType"] for e in bundle_entries(bundle, "include")} - {
            "Task", "Provenance", "AuditEvent"}
        if others:
            problems.append(f"{path}: unexpected included types {others}")
    assert not problems, "\n".join(problems)


# -- Consents -----------------------------------------------------------------------------------

@pytest.mark.parametrize("combo", combos(purposes=("HOPERAT",)), ids=combo_id)
def test_consent_search_returns_the_tiers_and_only_the_callers_contracts(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    problems: list[str] = []
    want = set(shipped_tiers().ids) | {c["id"] for c in viewer.contracts if viewer.sees_contract(c["id"])}
    path = "/fhir/Consent?_count=500"
    bundle = _search(http, viewer, path, problems)
    if bundle:
        _check_matches(path, bundle, want, problems)
    path = "/fhir/Consent?_summary=count"
    _same(path, "total", _search(http, viewer, path, problems).get("total"), len(want), problems)
    assert not problems, "\n".join(problems)


# -- predicates over masked data ----------------------------------------------------------------

@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=MAIN), ids=combo_id)
def test_predicates_over_masked_staff_behave_as_if_it_were_absent(world, combo):
    """Staff are contained (Task.owner, QuestionnaireResponse.author -> `#...-role`), and a masked
    view replaces them by the practice. Whatever the server indexes, for every caller:
    `:missing=true` / `:missing=false` partition exactly the visible set (nothing reached through
    them that the caller may not see; totals exact); among the resources whose staff the caller
    may not see, the predicate cannot tell them apart; `_sort` on them returns each visible
    resource once; searching them by an organisation never reaches a resource the caller may not see."""
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer, http = world.viewer(name, purpose), world.client(name, purpose)
    problems: list[str] = []
    for type_, param in (("Task", "owner"), ("QuestionnaireResponse", "author")):
        want = viewer.visible(type_)
        parts = {}
        for flag in ("true", "false"):
            path = f"/fhir/{type_}?{param}:missing={flag}&_count=500"
            bundle = _search(http, viewer, path, problems)
            parts[flag] = set(ids_of(bundle_entries(bundle)))
            _same(path, "total", bundle.get("total"), len(parts[flag]), problems)
        if parts["true"] & parts["false"] or (parts["true"] | parts["false"]) != want:
            problems.append(f"{type_}?{param}:missing= true {sorted(parts['true'])} / false {sorted(parts['false'])}"
                            f" do not partition the visible set {sorted(want)}")
        for masked in (True, False):
            items = {i for i in want if viewer.staff_masked(ITEM_BY_REF[f"{type_}/{i}"]) == masked}
            hits = {i for i in items if i in parts["false"]}
            if items and hits not in (set(), items):
                problems.append(f"{type_}?{param}:missing=false tells apart resources whose staff are "
                                f"{'masked' if masked else 'shown'}: {sorted(hits)} of {sorted(items)}")
        for order in (param, f"-{param}"):
            path = f"/fhir/{type_}?_sort={order}&_count=500"
            bundle = _search(http, viewer, path, problems)
            got = ids_of(bundle_entries(bundle))
            if sorted(got) != sorted(want):
                problems.append(f"{path}: {got}, want each of {sorted(want)} once")
        for value in ("Organization/" + p for p in PRACTICE_LIST[:3]):
            path = f"/fhir/{type_}?{param}={value}&_count=500"
            bundle = _search(http, viewer, path, problems)
            got = set(ids_of(bundle_entries(bundle)))
            if not got <= want:
                problems.append(f"{path}: matched {sorted(got - want)}, which the caller may not see")
    assert not problems, "\n".join(problems)


# -- type and system history --------------------------------------------------------------------

def _versions(viewer, type_: str | None) -> Counter:
    return Counter({f"{i.type}/{i.id}": (2 if i.deleted else 1) for i in ITEMS
                    if (type_ is None or i.type == type_) and viewer.sees(i)})


def _walk_history(http, viewer, world, path: str, problems: list[str]) -> tuple[list[dict], set]:
    entries, totals = [], set()
    for _ in range(200):
        bundle = _search(http, viewer, path, problems)
        if not bundle:
            break
        entries += bundle.get("entry") or []
        totals.add(bundle.get("total"))
        url = next_url(bundle)
        if url is None:
            break
        path = local(url, world)
    return entries, totals


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=MAIN), ids=combo_id)
def test_type_and_system_history_list_only_visible_versions(quiet, combo):
    phase, name, purpose = combo
    quiet.set_phase(phase)
    viewer, http = quiet.viewer(name, purpose), quiet.client(name, purpose)
    problems: list[str] = []
    for type_ in GOVERNED_TYPES:
        path = f"/fhir/{type_}/_history?_count=1000"
        entries, totals = _walk_history(http, viewer, quiet, path, problems)
        got = Counter(local(e["fullUrl"], quiet).removeprefix("/fhir/") for e in entries)
        want = _versions(viewer, type_)
        _same(path, "versions", dict(got), dict(want), problems)
        _same(path, "totals", totals, {sum(want.values())}, problems)
        for entry in entries:
            if "resource" in entry:
                item = ITEM_BY_REF.get(f"{type_}/{entry['resource']['id']}")
                if item is not None:
                    problems += [f"{path}: {p}" for p in view_problems(entry["resource"], item, viewer)]
    if phase != "all-contracts":  # system history is long (shipped conformance resources): one world
        assert not problems, "\n".join(problems)
        return
    path = "/fhir/_history?_count=1000"
    entries, totals = _walk_history(http, viewer, quiet, path, problems)
    urls = [local(e["fullUrl"], quiet).removeprefix("/fhir/") for e in entries]
    governed = Counter(u for u in urls if u.split("/")[0] in GOVERNED_TYPES)
    _same(path, "governed versions", dict(governed), dict(_versions(viewer, None)), problems)
    if len(totals) != 1:
        problems.append(f"{path}: totals changed while paging: {totals}")
    elif (total := totals.pop()) != len(entries):
        problems.append(f"{path}: total {total}, but {len(entries)} entries listed")
    provenances = {u.split("/")[1] for u in urls if u.startswith("Provenance/")}
    _same(path, "Provenance", provenances, viewer.visible_provenances(), problems)
    assert not problems, "\n".join(problems)
