"""The policy's SQL filters (adapter.enforcement.filters) select exactly the rows their Python
mirror allows, and together with the engine's can_see exactly what the oracle says, for every
oracle caller and purpose, on both stores; server labels replace what a client sends."""
from __future__ import annotations

import orjson
import pytest
from sqlalchemy import select

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.enforcement.columns import access_columns
from adapter.enforcement.gate import Gate
from adapter.enforcement.labels import server_labels
from adapter.enforcement.state import PolicyState
from adapter.policy import override_consent
from adapter.search.index_store import SearchIndexer
from adapter.storage import Repository, make_engine, migrate
from adapter.storage.schema import resource, resource_version
from tests.policy_oracle import (CALLERS, CONTRACTS, NEEDS, PURPOSES, TODAY, contract_consent, expected_scope,
                                 organization_resources, practice_resources, sees, usage_resource)

PRACTICES = ("A00001", "A00003", "B00001", "B00002", "C00001")
TYPES = ("QuestionnaireResponse", "Task", "MeasureReport", "Consent", "Organization")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request, tmp_path_factory):
    from tests.conftest import _clean_pg

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('filters') / 's.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database_url")
        _clean_pg(url)
    engine = make_engine(url)
    migrate(engine)
    repo = Repository(engine, access=access_columns, indexer=SearchIndexer("http://x/fhir"))
    from adapter.shipped import load_shipped
    load_shipped(repo)
    kinds: dict[str, str] = {}
    for org in organization_resources():
        repo.put("Organization", org["id"], org)
    for contract, _ in CONTRACTS:
        repo.put("Consent", contract["id"], contract_consent(contract))
    from mappings.assessment import assessment_to_questionnaire
    from tests.policy_oracle import ASSESSMENTS, _load
    for assessment in ASSESSMENTS:
        form = assessment_to_questionnaire(_load("assessment", assessment), "oracle")
        repo.put("Questionnaire", form["id"], form)
    for practice in PRACTICES:
        for kind, body in practice_resources(practice).items():
            repo.put(body["resourceType"], body["id"], body)
            kinds[body["id"]] = kind
    for group in ("U00001", "QAA"):
        body = usage_resource(group)
        repo.put("MeasureReport", body["id"], body)
    yield repo, kinds
    engine.dispose()


def _principal(name, role, org, purpose):
    return Principal(name, org, role, ScopeSet.parse("system/*.rs"), purpose)


CASES = [(name, role, org, purpose) for name, role, org in CALLERS for purpose in PURPOSES]


@pytest.mark.parametrize("name, role, org, purpose", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
def test_sql_filter_equals_its_python_mirror_and_the_oracle(store, name, role, org, purpose):
    repo, kinds = store
    state = PolicyState(repo, today=TODAY.isoformat())
    gate = Gate(state, _principal(name, role, org, purpose), repo)
    with repo.engine.connect() as conn:
        for rtype in TYPES:
            r = resource.alias("r")
            query = select(r.c.res_id, r.c.content).where(r.c.res_type == rtype)
            everything = {row.res_id: row.content for row in conn.execute(query)}
            narrowed = gate.sql(r, rtype)
            found = {row.res_id for row in conn.execute(query.where(narrowed) if narrowed is not None else query)}
            mirror = {i for i, c in everything.items() if gate.judge(orjson.loads(c)) is not None}
            assert found == mirror, (rtype, found ^ mirror)
            for id_, content in everything.items():
                if id_ not in kinds or kinds[id_] == "usage" and not id_.startswith(("A", "B", "C")):
                    continue
                body = orjson.loads(content)
                practice = next(p for p in PRACTICES if p in id_)
                # the oracle judges with every contract of the world in force as listed
                expected = sees(expected_scope(role, org, purpose, NEEDS[kinds[id_]], "practice",
                                               [c for c, _ in CONTRACTS]), practice)
                assert gate.visible(body) == expected, (id_, expected)
        # history rows (resource_version) are narrowed by the same rule
        v = resource_version.alias("v")
        cond = gate.sql(v, None)
        all_versions = conn.execute(select(v.c.res_type, v.c.content)).all()
        kept = conn.execute(select(v.c.res_type, v.c.content).where(cond) if cond is not None
                            else select(v.c.res_type, v.c.content)).all()
        assert len(kept) == sum(1 for t, c in all_versions if gate.judge(orjson.loads(c)) is not None)


def test_server_labels_replace_what_the_client_sends(store):
    repo, _ = store

    def lookup(rtype, id_):
        found = repo.read(rtype, id_)
        return found.resource() if found and not found.deleted else None

    task = dict(practice_resources("A00001")["task"])
    claimed = [{"system": "https://fhir.dandthub.co.uk/CodeSystem/data-type", "code": "usage"},
               {"system": "https://fhir.dandthub.co.uk/CodeSystem/granularity", "code": "icb"},
               {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"},
               {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "NOREUSE"}]
    task["meta"] = {"security": claimed}
    labelled = server_labels(task, lookup)
    codes = {(c["system"].rsplit("/", 1)[1], c["code"]) for c in labelled["meta"]["security"]}
    assert codes == {("data-type", "actions"), ("data-type", "impact-summary"),
                     ("data-type", "indepth-action-summary"), ("granularity", "practice"),
                     ("v3-Confidentiality", "R"), ("v3-ActCode", "NOREUSE")}
    qr = dict(practice_resources("A00001")["qr-global"], meta={"security": claimed[:1]})
    assert {c["code"] for c in server_labels(qr, lookup)["meta"]["security"]} == {"global-assessment", "practice", "R"}
    foreign = dict(qr, questionnaire="https://forms.example.org/Questionnaire/x|1")
    assert {c["code"] for c in server_labels(foreign, lookup)["meta"]["security"]} == {"R"}  # service only
    report = dict(usage_resource("U00001"), meta={"security": claimed[:2]})
    assert {c["code"] for c in server_labels(report, lookup)["meta"]["security"]} == {"usage", "pcn", "R"}


def test_an_override_takes_effect_on_the_next_request(store):
    repo, _ = store
    state = PolicyState(repo, today=TODAY.isoformat())
    icb = _principal("icb-QAA", "icb", "QAA", "HOPERAT")
    qr = practice_resources("A00001")["qr-global"]
    assert Gate(state, icb, repo).visible(qr)
    repo.put("Consent", "OVR-T", override_consent("OVR-T", "C-QAA", orgs=["QAA"], data_types=["global-assessment"],
                                                  levels=["practice"]))
    try:
        assert not Gate(state, icb, repo).visible(qr)
    finally:
        repo.put("Consent", "OVR-T", None)
    assert Gate(state, icb, repo).visible(qr)
