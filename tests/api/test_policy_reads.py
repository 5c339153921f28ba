"""Policy enforcement on read, vread, instance history, $validate of a stored resource and error
responses, for every caller x purpose x contract world, on both stores; expectations from
tests/policy_oracle.py (see tests/policy_world.py)."""
from __future__ import annotations

import pytest

from adapter.policy import shipped_tiers
from tests.policy_world import (ALL_CONTRACTS, CALLER_NAMES, ITEMS, SAMPLE, STAFF_NAME, STORES, combo_id, combos,
                                get_world, leaks, normalise_not_found, view_problems)

MISSING = "X-missing-1"


@pytest.fixture(scope="module", params=STORES)
def world(request):
    return get_world(request, request.param, "reads")


class NotFound:
    """Compares 404s with a missing id's, asking for each missing id's answer once."""

    def __init__(self, http):
        self.http = http
        self._missing: dict = {}

    def check(self, path: str, id_: str, missing_path: str, **kwargs):
        """(response, None) when `path` answers exactly as `missing_path` (status, body, headers), else
        (response, why not)."""
        got = self.http.get(path, **kwargs)
        key = (missing_path, repr(kwargs))
        if key not in self._missing:
            want = self.http.get(missing_path, **kwargs)
            self._missing[key] = (want.status_code, normalise_not_found(want, MISSING))
        status, want = self._missing[key]
        if status != 404:
            return got, f"{missing_path}: the missing id answered {status}"
        if got.status_code != 404:
            return got, f"{path}: {got.status_code}, want 404"
        if normalise_not_found(got, id_) != want:
            return got, f"{path}: 404 differs from a missing id's: {normalise_not_found(got, id_)} vs {want}"
        if "ETag" in got.headers or "Last-Modified" in got.headers:
            return got, f"{path}: a 404 with ETag/Last-Modified"
        return got, None


@pytest.mark.parametrize("combo", combos(), ids=combo_id)
def test_read_vread_and_instance_history_follow_the_policy(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer = world.viewer(name, purpose)
    http = world.client(name, purpose)
    problems: list[str] = []
    not_found = NotFound(http)
    xml_checked = False
    for item in ITEMS:
        base, missing = f"/fhir/{item.type}/{item.id}", f"/fhir/{item.type}/{MISSING}"
        forms = [("read", base, missing)]
        if (item.owner in SAMPLE or item.kind == "usage-row") and phase != "no-contract":
            forms += [("vread", f"{base}/_history/1", f"{missing}/_history/1"),
                      ("history", f"{base}/_history", f"{missing}/_history")]
        if item.deleted and item.owner in SAMPLE and phase != "no-contract":
            forms.append(("vread-deleted", f"{base}/_history/2", f"{missing}/_history/2"))
        for form, path, missing_path in forms:
            if not viewer.sees(item):
                response, why = not_found.check(path, item.id, missing_path)
                if why:
                    problems.append(why)
            else:
                response = http.get(path)
                want = 410 if (item.deleted and form in ("read", "vread-deleted")) else 200
                if response.status_code != want:
                    problems.append(f"{path}: {response.status_code}, want {want}")
                elif want == 200 and form in ("read", "vread"):
                    problems += view_problems(response.get_json(), item, viewer)
                elif form == "history":
                    bundle = response.get_json()
                    entries = bundle.get("entry") or []
                    want_n = 2 if item.deleted else 1
                    if len(entries) != want_n or bundle.get("total") != want_n:
                        problems.append(f"{path}: {len(entries)} entries, total {bundle.get('total')}; want {want_n}")
                    for entry in entries:
                        if "resource" in entry:
                            problems += [f"{path}: {p}" for p in view_problems(entry["resource"], item, viewer)]
            found = leaks(response, viewer, allowed=path)
            if found:
                problems.append(f"{path}: names {found}")
        if (viewer.sees(item) and not item.deleted and viewer.staff_masked(item) and not xml_checked):
            xml_checked = True
            response = http.get(f"{base}?_format=xml")
            text = response.get_data(as_text=True)
            if response.status_code != 200 or STAFF_NAME in text or "jo.bloggs" in text or "REDACTED" not in text:
                problems.append(f"{base}?_format=xml: {response.status_code}, staff named or not REDACTED")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("combo", combos(purposes=("HMARKT", "HOPERAT"), phases=("all-contracts",)), ids=combo_id)
def test_validate_of_a_stored_resource_and_errors_do_not_tell_what_exists(world, combo):
    phase, name, purpose = combo
    world.set_phase(phase)
    viewer = world.viewer(name, purpose)
    http = world.client(name, purpose)
    problems: list[str] = []
    not_found = NotFound(http)
    for item in (i for i in ITEMS if i.owner in SAMPLE):
        base, missing = f"/fhir/{item.type}/{item.id}", f"/fhir/{item.type}/{MISSING}"
        checks = [(f"{base}?_summary=true&_elements=id", f"{missing}?_summary=true&_elements=id", {}, 400),
                  (base, missing, {"headers": {"If-None-Match": 'W/"1"'}}, 304),
                  (f"{base}/_history/9", f"{missing}/_history/9", {}, 404)]
        if item.type == "Task":
            checks.append((f"{base}/$validate", f"{missing}/$validate", {}, 200))
        for path, missing_path, kwargs, visible_status in checks:
            if not viewer.sees(item):
                response, why = not_found.check(path, item.id, missing_path, **kwargs)
                if why:
                    problems.append(f"{why} {kwargs}")
            else:
                response = http.get(path, **kwargs)
            if viewer.sees(item) and not item.deleted:
                if response.status_code != visible_status:
                    problems.append(f"{path} {kwargs}: {response.status_code}, want {visible_status}")
                if path.endswith("$validate") and response.status_code == 200:
                    text = response.get_data(as_text=True)
                    if viewer.staff_masked(item) and STAFF_NAME in text:
                        problems.append(f"{path}: the outcome names staff for a masked caller")
            found = leaks(response, viewer, allowed=path)
            if found:
                problems.append(f"{path}: names {found}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", CALLER_NAMES)
@pytest.mark.parametrize("purpose", ["HMARKT", "HOPERAT"])
def test_reference_data_and_tier_consents_are_public(world, name, purpose):
    world.set_phase("all-contracts")
    http = world.client(name, purpose)
    paths = ["/fhir/Organization/A00001", "/fhir/Organization/QBB", "/fhir/Questionnaire/global-1",
             "/fhir/CodeSystem/data-type"] + [f"/fhir/Consent/{t}" for t in sorted(shipped_tiers().ids)]
    bad = [(p, r.status_code) for p in paths if (r := http.get(p)).status_code != 200]
    assert not bad


@pytest.mark.parametrize("name", CALLER_NAMES)
def test_a_contract_consent_is_read_by_its_holder_and_service_only(world, name):
    world.set_phase("all-contracts")
    viewer = world.viewer(name, "HOPERAT")
    http = world.client(name, "HOPERAT")
    problems = []
    for contract in ALL_CONTRACTS:
        path = f"/fhir/Consent/{contract['id']}"
        if viewer.sees_contract(contract["id"]):
            response = http.get(path)
            if response.status_code != 200:
                problems.append(f"{path}: {response.status_code}, want 200")
        else:
            _, why = NotFound(http).check(path, contract["id"], f"/fhir/Consent/{MISSING}")
            if why:
                problems.append(why)
    assert not problems, "\n".join(problems)


def test_a_phase_change_takes_effect_on_the_next_request(world):
    """Suspending/ending a contract (here: removing C-U3, then storing it again) is judged per request."""
    http = world.client("pcn-U00003", "HOPERAT")
    world.set_phase("C-U3")
    assert http.get("/fhir/Task/A-B00002-1").status_code == 200
    world.set_phase("no-contract")
    assert http.get("/fhir/Task/A-B00002-1").status_code == 404
    world.set_phase("C-U3")
    assert http.get("/fhir/Task/A-B00002-1").status_code == 200
