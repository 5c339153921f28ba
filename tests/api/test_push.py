"""`dthub push` end to end: a source store (the oracle's world, tests/policy_world.py) pushes a
client's view to a second, live instance of the adapter over HTTP, where the pusher is a `service`
client authenticated with SMART Backend Services. Both stores: the source on `database_url`, the
target on the other store.

What the target holds is compared with what the source serves that client (interactions.visible,
the same view a search gives; aggregates.recent for the aggregates)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from adapter.aggregates.recent import AGGREGATE_IDENTIFIER, recent_reports
from adapter.audit import AuditTrail
from adapter.auth.clients import ClientRegistry
from adapter.context_factory import build_context
from adapter.enforcement.gate import Gate
from adapter.interactions.visible import Selection, visible
from adapter.policy import override_consent
from adapter.push import TYPES, PushOptions, Target, push
from adapter.push.run import client_principal
from adapter.push.entries import body_to_send
from tests.conftest import ROOT, _clean_pg, close_app, make_config, new_pg_database, register_client, start_live_server
from tests.policy_oracle import TODAY, contract_consent
from tests.policy_world import ALL_CONTRACTS, STAFF_STRINGS, WRITES

DTHUB = str(Path(sys.executable).with_name("dthub"))
PUSHER = "hub-pusher"
CLIENTS = {"src-icb": ("icb", "QAA"), "src-service": ("service", None), "src-partner": ("external", None)}


class Source:
    def __init__(self, url: str, spool: Path, jwks: dict):
        self.url, self.spool = url, spool
        self.config = make_config(url, policy_today=TODAY.isoformat(), audit_spool_dir=str(spool))
        self.ctx = build_context(self.config)
        for type_, id_, body in WRITES:
            self.ctx.repo.put(type_, id_, body)
        for contract in ALL_CONTRACTS:
            self.ctx.repo.put("Consent", contract["id"], contract_consent(contract))
        # The partner is an external client whose practice-level usage is withdrawn: it may see
        # aggregates only (the baseline grants every other data type at group levels at most).
        self.ctx.repo.put("Consent", "ov-partner", override_consent(
            "ov-partner", "policy-baseline", clients=["src-partner"], data_types=["usage"], levels=["practice"]))
        self.registry = ClientRegistry(self.ctx.repo.engine)
        for client_id, (role, org) in CLIENTS.items():
            self.registry.add(client_id, org=org, role=role, scopes="system/*.rs", purposes=["HOPERAT"], jwks=jwks)

    def principal(self, client_id: str):
        return client_principal(self.registry.get(client_id))

    def view(self, client_id: str) -> dict[str, dict[str, dict]]:
        """What the client may see, by type and id, as a search serves it (minus version metadata)."""
        gate = Gate(self.ctx.policy, self.principal(client_id), self.ctx.repo)
        return {t: {v.id: body_to_send(view) for v, view in visible(self.ctx, gate, Selection(t))} for t in TYPES}

    def aggregates(self, client_id: str) -> dict[str, dict]:
        gate = Gate(self.ctx.policy, self.principal(client_id), self.ctx.repo)
        return {i.report["id"]: i.report for i in recent_reports(self.ctx.aggregates, gate.grants, self.ctx.policy.today())}

    def env(self) -> dict:
        return dict(os.environ, DTHUB_DATABASE_URL=self.url, DTHUB_POLICY_TODAY=TODAY.isoformat(),
                    DTHUB_AUDIT_SPOOL_DIR=str(self.spool), DTHUB_BASE_URL="http://source.test")


@pytest.fixture(scope="module")
def pg_target_url():
    url, drop = new_pg_database("dthub_push_target")
    yield url
    drop()


@pytest.fixture
def source(database_url, tmp_path, client_key):
    src = Source(database_url, tmp_path / "source-spool", client_key[1])
    yield src
    src.ctx.repo.engine.dispose()


@pytest.fixture
def target(request, database_url, tmp_path, client_key):
    """A live adapter on the other store, with the pusher registered as a `service` client."""
    if database_url.startswith("sqlite"):
        url = request.getfixturevalue("pg_target_url")
        _clean_pg(url)
    else:
        url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    server = start_live_server(url)
    register_client(server.app, PUSHER, client_key[1], role="service", scopes="system/*.cruds")
    server.authorise(client_key, "target-reader")
    yield server
    server.stop()
    close_app(server.app)


def run(source: Source, target, client_id: str, key, *, retries: int = 1, **options):
    trail = AuditTrail(source.ctx.repo, source.config.fhir_base, source.spool, 3600)
    try:
        return push(source.ctx, source.principal(client_id), PushOptions(target.fhir, **options),
                    target=Target(target.fhir, PUSHER, key, scope="system/*.cus", retries=retries, backoff=0),
                    trail=trail)
    finally:
        trail.close()


def held(target, resource_type: str) -> dict[str, dict]:
    response = requests.get(f"{target.fhir}/{resource_type}?_count=1000", headers=target.headers, timeout=30)
    assert response.status_code == 200, response.text
    bundle = response.json()
    return {e["resource"]["id"]: e["resource"] for e in bundle.get("entry") or [] if e["search"]["mode"] == "match"}


def content(resource: dict) -> dict:
    return {k: v for k, v in resource.items() if k != "meta"}


def total(report, field: str, *, aggregates: bool = True) -> int:
    rows = list(report.types.values()) + ([report.aggregates] if aggregates else [])
    return sum(getattr(c, field) for c in rows)


def test_first_push_sends_exactly_the_clients_view_and_a_repeat_sends_nothing(source, target, client_key):
    first = run(source, target, "src-icb", client_key[0], batch_size=7)
    assert first.exit_code == 0, first.summary()
    assert first.full_sweep == "first push" and first.since is None
    view = source.view("src-icb")
    aggregates = source.aggregates("src-icb")
    assert view["QuestionnaireResponse"] and aggregates  # the world gives this ICB rows and aggregates
    on_target = {t: held(target, t) for t in TYPES}
    for type_ in ("Organization", "Questionnaire", "QuestionnaireResponse", "Task"):
        assert set(on_target[type_]) == set(view[type_]), type_
        for id_, body in view[type_].items():
            assert content(on_target[type_][id_]) == content(body), f"{type_}/{id_}"
    stored = {i: r for i, r in on_target["MeasureReport"].items() if i in view["MeasureReport"]}
    assert set(on_target["MeasureReport"]) == set(view["MeasureReport"]) | set(aggregates)
    assert all(content(stored[i]) == content(view["MeasureReport"][i]) for i in stored)
    for id_, report in aggregates.items():  # the same figures; `date` is when each was computed
        pushed = on_target["MeasureReport"][id_]
        assert pushed["identifier"] == [{"system": AGGREGATE_IDENTIFIER, "value": id_}]
        assert pushed["group"] == report["group"] and pushed["period"] == report["period"]
    # An ICB's client never sees staff: neither does the shared record it fills.
    assert not [s for s in STAFF_STRINGS if s in json.dumps(on_target)]
    assert first.counts("QuestionnaireResponse").created == len(view["QuestionnaireResponse"])
    assert first.aggregates.created == len(aggregates)

    second = run(source, target, "src-icb", client_key[0], batch_size=7)
    assert second.exit_code == 0 and second.since == first.until and second.full_sweep is None
    assert total(second, "sent") == 0 and second.aggregates.unchanged == len(aggregates)
    again = {t: held(target, t) for t in TYPES}
    assert {t: set(r) for t, r in again.items()} == {t: set(r) for t, r in on_target.items()}
    assert all(r["meta"]["versionId"] == "1" for rs in again.values() for r in rs.values())

    # Every batch that left is in the source's audit trail, for the named client.
    events = [v.resource() for v in source.ctx.repo.iter_current("AuditEvent")]
    pushes = [e for e in events if "src-icb" in json.dumps(e) and any(
        (s.get("code") == "operation") for s in e.get("subtype") or [])]
    assert pushes and any("Organization/A00001" in json.dumps(e) for e in pushes)
    assert not any("Bearer" in json.dumps(e) or "eyJ" in json.dumps(e) for e in pushes)


def test_a_change_at_the_source_is_pushed_next_time_and_only_it(source, target, client_key):
    assert run(source, target, "src-service", client_key[0]).exit_code == 0
    changed = source.ctx.repo.read("Task", "A-A00001-1").resource()
    changed["description"] = "Agree a named lead for the digital plan (revised)"
    source.ctx.repo.put("Task", "A-A00001-1", changed)
    report = run(source, target, "src-service", client_key[0])
    assert report.exit_code == 0, report.summary()
    assert report.counts("Task").selected == 1 and report.counts("Task").updated == 1
    assert total(report, "sent", aggregates=False) == 1
    task = held(target, "Task")["A-A00001-1"]
    assert task["description"].endswith("(revised)") and task["meta"]["versionId"] == "2"
    # The service's view keeps staff: the shared record gets what the service client may see.
    assert any(c.get("resourceType") == "Practitioner" for c in task.get("contained") or [])


def test_an_aggregate_only_client_pushes_aggregates_and_reference_data_only(source, target, client_key):
    report = run(source, target, "src-partner", client_key[0], batch_size=50)
    assert report.exit_code == 0, report.summary()
    aggregates = source.aggregates("src-partner")
    assert aggregates
    for type_ in ("QuestionnaireResponse", "Task"):
        assert report.counts(type_).selected == 0 and held(target, type_) == {}
    assert report.counts("MeasureReport").selected == 0  # no practice's usage row
    reports = held(target, "MeasureReport")
    assert set(reports) == set(aggregates)
    assert all(r["identifier"][0]["system"] == AGGREGATE_IDENTIFIER for r in reports.values())
    assert set(held(target, "Organization")) and set(held(target, "Questionnaire"))
    one = next(iter(aggregates))
    found = requests.get(f"{target.fhir}/MeasureReport", params={"identifier": f"{AGGREGATE_IDENTIFIER}|{one}"},
                         headers=target.headers, timeout=30).json()
    assert found["total"] == 1

    # A repeat, even re-reading everything (--since the beginning), creates no duplicate or version.
    repeat = run(source, target, "src-partner", client_key[0], since="2000-01-01T00:00:00.000Z")
    assert repeat.exit_code == 0 and total(repeat, "sent") == 0
    assert repeat.aggregates.unchanged == len(aggregates)
    again = held(target, "MeasureReport")
    assert set(again) == set(reports) and all(r["meta"]["versionId"] == "1" for r in again.values())


class FailAfter:
    """WSGI middleware: after `allowed` transaction posts, the target answers 503 (a restart)."""

    def __init__(self, app, allowed: int):
        self.app, self.allowed, self.posts = app, allowed, 0

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].rstrip("/") == "/fhir":
            self.posts += 1
            if self.posts > self.allowed:
                start_response("503 Service Unavailable", [("Content-Type", "application/fhir+json")])
                return [json.dumps({"resourceType": "OperationOutcome", "issue": [
                    {"severity": "error", "code": "transient", "diagnostics": "restarting"}]}).encode()]
        return self.app(environ, start_response)


def test_an_interrupted_push_fails_with_3_and_the_next_resumes_without_resending(source, target, client_key):
    server = target._server
    app = server.app
    server.app = FailAfter(app, allowed=3)
    first = run(source, target, "src-service", client_key[0], batch_size=5, retries=2)
    assert first.exit_code == 3 and "503" in first.error, first.summary()
    acknowledged = total(first, "created")
    assert acknowledged == 15  # three transactions of five
    server.app = app

    second = run(source, target, "src-service", client_key[0], batch_size=5)
    assert second.exit_code == 0, second.summary()
    assert second.resumed and second.since is None  # the interrupted run never moved the mark
    assert total(second, "unchanged") == acknowledged  # what the target acknowledged is not sent again
    assert total(second, "sent") == total(second, "selected") - acknowledged
    view = source.view("src-service")
    for type_ in ("Organization", "QuestionnaireResponse", "Task"):
        pushed = held(target, type_)
        assert set(pushed) == set(view[type_]) and all(r["meta"]["versionId"] == "1" for r in pushed.values())


def test_entries_the_target_refuses_are_reported_and_the_rest_is_sent(source, target, client_key):
    # The target already holds A00001's ODS code under another id: a conditional update must not
    # guess which is right, so that one entry is refused (400) and the transaction is bisected.
    other = dict(source.ctx.repo.read("Organization", "A00001").resource(), id="other-A00001")
    other.pop("meta")
    assert requests.put(f"{target.fhir}/Organization/other-A00001", json=other,
                        headers=target.headers, timeout=30).status_code == 201
    report = run(source, target, "src-partner", client_key[0], batch_size=50)
    assert report.exit_code == 1
    assert [(f["type"], f["id"], f["status"]) for f in report.failures] == [("Organization", "A00001", 400)]
    assert "A00001" not in held(target, "Organization")
    assert report.counts("Organization").created == report.counts("Organization").selected - 1
    # The mark stays: the next run selects the refused entry again (and only sends that one).
    retry = run(source, target, "src-partner", client_key[0])
    assert retry.since is None and total(retry, "sent") == 1 and retry.exit_code == 1


def _cli(source: Source, *args: str, key: Path | None = None, target: str | None = None, client: str = "src-icb"):
    argv = [DTHUB, "push", "--target", target, "--client-id", client, "--target-client-id", PUSHER,
            "--target-key", str(key), "--retries", "1", "--backoff", "0", *args]
    return subprocess.run(argv, env=source.env(), capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_the_cli_pushes_and_writes_its_report(source, target, client_key, tmp_path):
    key = tmp_path / "pusher.json"
    key.write_text(json.dumps(client_key[0]))
    out = tmp_path / "report.json"
    done = _cli(source, "--report", str(out), "--batch-size", "20", key=key, target=target.fhir)
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(out.read_text())
    assert report["exit_code"] == 0 and report["types"]["QuestionnaireResponse"]["created"] > 0
    assert "QuestionnaireResponse" in done.stdout and "exit 0" in done.stdout
    assert set(held(target, "QuestionnaireResponse")) == set(source.view("src-icb")["QuestionnaireResponse"])
    again = _cli(source, "--report", str(out), key=key, target=target.fhir)
    assert again.returncode == 0 and json.loads(out.read_text())["types"]["QuestionnaireResponse"]["sent"] == 0


def test_bad_cli_inputs_exit_with_a_clear_message(source, target, client_key, tmp_path, monkeypatch, capsys):
    from adapter.cli import main

    key = tmp_path / "pusher.json"
    key.write_text(json.dumps(client_key[0]))
    for name, value in source.env().items():
        if name.startswith("DTHUB_"):
            monkeypatch.setenv(name, value)
    base = ["push", "--target", target.fhir, "--target-client-id", PUSHER, "--retries", "1", "--backoff", "0"]

    assert main(base + ["--client-id", "nobody", "--target-key", str(key)]) == 2
    assert "no client 'nobody' is registered" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"kty": "EC"}')
    assert main(base + ["--client-id", "src-icb", "--target-key", str(bad)]) == 2
    assert "--target-key" in capsys.readouterr().err
    assert main(base + ["--client-id", "src-icb", "--target-key", str(tmp_path / "missing.json")]) == 2
    assert "missing.json" in capsys.readouterr().err
    source.registry.set_enabled("src-icb", False)
    assert main(base + ["--client-id", "src-icb", "--target-key", str(key)]) == 2
    assert "disabled" in capsys.readouterr().err
    source.registry.set_enabled("src-icb", True)
    assert main(base + ["--client-id", "src-icb", "--target-key", str(key), "--types", "Consent"]) == 2
    assert "Consent cannot be pushed" in capsys.readouterr().err
    # A purpose the client is not registered for (it is registered for HOPERAT only), and a bad --since.
    assert main(base + ["--client-id", "src-icb", "--target-key", str(key), "--purpose", "HQUALIMP"]) == 2
    assert "not registered for purpose HQUALIMP" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(base + ["--client-id", "src-icb", "--target-key", str(key), "--since", "2026-01-01T00:00:00"])
    assert usage.value.code == 2 and "time zone" in capsys.readouterr().err

    # A dry run reads and counts, and sends nothing.
    assert main(base + ["--client-id", "src-icb", "--target-key", str(key), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "[dry run]" in out and "0 request(s)" in out

    # Unreachable target, or one that refuses our credentials: 3, and the mark does not move.
    unreachable = ["push", "--target", "http://127.0.0.1:9/fhir", "--target-client-id", PUSHER, "--retries", "1",
                   "--backoff", "0", "--client-id", "src-icb", "--target-key", str(key)]
    assert main(unreachable) == 3
    assert "127.0.0.1:9" in capsys.readouterr().out
    assert main(base[:3] + ["--target-client-id", "stranger", "--client-id", "src-icb", "--target-key", str(key)]) == 3
    assert "refused 'stranger'" in capsys.readouterr().out
    assert held(target, "Organization") == {}


def test_a_client_pushes_only_the_types_its_registered_scopes_let_it_search(source, target, client_key):
    """As a search by its best token would: a client registered for Organizations only pushes
    Organizations, whatever the policy would let it see, and no aggregates."""
    source.registry.add("src-orgs-only", org="QAA", role="icb", scopes="system/Organization.rs",
                        purposes=["HOPERAT"], jwks=client_key[1])
    report = run(source, target, "src-orgs-only", client_key[0], batch_size=50)
    assert report.exit_code == 0, report.summary()
    assert report.out_of_scope == ["Questionnaire", "QuestionnaireResponse", "Task", "MeasureReport", "aggregates"]
    assert "not in the client's scopes" in report.summary()
    assert set(held(target, "Organization")) == set(source.view("src-orgs-only")["Organization"])
    for type_ in ("Questionnaire", "QuestionnaireResponse", "Task", "MeasureReport"):
        assert held(target, type_) == {}, type_
