"""`$evaluate-measure` over HTTP, against an oracle that computes every aggregate straight from the
export package's records (tests/aggregates_oracle.py) and every caller's reach from the policy's
tables (tests/policy_oracle.py): every data type x level x role (and purpose, with and without the
contracts), ICB aggregates, both cells of the PCN that spans two ICBs, PCNs of one and two
practices, practices in no PCN (in their ICB's aggregate only), federations, a practice client's
view of its own PCN, suppression (nothing shown with 1..k-1 hidden contributors; no suppressed cell
derivable from its ICB aggregate and the cells shown) and refused periods; on SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest

from tests.aggregates_oracle import (MEAN, MEASURE_IDS, Q1, Q2, SUBJECTS, build_records, expected_groups,
                                     group_of, hidden_of, members, write_package)
from tests.conftest import fetch_token, make_config, new_pg_database, register_client, start_live_server
from tests.policy_oracle import CALLERS, CONTRACTS, TODAY, contract_consent

K = 3
ROLE_ORG = {name: (role, org) for name, role, org in CALLERS}
PHASES = {"no-contract": [], "all-contracts": [c for c, _ in CONTRACTS]}
V3_OBS = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
SUBJECT_EXT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject"
CELL_EXT = "https://fhir.dandthub.co.uk/StructureDefinition/cell-icb"
RECORDS = build_records()


class AggWorld:
    def __init__(self, store: str, client_key, k: int = K):
        self.k = k
        if store == "sqlite":
            folder = Path(tempfile.mkdtemp(prefix="dthub-agg-"))
            self.url, self._drop = f"sqlite:///{folder / 'store.sqlite3'}", (lambda: None)
        else:
            self.url, self._drop = new_pg_database("dthub_agg")
        from adapter import create_app
        from adapter.importer import import_package

        self.app = create_app(make_config(self.url, policy_today=TODAY.isoformat(), token_lifetime=3600,
                                          rate_limit_per_minute=0, audit_spool_dir=tempfile.mkdtemp(),
                                          suppression_k=k))
        self.repo = self.app.extensions["dthub"].repo
        package = write_package(Path(tempfile.mkdtemp(prefix="dthub-agg-pkg-")), RECORDS)
        report = import_package(self.repo, package)
        assert report.exit_code == 0, report.as_dict()["rejected"][:3]
        self.private, self.jwks = client_key
        self.phase, self.stored, self._tokens, self._registered = None, set(), {}, set()
        self.set_phase("all-contracts")

    def set_phase(self, phase: str) -> None:
        wanted = {c["id"] for c in PHASES[phase]}
        for contract, _ in CONTRACTS:
            if contract["id"] in wanted and contract["id"] not in self.stored:
                self.repo.put("Consent", contract["id"], contract_consent(contract))
            elif contract["id"] not in wanted and contract["id"] in self.stored:
                self.repo.put("Consent", contract["id"], None)
        self.stored, self.phase = wanted, phase

    def client(self, name: str, purpose: str = "HOPERAT", scopes: str = "system/*.rs"):
        role, org = ROLE_ORG[name]
        client_id = f"agg-{name}-{scopes.replace('/', '_')}"
        if client_id not in self._registered:
            register_client(self.app, client_id, self.jwks, role=role, org=org, scopes=scopes,
                            purposes=("HMARKT", "HOPERAT", "HQUALIMP"))
            self._registered.add(client_id)
        http = self.app.test_client()
        key = (client_id, purpose)
        if key not in self._tokens:
            self._tokens[key] = fetch_token(http, self.app.extensions["dthub"].config.token_url, client_id,
                                            self.private, scope=scopes, purpose=purpose)
        http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {self._tokens[key]}"
        return http

    def close(self):
        close_audit(self.app)
        self.repo.engine.dispose()
        self._drop()


def close_audit(app) -> None:
    """Stop the app's audit writer before its database goes (as tests/policy_world.py does)."""
    for value in app.extensions.values():
        if type(value).__name__ == "AuditTrail" and hasattr(value, "close"):
            value.close()


_WORLDS: dict[tuple[str, int], AggWorld] = {}


def _world(request, client_key, store: str, k: int) -> AggWorld:
    if (store, k) not in _WORLDS:
        _WORLDS[(store, k)] = AggWorld(store, client_key, k)
        request.config.add_cleanup(lambda: _WORLDS.pop((store, k)).close())
    return _WORLDS[(store, k)]


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, client_key):
    return _world(request, client_key, request.param, K)


# k = 2 as well: with cells of one or two practices, k = 3 suppresses every cell with a hidden
# contributor on its own; k = 2 shows cells of two hidden practices, so complementary suppression
# has cells to add (and ICB aggregates to withhold).
@pytest.fixture(params=[("sqlite", 2), ("sqlite", 3), ("postgresql", 2), ("postgresql", 3)],
                ids=["sqlite-k2", "sqlite-k3", "postgresql-k2", "postgresql-k3"])
def any_k_world(request, client_key):
    return _world(request, client_key, *request.param)


def evaluate(http, measure: str, subject: str, period=Q2, icb: str | None = None):
    url = f"/fhir/Measure/{measure}/$evaluate-measure?subject=Organization/{subject}" \
          f"&periodStart={period[0]}&periodEnd={period[1]}" + (f"&icb={icb}" if icb else "")
    return http.get(url)


def _groups(report: dict) -> dict[str, dict]:
    return {g["code"]["coding"][0]["code"]: g for g in report["group"]}


def _count(element: dict) -> int:
    return element["population"][0]["count"]


def check_report(report: dict, expected: dict, measure: str, hidden_of_group, k: int = K) -> dict[str, bool]:
    """Compare a 200 report with the oracle; returns group code -> suppressed."""
    assert report["resourceType"] == "MeasureReport" and report["type"] == "summary"
    assert report["status"] == "complete" and report["reporter"] == {"display": "D&T Hub"}
    groups = _groups(report)
    suppressed = {}
    for code, group in groups.items():
        want = expected.get(code)
        if want is None:  # a group the Measure defines that nobody contributes to
            assert _count(group) == 0 and "measureScore" not in group, code
            suppressed[code] = False
            continue
        assert _count(group) == want["count"], (code, _count(group), want["count"])
        hidden = len(hidden_of_group(want["contributors"]))
        is_suppressed = "measureScore" not in group
        suppressed[code] = is_suppressed
        if is_suppressed:
            assert group["extension"] == [{"url": DAR, "valueCode": "masked"}] and "stratifier" not in group
            assert hidden >= 1, f"{code}: suppressed without a hidden contributor"
            continue
        assert not 0 < hidden < k, f"{code}: shown with {hidden} hidden contributors"
        assert group["measureScore"]["value"] == pytest.approx(want["score"], abs=1e-3), code
        for stratifier in group.get("stratifier", []):
            name = stratifier["code"][0]["text"]
            for stratum in stratifier["stratum"]:
                key = stratum["value"]["text"]
                count, score = want["strata"].get(name, {}).get(key, (0, None))
                assert _count(stratum) == count, (code, name, key)
                if count:
                    assert stratum["measureScore"]["value"] == pytest.approx(score, abs=1e-3), (code, name, key)
            shown = {s["value"]["text"] for s in stratifier["stratum"] if _count(s)}
            assert shown == set(want["strata"].get(name, {})), (code, name)
    assert set(expected) <= set(groups), f"groups missing: {set(expected) - set(groups)}"
    labels = {c["code"] for c in report["meta"]["security"] if c["system"] == V3_OBS}
    assert labels == ({"AGGRED", "MASKED"} if any(suppressed.values()) else {"AGGRED"})
    return suppressed


COMBOS = [(phase, name, purpose) for phase in PHASES for name, _, _ in CALLERS for purpose in ("HOPERAT", "HMARKT")]


@pytest.mark.parametrize("combo", COMBOS, ids=["-".join(c) for c in COMBOS])
def test_every_data_type_level_and_role_matches_the_oracle(any_k_world, combo):
    world = any_k_world
    phase, name, purpose = combo
    world.set_phase(phase)
    role, org = ROLE_ORG[name]
    contracts = PHASES[phase]
    http = world.client(name, purpose)
    for measure in MEASURE_IDS:
        shown: dict[tuple, dict[str, bool]] = {}
        for subject, icb in SUBJECTS:
            response = evaluate(http, measure, subject, icb=icb)
            reach = members(role, org, purpose, contracts, measure, subject, icb)
            where = f"{name}/{purpose}/{phase} {measure} {subject}/{icb}"
            if not reach:
                assert response.status_code == 404, (where, response.get_json())
                continue
            assert response.status_code == 200, (where, response.get_json())
            report = response.get_json()
            assert report["extension"][0] == {"url": SUBJECT_EXT, "valueReference": {
                "reference": f"Organization/{subject}",
                "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": subject}}}
            if icb:
                assert report["extension"][1]["url"] == CELL_EXT
                assert report["extension"][1]["valueReference"]["reference"] == f"Organization/{icb}"
            expected = expected_groups(RECORDS, measure, reach)
            shown[(subject, icb)] = check_report(
                report, expected, measure,
                lambda practices: hidden_of(role, org, purpose, contracts, measure, practices), world.k)
            shown[(subject, icb, "reach")] = reach  # type: ignore[assignment]
        _check_complementary(shown, role, org, purpose, contracts, measure, world.k)


ICB_CELLS = {"QAA": [("U00001", "QAA"), ("U00004", None)], "QBB": [("U00001", "QBB"), ("U00002", None),
                                                                    ("U00003", None)]}


def _check_complementary(shown, role, org, purpose, contracts, measure, k):
    """No suppressed cell can be derived from the ICB aggregate and the cells shown with it."""
    for icb, cells in ICB_CELLS.items():
        if (icb, None) not in shown:
            continue
        icb_groups = expected_groups(RECORDS, measure, shown[(icb, None, "reach")])
        for code, want in icb_groups.items():
            if shown[(icb, None)].get(code):
                continue  # the ICB aggregate is suppressed: nothing to subtract from
            published = set()
            for cell in cells:
                if cell in shown and not shown[cell].get(code, False):
                    cell_groups = expected_groups(RECORDS, measure, shown[(*cell, "reach")])
                    published |= cell_groups.get(code, {}).get("contributors", frozenset())
            remainder = hidden_of(role, org, purpose, contracts, measure, want["contributors"] - published)
            assert len(remainder) == 0 or len(remainder) >= k, \
                f"{measure} {icb} {code}: ICB minus shown cells isolates {sorted(remainder)}"


def test_a_practice_client_sees_its_own_pcn_with_its_neighbours_suppressed(world):
    world.set_phase("no-contract")
    http = world.client("practice-A00001", "HOPERAT")
    # Its cell of the spanning PCN: A00001 (its own) and A00002 (hidden at Practice level).
    response = evaluate(http, "global-assessment", "U00001", icb="QAA")
    assert response.status_code == 200
    expected = expected_groups(RECORDS, "global-assessment", frozenset({"A00001", "A00002"}))
    groups = _groups(response.get_json())
    for code, want in expected.items():
        assert _count(groups[code]) == want["count"]
        assert ("measureScore" in groups[code]) == ("A00002" not in want["contributors"])
    # Its own practice only is visible, so any period but a quarter is refused...
    assert evaluate(http, "global-assessment", "U00001", ("2026-07-01", "2026-07-31"), "QAA").status_code == 400
    # ... while usage (every practice visible to every client) may be asked for any period.
    response = evaluate(http, "usage", "U00001", ("2026-07-01", "2026-08-31"), "QAA")
    assert response.status_code == 200
    period = ("2026-07-01", "2026-08-31")
    check_report(response.get_json(), expected_groups(RECORDS, "usage", group_of("U00001", "QAA"), period), "usage",
                 lambda practices: frozenset())
    # In-depth data: the practice tier only; no PCN-level grant, so no aggregate at all.
    assert evaluate(http, "indepth-assessment", "U00001", icb="QAA").status_code == 404


@pytest.mark.parametrize("name, measure, subject", [("external", "global-assessment", "QAA"),
                                                    ("icb-QAA", "actions", "QAA"),
                                                    ("pcn-U00003", "indepth-assessment", "U00003"),
                                                    ("external", "usage", "QAA")])
@pytest.mark.parametrize("period", [("2026-07-01", "2026-07-31"), ("2026-07-01", "2026-12-31"),
                                    ("2026-06-30", "2026-09-30"), ("2026-04-01", "2026-09-30")])
def test_periods_other_than_one_quarter(world, name, measure, subject, period):
    world.set_phase("all-contracts")
    http = world.client(name, "HOPERAT")
    response = evaluate(http, measure, subject, period)
    role, org = ROLE_ORG[name]
    reach = members(role, org, "HOPERAT", PHASES["all-contracts"], measure, subject, None)
    aggregate_only = bool(hidden_of(role, org, "HOPERAT", PHASES["all-contracts"], measure, reach))
    if aggregate_only:
        assert response.status_code == 400, response.get_json()
        assert "quarter" in response.get_json()["issue"][0]["diagnostics"]
    else:  # Practice-level rights over every practice: any period, computed for that period
        assert response.status_code == 200
        check_report(response.get_json(), expected_groups(RECORDS, measure, reach, period), measure,
                     lambda practices: frozenset())


def test_a_service_client_gets_every_number_for_any_period(world):
    http = world.client("service", "HOPERAT")
    for period in (Q1, ("2026-06-15", "2026-08-15")):
        for measure in MEASURE_IDS:
            response = evaluate(http, measure, "QAA", period)
            assert response.status_code == 200
            check_report(response.get_json(), expected_groups(RECORDS, measure, group_of("QAA", None), period),
                         measure, lambda practices: frozenset())


@pytest.mark.parametrize("url, status", [
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/U00001&periodStart=2026-07-01&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/U00001&icb=QZZ&periodStart=2026-07-01&periodEnd=2026-09-30", 404),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QAA&icb=QBB&periodStart=2026-07-01&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/A00001&periodStart=2026-07-01&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QZZ&periodStart=2026-07-01&periodEnd=2026-09-30", 404),
    ("/fhir/Measure/nope/$evaluate-measure?subject=Organization/QAA&periodStart=2026-07-01&periodEnd=2026-09-30", 404),
    ("/fhir/Measure/usage/$evaluate-measure?periodStart=2026-07-01&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Patient/1&periodStart=2026-07-01&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QAA&periodStart=2026-07&periodEnd=2026-09-30", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QAA&periodStart=2026-09-30&periodEnd=2026-07-01", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QAA&periodStart=2026-07-01", 400),
    ("/fhir/Measure/usage/$evaluate-measure?subject=Organization/QAA&periodStart=2026-07-01&periodEnd=2026-09-30&reportType=subject-list", 400),
])
def test_malformed_or_impossible_requests(world, url, status):
    response = world.client("service").get(url)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_no_grant_is_the_404_of_an_unknown_organisation(world):
    world.set_phase("no-contract")
    http = world.client("external", "HOPERAT")
    refused = evaluate(http, "actions", "QAA")
    missing = evaluate(http, "actions", "QZZ")
    assert refused.status_code == missing.status_code == 404
    assert refused.get_json()["issue"][0]["code"] == missing.get_json()["issue"][0]["code"] == "not-found"


def test_the_scope_measure_report_rs_is_needed(world):
    assert evaluate(world.client("service", scopes="system/Organization.rs"), "usage", "QAA").status_code == 403
    assert evaluate(world.client("service", scopes="system/MeasureReport.r"), "usage", "QAA").status_code == 403
    assert evaluate(world.client("service", scopes="system/MeasureReport.rs"), "usage", "QAA").status_code == 200
    assert world.app.test_client().get("/fhir/Measure/usage/$evaluate-measure").status_code == 401


def test_the_answer_follows_the_current_data_and_grants(world):
    http = world.client("service", scopes="system/*.cruds")
    before = _groups(evaluate(http, "actions", "QBB").get_json())["actions"]
    task = next(a for a in RECORDS["actions"] if a["practice"] in group_of("QBB", None)
                and "2026-07-01" <= a["created"][:10] <= "2026-09-30")
    body = http.get(f"/fhir/Task/{task['id']}").get_json()
    assert http.delete(f"/fhir/Task/{task['id']}").status_code in (200, 204)
    try:
        after = _groups(evaluate(http, "actions", "QBB").get_json())["actions"]
        assert after["measureScore"]["value"] == before["measureScore"]["value"] - 1
    finally:
        body.pop("meta", None)
        assert http.put(f"/fhir/Task/{task['id']}", json=body,
                        headers={"Content-Type": "application/fhir+json"}).status_code in (200, 201)
    assert _groups(evaluate(http, "actions", "QBB").get_json())["actions"] == before
    # Grants: the ICB of QAA with and without its contract.
    icb = world.client("icb-QAA", "HOPERAT")
    world.set_phase("no-contract")
    assert evaluate(icb, "actions", "QAA").status_code == 404
    world.set_phase("all-contracts")
    assert evaluate(icb, "actions", "QAA").status_code == 200


def test_the_shipped_measures_are_served_and_read_only(world):
    http = world.client("service", scopes="system/*.cruds")
    for measure in MEASURE_IDS:
        body = http.get(f"/fhir/Measure/{measure}").get_json()
        assert body["url"] == f"https://fhir.dandthub.co.uk/Measure/{measure}"
        body.pop("meta", None)
        changed = dict(body, title="Changed")
        response = http.put(f"/fhir/Measure/{measure}", json=changed, headers={"Content-Type": "application/fhir+json"})
        assert response.status_code == 403, response.get_json()
        assert http.delete(f"/fhir/Measure/{measure}").status_code == 403
    copy = dict(body, id="copy-of-usage", title="A copy")
    response = http.put("/fhir/Measure/copy-of-usage", json=copy, headers={"Content-Type": "application/fhir+json"})
    assert response.status_code == 403  # the canonical URL is ours


def test_the_capability_statement_lists_the_operation(world):
    statement = world.app.test_client().get("/fhir/metadata").get_json()
    measure = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Measure")
    assert {"name": "evaluate-measure",
            "definition": "https://fhir.dandthub.co.uk/OperationDefinition/Measure-evaluate-measure"} in measure["operation"]
    definition = world.client("service").get("/fhir/OperationDefinition/Measure-evaluate-measure")
    assert definition.status_code == 200 and definition.get_json()["code"] == "evaluate-measure"


def test_reports_are_valid_r4_in_json_and_xml(world):
    from tests.conformance import assert_conformant

    world.set_phase("all-contracts")
    http = world.client("external", "HMARKT")
    for measure, subject, icb in (("global-assessment", "QAA", None), ("global-assessment", "U00001", "QBB"),
                                  ("usage", "U00003", None)):
        as_json = evaluate(http, measure, subject, icb=icb)
        as_xml = http.get(as_json.request.full_path + "&_format=xml")
        assert as_json.status_code == as_xml.status_code == 200
        assert_conformant(as_json.get_json(), as_xml.data)


def test_over_real_http(database_url, client_key):
    from adapter.importer import import_package

    server = start_live_server(database_url, policy_today=TODAY.isoformat())
    try:
        import requests

        repo = server.app.extensions["dthub"].repo
        assert import_package(repo, write_package(Path(tempfile.mkdtemp()), RECORDS)).exit_code == 0
        server.authorise(client_key, "live-agg-service", scopes="system/*.rs")
        response = requests.get(f"{server.fhir}/Measure/global-assessment/$evaluate-measure",
                                params={"subject": "Organization/QBB", "periodStart": Q2[0], "periodEnd": Q2[1]},
                                headers={**server.headers, "Accept": "application/fhir+json"}, timeout=10)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/fhir+json")
        check_report(response.json(), expected_groups(RECORDS, "global-assessment", group_of("QBB", None)),
                     "global-assessment", lambda practices: frozenset())
    finally:
        server.stop()
        close_audit(server.app)
        server.app.extensions["dthub"].repo.engine.dispose()
