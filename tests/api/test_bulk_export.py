"""Bulk Data $export, the protocol (Bulk Data Access v2): kick-off checks, status and manifest,
files for their client only, expiry, cancellation, restart and takeover, one worker per job.
What each caller gets is tested against its searches in test_bulk_export_policy.py."""
from __future__ import annotations

import threading
import time

import orjson
import pytest
from sqlalchemy import update

from adapter import create_app
from adapter.storage.schema import client as client_table
from adapter.storage.schema import export_job
from tests.conftest import authorised_client, close_app, fetch_token, make_config

ASYNC = {"Prefer": "respond-async"}
BASE = "http://fhir.test"


def _orgs(n: int) -> list[dict]:
    return [{"resourceType": "Organization", "id": f"ORG{i:03d}", "name": f"Organisation {i}"} for i in range(n)]


@pytest.fixture
def make(database_url, tmp_path):
    apps = []

    def factory(**overrides):
        values = dict(export_dir=str(tmp_path / "exports"))
        values.update(overrides)
        app = create_app(make_config(database_url, **values))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        close_app(app)


@pytest.fixture
def app(make):
    app = make()
    for org in _orgs(7):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    return app


def _local(url: str) -> str:
    return url[len(BASE):] if url.startswith(BASE) else url


def kick_off(http, query: str = "", headers=None):
    return http.get(f"/fhir/$export{query}", headers={**ASYNC, **(headers or {})})


def wait_manifest(http, location: str, deadline: float = 120.0):
    """Poll as a client would, honouring Retry-After loosely; no assertion on how long it takes."""
    end = time.monotonic() + deadline
    while True:
        response = http.get(_local(location))
        if response.status_code != 202 or time.monotonic() > end:
            return response
        assert response.headers["Retry-After"].isdigit() and response.headers["X-Progress"]
        time.sleep(0.05)


def lines(http, url: str) -> list[dict]:
    response = http.get(_local(url), headers={"Accept": "application/fhir+ndjson"})
    assert response.status_code == 200 and response.mimetype == "application/fhir+ndjson"
    return [orjson.loads(line) for line in response.data.splitlines() if line]


# -- kick-off checks ---------------------------------------------------------------------------

@pytest.mark.parametrize("query, headers, status, words", [
    ("", {"Prefer": ""}, 400, "respond-async"),
    ("?_type=Patient", {}, 400, "Patient"),
    ("?_type=Task,Nope", {}, 400, "Nope"),
    ("?_type=Subscription", {}, 400, "Subscription"),  # channel headers may hold secrets
    ("?_type=Task&_typeFilter=Subscription?status=active", {}, 400, "Subscription"),
    ("?_since=yesterday", {}, 400, "_since"),
    ("?_since=2026-01-01", {}, 400, "_since"),
    ("?_typeFilter=Task?colour=red", {}, 400, "colour"),
    ("?_typeFilter=Task", {}, 400, "Type?criteria"),
    ("?_typeFilter=Task?_sort=status", {}, 400, "_sort"),
    ("?_type=Organization&_typeFilter=Task?status=requested", {}, 400, "_type"),
    ("?_outputFormat=text/csv", {}, 400, "_outputFormat"),
    ("?organization=NOPE1", {}, 400, "NOPE1"),
    ("?patient=Patient/1", {"Prefer": "respond-async, handling=strict"}, 400, "patient"),
    ("", {"Accept": "application/fhir+xml"}, 406, "json"),
])
def test_bad_kick_offs_are_refused_with_an_operation_outcome(app, client_key, query, headers, status, words):
    http = authorised_client(app, client_key)
    response = http.get(f"/fhir/$export{query}", headers={**ASYNC, **headers})
    assert response.status_code == status, response.get_json()
    text = response.get_data(as_text=True)  # JSON, or XML for the client that asked for XML
    assert "OperationOutcome" in text and words in text


def test_kick_off_needs_a_token_and_the_system_read_search_scope(app, client_key):
    assert kick_off(app.test_client()).status_code == 401
    narrow = authorised_client(app, client_key, "narrow", scopes="system/Task.rs system/Organization.rs")
    response = kick_off(narrow)
    assert response.status_code == 403 and "system/*.rs" in response.get_data(as_text=True)
    read_only = authorised_client(app, client_key, "read-only", scopes="system/*.r")
    assert kick_off(read_only).status_code == 403


@pytest.mark.parametrize("fmt", ["application/fhir%2Bndjson", "application/fhir+ndjson", "application/ndjson",
                                 "ndjson"])
def test_output_format_synonyms_are_accepted(app, client_key, fmt):
    http = authorised_client(app, client_key)
    response = kick_off(http, f"?_type=Organization&_outputFormat={fmt}")
    assert response.status_code == 202 and response.headers["Content-Location"].startswith(f"{BASE}/fhir/_bulk/")
    assert wait_manifest(http, response.headers["Content-Location"]).status_code == 200


def test_manifest_lists_each_file_and_files_hold_ndjson(make, client_key):
    app = make(export_file_resources=3)
    for org in _orgs(7):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    http = authorised_client(app, client_key)
    response = kick_off(http, "?_type=Organization,Measure", {"Accept": "application/fhir+json"})
    assert response.status_code == 202
    assert response.get_json()["resourceType"] == "OperationOutcome"
    done = wait_manifest(http, response.headers["Content-Location"])
    assert done.status_code == 200 and done.mimetype == "application/json" and done.headers["Expires"]
    manifest = done.get_json()
    assert manifest["requiresAccessToken"] is True and manifest["error"] == []
    assert manifest["request"] == f"{BASE}/fhir/$export?_type=Organization,Measure"
    assert manifest["transactionTime"].endswith("Z")
    orgs = [o for o in manifest["output"] if o["type"] == "Organization"]
    assert [o["count"] for o in orgs] == [3, 3, 1]  # files rotate: memory never holds more than a part
    ids = [r["id"] for o in orgs for r in lines(http, o["url"])]
    assert ids == sorted(o["id"] for o in _orgs(7))
    measures = [r for o in manifest["output"] if o["type"] == "Measure" for r in lines(http, o["url"])]
    assert len(measures) == 6 and all(r["resourceType"] == "Measure" for r in measures)
    assert all(o["url"].startswith(response.headers["Content-Location"] + "/") for o in manifest["output"])


def test_resources_written_after_kick_off_are_not_in_the_export(make, client_key):
    app = make(export_workers=0)  # nothing runs until the test says so
    repo = app.extensions["dthub"].repo
    repo.put("Organization", "EARLY", {"resourceType": "Organization", "id": "EARLY", "name": "early"})
    http = authorised_client(app, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    repo.put("Organization", "LATE", {"resourceType": "Organization", "id": "LATE", "name": "late"})
    bulk = app.extensions["dthub.export"]
    assert bulk.runner.run_pending()
    manifest = wait_manifest(http, location).get_json()
    ids = {r["id"] for o in manifest["output"] for r in lines(http, o["url"])}
    assert "EARLY" in ids and "LATE" not in ids


def test_unsupported_parameters_are_ignored_with_a_warning_in_the_error_file(app, client_key):
    http = authorised_client(app, client_key)
    response = kick_off(http, "?_type=Organization&includeAssociatedData=LatestProvenanceResources&_elements=id")
    assert response.status_code == 202
    manifest = wait_manifest(http, response.headers["Content-Location"]).get_json()
    assert [e["type"] for e in manifest["error"]] == ["OperationOutcome"]
    outcomes = lines(http, manifest["error"][0]["url"])
    text = orjson.dumps(outcomes).decode()
    assert all(o["resourceType"] == "OperationOutcome" for o in outcomes)
    assert "includeAssociatedData" in text and "_elements" in text and '"warning"' in text


def test_post_kick_off_takes_parameters(app, client_key):
    http = authorised_client(app, client_key)
    body = {"resourceType": "Parameters", "parameter": [{"name": "_type", "valueString": "Organization"},
                                                        {"name": "_since", "valueInstant": "2000-01-01T00:00:00Z"}]}
    response = http.post("/fhir/$export", data=orjson.dumps(body),
                         headers={**ASYNC, "Content-Type": "application/fhir+json"})
    assert response.status_code == 202
    manifest = wait_manifest(http, response.headers["Content-Location"]).get_json()
    assert sum(o["count"] for o in manifest["output"]) == 7


# -- who may see a job -------------------------------------------------------------------------

def test_status_and_files_are_for_the_same_client_only(app, client_key):
    owner = authorised_client(app, client_key, "owner")
    other = authorised_client(app, client_key, "other")
    location = kick_off(owner, "?_type=Organization").headers["Content-Location"]
    manifest = wait_manifest(owner, location).get_json()
    url = manifest["output"][0]["url"]
    assert other.get(_local(location)).status_code == 404
    assert other.get(_local(url)).status_code == 404
    assert other.delete(_local(location)).status_code == 404
    assert app.test_client().get(_local(url)).status_code == 401  # requiresAccessToken
    assert owner.get(_local(url)).status_code == 200
    assert owner.get(_local(location) + "/Organization-00000000-9.ndjson").status_code == 404
    assert owner.get(_local(location) + "/..%2F..%2Fstore.sqlite3").status_code == 404
    assert owner.get("/fhir/_bulk/" + "0" * 32).status_code == 404


def test_an_expired_export_is_gone_and_its_files_are_removed(app, client_key):
    http = authorised_client(app, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    manifest = wait_manifest(http, location).get_json()
    job_id = location.rsplit("/", 1)[1]
    bulk = app.extensions["dthub.export"]
    assert bulk.files.job_dir(job_id).is_dir()
    with app.extensions["dthub"].repo.engine.begin() as conn:  # the TTL has passed
        conn.execute(update(export_job).where(export_job.c.job_id == job_id).values(expires_at=int(time.time()) - 1))
    assert http.get(_local(location)).status_code == 404
    assert http.get(_local(manifest["output"][0]["url"])).status_code == 404
    bulk.runner.sweep()
    assert not bulk.files.job_dir(job_id).exists() and bulk.jobs.get(job_id) is None


def test_too_many_running_exports_of_one_client_get_429(make, client_key):
    app = make(export_workers=0, export_max_jobs_per_client=2)
    http = authorised_client(app, client_key)
    assert kick_off(http, "?_type=Organization").status_code == 202
    assert kick_off(http, "?_type=Organization").status_code == 202
    third = kick_off(http, "?_type=Organization")
    assert third.status_code == 429 and third.headers["Retry-After"].isdigit()
    assert kick_off(authorised_client(app, client_key, "someone-else"), "?_type=Organization").status_code == 202


# -- cancellation, restart, takeover -----------------------------------------------------------

def test_delete_cancels_a_running_export_and_removes_its_files(make, client_key):
    app = make(export_file_resources=2)
    for org in _orgs(9):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    bulk = app.extensions["dthub.export"]
    reached, release = threading.Event(), threading.Event()

    def hold(job_id, progress):  # the worker stops here after its first file, until the test says go
        reached.set()
        release.wait(60)

    bulk.runner.checkpoint = hold
    http = authorised_client(app, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    job_id = location.rsplit("/", 1)[1]
    assert reached.wait(60)
    running = http.get(_local(location))
    assert running.status_code == 202 and "Organization" in running.headers["X-Progress"]
    assert any(bulk.files.job_dir(job_id).glob("*.ndjson"))
    cancelled = http.delete(_local(location))
    assert cancelled.status_code == 202
    release.set()
    assert bulk.runner.wait_idle(60)
    assert http.get(_local(location)).status_code == 404
    assert not bulk.files.job_dir(job_id).exists()
    assert bulk.jobs.get(job_id) is None
    assert http.delete(_local(location)).status_code == 404


def test_delete_of_a_queued_export_removes_it_at_once(make, client_key):
    app = make(export_workers=0)
    http = authorised_client(app, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    assert http.delete(_local(location)).status_code == 202
    assert http.get(_local(location)).status_code == 404
    assert app.extensions["dthub.export"].jobs.get(location.rsplit("/", 1)[1]) is None


def test_an_export_accepted_before_a_restart_completes_after_it(make, client_key):
    first = make(export_workers=0)  # accepts, never runs: then the process "stops"
    for org in _orgs(4):
        first.extensions["dthub"].repo.put("Organization", org["id"], org)
    http = authorised_client(first, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    queued = http.get(_local(location))
    assert queued.status_code == 202 and queued.headers["X-Progress"] == "Queued"
    close_app(first)

    second = make()  # the same store: its runner finds the job on start
    again = second.test_client()
    again.environ_base.update(http.environ_base)  # the same client's token still verifies (same store keys)
    done = wait_manifest(again, location)
    assert done.status_code == 200
    assert sum(o["count"] for o in done.get_json()["output"]) == 4


def test_a_job_whose_worker_died_is_taken_over(make, client_key):
    first = make(export_workers=0)
    for org in _orgs(3):
        first.extensions["dthub"].repo.put("Organization", org["id"], org)
    http = authorised_client(first, client_key)
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    job_id = location.rsplit("/", 1)[1]
    jobs = first.extensions["dthub.export"].jobs
    assert jobs.claim(job_id, "dead-worker", 60) is not None  # claimed, then the process was killed
    assert jobs.claim(job_id, "another", 60) is None          # a live lease is never taken
    with first.extensions["dthub"].repo.engine.begin() as conn:  # ...and its lease ran out
        conn.execute(update(export_job).where(export_job.c.job_id == job_id)
                     .values(lease_until=int(time.time()) - 1))
    close_app(first)
    second = make()
    again = second.test_client()
    again.environ_base.update(http.environ_base)
    done = wait_manifest(again, location)
    assert done.status_code == 200 and sum(o["count"] for o in done.get_json()["output"]) == 3


def test_two_workers_never_claim_the_same_job(make, client_key):
    app = make(export_workers=0)
    http = authorised_client(app, client_key)
    job_id = kick_off(http, "?_type=Organization").headers["Content-Location"].rsplit("/", 1)[1]
    other = make(export_workers=0)  # another process on the same store
    jobs_a, jobs_b = app.extensions["dthub.export"].jobs, other.extensions["dthub.export"].jobs
    results = []
    barrier = threading.Barrier(2)

    def claim(jobs, worker):
        barrier.wait()
        results.append(jobs.claim(job_id, worker, 60))

    threads = [threading.Thread(target=claim, args=(j, w)) for j, w in ((jobs_a, "a"), (jobs_b, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    winner = next(r for r in results if r is not None).owner
    loser = "b" if winner == "a" else "a"
    assert jobs_a.beat(job_id, winner, 60) and not jobs_a.beat(job_id, loser, 60)


def test_each_file_part_is_audited_with_the_job(make, client_key):
    app = make(export_file_resources=4)
    for org in _orgs(6):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    http = authorised_client(app, client_key, "audited")
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    job_id = location.rsplit("/", 1)[1]
    manifest = wait_manifest(http, location).get_json()
    trail = app.extensions["dthub.audit"]
    trail.flush()
    repo = app.extensions["dthub"].repo
    events = [v.resource() for v in repo.iter_current("AuditEvent")]
    mine = [e for e in events if job_id in (e.get("outcomeDesc") or "")]
    assert len(mine) == len(manifest["output"]) == 2
    assert all(e["subtype"][0]["code"] == "operation" for e in mine)
    assert all("audited" in orjson.dumps(e["agent"]).decode() for e in mine)


def test_capability_statement_advertises_export_and_its_definition_is_served(app, client_key):
    http = authorised_client(app, client_key)
    statement = http.get("/fhir/metadata").get_json()
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    ops = {op["name"]: op["definition"] for op in statement["rest"][0]["operation"]}
    assert ops["export"] == "https://fhir.dandthub.co.uk/OperationDefinition/export"
    found = http.get(f"/fhir/OperationDefinition?url={ops['export']}").get_json()
    assert found["total"] == 1
    definition = found["entry"][0]["resource"]
    assert definition["system"] is True and definition["code"] == "export"
    assert {p["name"] for p in definition["parameter"]} == {"_outputFormat", "_since", "_type", "_typeFilter",
                                                            "organization"}


def test_the_export_operation_definition_and_capability_statement_conform(app, client_key):
    from tests.conformance import assert_conformant

    http = authorised_client(app, client_key)
    for path in ("/fhir/OperationDefinition/export", "/fhir/metadata"):
        response = http.get(path)
        assert response.status_code == 200
        assert_conformant(response.get_json(), http.get(path, headers={"Accept": "application/fhir+xml"}).data)


# -- found in review -----------------------------------------------------------------------------

def _token_client(app, client_key, client_id: str, *, scope: str = "system/*.cruds", purpose: str | None = None):
    private, _ = client_key
    http = app.test_client()
    token = fetch_token(http, app.extensions["dthub"].config.token_url, client_id, private, scope=scope,
                        purpose=purpose)
    http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return http


def _audit_events(app, job_id: str) -> list[dict]:
    app.extensions["dthub.audit"].flush()
    events = [v.resource() for v in app.extensions["dthub"].repo.iter_current("AuditEvent")]
    return [e for e in events if job_id in (e.get("outcomeDesc") or "")]


def test_another_purpose_or_a_narrower_scope_of_the_same_client_cannot_see_the_export(app, client_key):
    owner = authorised_client(app, client_key, "two-hats", purposes=("HOPERAT", "HMARKT"))
    location = kick_off(owner, "?_type=Organization,Task").headers["Content-Location"]
    url = wait_manifest(owner, location).get_json()["output"][0]["url"]
    marketing = _token_client(app, client_key, "two-hats", purpose="HMARKT")
    narrow = _token_client(app, client_key, "two-hats", scope="system/Organization.rs", purpose="HOPERAT")
    for other in (marketing, narrow):
        assert other.get(_local(location)).status_code == 404
        assert other.get(_local(url)).status_code == 404
        assert other.delete(_local(location)).status_code == 404
    both = _token_client(app, client_key, "two-hats", scope="system/Organization.rs system/Task.rs")
    assert both.get(_local(url)).status_code == 200  # read and search on each exported type is enough
    assert owner.get(_local(url)).status_code == 200


@pytest.mark.parametrize("body", [[], ["Parameters"], {"resourceType": "Parameters", "parameter": "x"},
                                  {"resourceType": "Parameters", "parameter": [1]},
                                  {"resourceType": "Parameters", "parameter": {"name": "_type"}}])
def test_post_kick_off_with_a_body_that_is_not_parameters_is_a_400(app, client_key, body):
    http = authorised_client(app, client_key)
    response = http.post("/fhir/$export", data=orjson.dumps(body),
                         headers={**ASYNC, "Content-Type": "application/fhir+json"})
    assert response.status_code == 400 and response.get_json()["resourceType"] == "OperationOutcome"


def test_the_job_limit_holds_for_concurrent_kick_offs(make, client_key):
    app = make(export_workers=0)
    principal = type("P", (), {"client_id": "racer", "org": None, "role": "service", "purpose": "HOPERAT",
                               "scopes": "system/*.rs"})()
    stores = [make(export_workers=0).extensions["dthub.export"].jobs for _ in range(3)]
    stores.append(app.extensions["dthub.export"].jobs)
    barrier, made = threading.Barrier(len(stores)), []

    def create(jobs):
        barrier.wait()
        made.append(jobs.create(principal=principal, request_url="x", params={"types": ["Task"]},
                                transaction_time="2026-01-01T00:00:00.000Z", ttl=60, max_unfinished=2))

    threads = [threading.Thread(target=create, args=(j,)) for j in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(job is not None for job in made) == 2


def test_refusals_of_a_unit_that_writes_nothing_are_audited(make, client_key, monkeypatch):
    import adapter.bulk.runner as runner_module

    def refused_only(ctx, gate, selection):  # the search finds one row the policy then refuses
        assert gate.serve({"resourceType": "Task", "id": "never-stored", "status": "requested",
                           "owner": {"reference": "Organization/ORG001"}}) is None
        return iter(())

    monkeypatch.setattr(runner_module, "visible", refused_only)
    app = make()
    http = authorised_client(app, client_key, "outsider", role="external", purposes=("HMARKT",))
    location = kick_off(http, "?_type=Task").headers["Content-Location"]
    assert wait_manifest(http, location).get_json()["output"] == []
    events = _audit_events(app, location.rsplit("/", 1)[1])
    assert len(events) == 1 and "0 resources" in events[0]["outcomeDesc"]
    assert "Task/never-stored" in orjson.dumps(events[0]["entity"]).decode()


def test_the_job_runs_as_the_client_is_registered_when_it_runs(make, client_key):
    app = make(export_workers=0)  # accepts, runs nothing until the test says
    for org in _orgs(2):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    http = authorised_client(app, client_key, "mover", role="service", purposes=("HOPERAT", "HQUALIMP"))
    location = kick_off(http, "?_type=Organization").headers["Content-Location"]
    job_id = location.rsplit("/", 1)[1]
    with app.extensions["dthub"].repo.engine.begin() as conn:  # re-registered for an ICB meanwhile
        conn.execute(update(client_table).where(client_table.c.client_id == "mover").values(role="icb", org="QAA"))
    bulk = app.extensions["dthub.export"]
    assert bulk.runner.run_pending()
    assert wait_manifest(http, location).status_code == 200
    agents = orjson.dumps([e["agent"] for e in _audit_events(app, job_id)]).decode()
    assert "QAA" in agents and '"icb"' in agents and '"service"' not in agents

    second = kick_off(http, "?_type=Organization").headers["Content-Location"]
    with app.extensions["dthub"].repo.engine.begin() as conn:  # HOPERAT withdrawn before it runs
        conn.execute(update(client_table).where(client_table.c.client_id == "mover").values(purposes="HQUALIMP"))
    assert bulk.runner.run_pending()
    failed = http.get(_local(second))
    assert failed.status_code == 500 and "no longer registered" in failed.get_data(as_text=True)
    assert not bulk.files.job_dir(second.rsplit("/", 1)[1]).exists()


def test_a_failing_worker_leaves_the_files_of_the_worker_that_took_over(make, client_key):
    app = make(export_workers=0)
    for org in _orgs(3):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    bulk = app.extensions["dthub.export"]
    http = authorised_client(app, client_key)
    job_id = kick_off(http, "?_type=Organization").headers["Content-Location"].rsplit("/", 1)[1]
    theirs = bulk.files.job_dir(job_id) / "Organization-newowner-1.ndjson"

    def stall_then_fail(job, progress):  # the lease ran out, another worker took over, then this one breaks
        with app.extensions["dthub"].repo.engine.begin() as conn:
            conn.execute(update(export_job).where(export_job.c.job_id == job_id).values(owner="new-owner"))
        theirs.parent.mkdir(parents=True, exist_ok=True)
        theirs.write_text("{}\n")
        raise RuntimeError("disk full")

    bulk.runner.checkpoint = stall_then_fail
    assert bulk.runner.run_pending()
    assert theirs.is_file()
    job = bulk.jobs.get(job_id)
    assert job.status == "in-progress" and job.owner == "new-owner"


def test_the_lease_is_renewed_by_time_not_by_count(make, client_key):
    app = make(export_workers=0, export_lease_seconds=60)
    for org in _orgs(5):
        app.extensions["dthub"].repo.put("Organization", org["id"], org)
    bulk = app.extensions["dthub.export"]
    now = [0.0]

    def slow_clock():  # every resource takes half a lease: each one must renew it
        now[0] += 30.0
        return now[0]

    beats = []
    bulk.runner.clock = slow_clock
    bulk.runner.checkpoint = lambda job_id, progress: beats.append(progress)
    http = authorised_client(app, client_key)
    kick_off(http, "?_type=Organization")
    assert bulk.runner.run_pending()
    assert len([b for b in beats if "Exporting Organization" in b]) >= 5 + 2  # each resource, the file, the unit
