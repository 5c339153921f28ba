"""`import_package` on both stores: what a package becomes, idempotence, changes, Provenance,
references across packages, zip, warnings, the validate parameter and worker processes."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from adapter.importer import import_package
from adapter.outcomes import Issue
from adapter.storage import Repository, make_engine, migrate
from tests.helpers import STORE_TYPES as TYPES, snapshot
from adapter.validation import validate_resource

PACKAGES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"
BASIC = PACKAGES / "basic"




def copy_package(tmp_path: Path, source: Path = BASIC, name: str = "pkg") -> Path:
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def rewrite(path: Path, change) -> None:
    """Apply `change(record) -> record | None` to every line of an ndjson file (None drops it)."""
    rows = [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    kept = [r for r in (change(dict(r)) for r in rows) if r is not None]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in kept))


def test_the_basic_package_imports_completely(repo):
    report = import_package(repo, BASIC)
    assert report.exit_code == 0 and len(report.rejected) == 0 and len(report.warnings) == 0
    assert {name: (c.read, c.created) for name, c in report.files.items()} == {
        "organisations.ndjson": (6, 6), "assessments.ndjson": (2, 2), "submissions.ndjson": (3, 3),
        "actions.ndjson": (3, 3), "usage.ndjson": (3, 3), "contracts.ndjson": (3, 3)}
    stored = snapshot(repo)
    assert {k for k in stored if k[0] != "MeasureReport"} >= {
        ("Organization", "A81001"), ("Organization", "QHM"), ("Organization", "FED01"),
        ("Questionnaire", "global-2026.1"), ("Questionnaire", "telephony-2026.1"),
        ("QuestionnaireResponse", "S-2026-000123"), ("Task", "A-000981"), ("Consent", "C-QHM-2026")}
    assert sorted(i for t, i in stored if t == "MeasureReport") == [
        "impact-summary-A81001", "impact-summary-A81002", "indepth-action-summary-A81001",
        "usage-A81001-2026-10", "usage-QHM-2026-02", "usage-U89141-2026-10"]
    assert (report.summaries.created, report.summaries.deleted) == (3, 0)
    for (resource_type, id_), body in stored.items():
        assert body["meta"]["source"] == "dthub-test"
        assert [i for i in validate_resource(body) if i.severity == "error"] == [], (resource_type, id_)


def test_importing_the_same_package_twice_writes_nothing(repo):
    import_package(repo, BASIC)
    versions = repo.history_total()
    second = import_package(repo, BASIC)
    assert second.exit_code == 0
    assert {c.unchanged for c in second.files.values()} and all(
        c.created == c.updated == 0 and c.unchanged == c.read for c in second.files.values())
    assert (second.summaries.unchanged, second.summaries.created, second.summaries.updated) == (3, 0, 0)
    assert second.provenance == 0
    assert repo.history_total() == versions


def test_a_changed_record_makes_one_new_version(repo, tmp_path):
    import_package(repo, BASIC)
    package = copy_package(tmp_path)
    rewrite(package / "contracts.ndjson",
            lambda r: {**r, "status": "ended"} if r["id"] == "C-QHM-2026" else r)
    report = import_package(repo, package)
    assert report.files["contracts.ndjson"].updated == 1 and report.files["contracts.ndjson"].unchanged == 2
    assert all(c.updated == 0 for name, c in report.files.items() if name != "contracts.ndjson")
    consent = repo.read("Consent", "C-QHM-2026").resource()
    assert consent["meta"]["versionId"] == "2" and consent["status"] == "inactive"
    provenance = [v.resource() for v in repo.history(resource_type="Provenance", count=1)][0]
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert provenance["target"] == [{"reference": "Consent/C-QHM-2026/_history/2"}]


def test_every_version_written_has_exactly_one_provenance(repo):
    report = import_package(repo, BASIC, batch_size=2)
    targets: list[str] = []
    for version in repo.history(resource_type="Provenance", count=1000):
        body = version.resource()
        assert body["agent"][0]["who"]["display"] == "dthub import"
        assert "dthub-test" in body["entity"][0]["what"]["display"]
        assert "2026-11-01T02:00:00Z" in body["entity"][0]["what"]["display"]
        assert validate_resource(body) == []
        targets += [t["reference"] for t in body["target"]]
    written = [f"{v.resource_type}/{v.id}/_history/{v.version_id}"
               for v in repo.history(count=1000) if v.resource_type != "Provenance"]
    assert sorted(targets) == sorted(written)
    assert report.provenance == len(repo.history(resource_type="Provenance", count=1000)) > 6


def test_organisations_may_come_in_any_order(repo, tmp_path):
    package = copy_package(tmp_path)
    lines = (package / "organisations.ndjson").read_bytes().splitlines()
    (package / "organisations.ndjson").write_bytes(b"\n".join(sorted(lines)) + b"\n")  # practices before ICBs
    report = import_package(repo, package)
    assert report.exit_code == 0 and report.files["organisations.ndjson"].created == 6


def test_references_resolve_against_earlier_imports(repo, tmp_path):
    first = copy_package(tmp_path, name="first")
    for name in ("submissions.ndjson", "actions.ndjson", "usage.ndjson", "contracts.ndjson"):
        (first / name).unlink()
    assert import_package(repo, first).exit_code == 0
    later = copy_package(tmp_path, name="later")
    for name in ("organisations.ndjson", "assessments.ndjson", "submissions.ndjson"):
        (later / name).unlink()
    assert import_package(repo, later).exit_code == 1  # actions need submissions not yet imported
    assert import_package(repo, BASIC).exit_code == 0


def test_a_zip_package_imports_like_its_directory(repo, tmp_path):
    path = tmp_path / "pkg.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for item in BASIC.iterdir():
            archive.write(item, item.name)
    report = import_package(repo, path)
    assert report.exit_code == 0 and report.total("created") == 20


def test_unknown_files_and_fields_are_warnings_and_the_rest_imports(repo, tmp_path):
    package = copy_package(tmp_path)
    (package / "extra.ndjson").write_text('{"x": 1}\n')
    rewrite(package / "usage.ndjson", lambda r: {**r, "sessions": 3} if r["organisation"] == "QHM" else r)
    report = import_package(repo, package)
    assert report.exit_code == 0
    assert list(report.warnings) == [
        {"field": "extra.ndjson", "message": "unknown file 'extra.ndjson' in the package, ignored"},
        {"file": "usage.ndjson", "line": 3, "key": "QHM|2026-02", "field": "sessions",
         "message": "unknown field, ignored"}]
    assert report.files["usage.ndjson"].warnings == 1 and report.files["usage.ndjson"].created == 3


def test_a_newer_minor_version_is_imported_with_a_warning(repo, tmp_path):
    package = copy_package(tmp_path)
    manifest = orjson.loads((package / "manifest.json").read_bytes())
    (package / "manifest.json").write_bytes(orjson.dumps({**manifest, "version": "1.4"}))
    report = import_package(repo, package)
    assert report.exit_code == 0 and report.total("created") == 20
    assert "newer than 1.0" in next(iter(report.warnings))["message"]


@pytest.mark.parametrize("change", [{"version": "2.0"}, {"format": "other"}, None])
def test_a_refused_package_writes_nothing(repo, tmp_path, change):
    package = copy_package(tmp_path)
    if change is None:
        (package / "manifest.json").unlink()
    else:
        manifest = orjson.loads((package / "manifest.json").read_bytes())
        (package / "manifest.json").write_bytes(orjson.dumps({**manifest, **change}))
    report = import_package(repo, package)
    assert report.exit_code == 2 and report.refused
    assert repo.history_total() == 0


def test_the_validate_callable_decides(repo):
    def no_tasks(resource):
        issues = validate_resource(resource)
        if resource["resourceType"] == "Task":
            issues.append(Issue("error", "invalid", "profile says no", ("Task.owner",)))
        return issues

    report = import_package(repo, BASIC, validate=no_tasks)
    assert report.exit_code == 1 and report.files["actions.ndjson"].rejected == 3
    first = next(iter(report.rejected))
    assert (first["file"], first["line"], first["field"], first["reason"]) == (
        "actions.ndjson", 1, "Task.owner", "invalid FHIR: profile says no")
    assert report.files["usage.ndjson"].created == 3


def test_an_action_moved_to_another_practice_updates_both_summaries(repo, tmp_path):
    import_package(repo, BASIC)
    before = repo.read("MeasureReport", "impact-summary-A81002").resource()
    package = copy_package(tmp_path)
    for name in ("submissions.ndjson",):
        (package / name).unlink()
    rewrite(package / "actions.ndjson", lambda r: {**r, "practice": "A81002", "owner": {"organisation": "A81002"}}
            if r["id"] == "A-000981" else r)
    rewrite(package / "actions.ndjson", lambda r: {k: v for k, v in r.items() if k not in ("submission", "question")}
            if r["id"] == "A-000981" else r)
    report = import_package(repo, package)
    assert report.files["actions.ndjson"].updated == 1
    after_new = repo.read("MeasureReport", "impact-summary-A81002").resource()
    after_old = repo.read("MeasureReport", "impact-summary-A81001").resource()

    def count(report_, category):
        return next(g["population"][0]["count"] for g in report_["group"] if g["code"]["coding"][0]["code"] == category)
    assert count(before, "time-saved") == 0 and count(after_new, "time-saved") == 1
    assert count(after_old, "time-saved") == 0 and count(after_old, "patient-access") == 1


def test_worker_processes_give_the_same_result(repo, tmp_path):
    report = import_package(repo, BASIC, workers=2, chunk_size=2)
    assert report.exit_code == 0 and report.total("created") == 20
    reference = Repository(make_engine(f"sqlite:///{tmp_path / 'reference.sqlite3'}"))
    migrate(reference.engine)
    import_package(reference, BASIC)
    assert snapshot(repo) == snapshot(reference)
    bad = import_package(repo, PACKAGES / "bad", workers=2, chunk_size=3)
    in_process = import_package(reference, PACKAGES / "bad")
    assert list(bad.rejected) == list(in_process.rejected)
    reference.engine.dispose()


def test_a_key_twice_in_one_file_ends_with_the_later_line(repo, tmp_path):
    import_package(repo, BASIC)
    package = copy_package(tmp_path)
    rows = [orjson.loads(line) for line in (package / "contracts.ndjson").read_bytes().splitlines()]
    ended = {**rows[0], "status": "ended"}
    (package / "contracts.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in [ended] + rows))
    report = import_package(repo, package)
    assert report.files["contracts.ndjson"].read == 4
    consent = repo.read("Consent", "C-QHM-2026").resource()
    assert consent["status"] == "active" and consent["meta"]["versionId"] == "3"


def _counting_validator():
    """A validator that records the id of each resource it validates."""
    validated = []

    def counting(resource):
        validated.append(resource["id"])
        return validate_resource(resource)

    return validated, counting


def test_an_unchanged_record_is_neither_validated_nor_written_again(repo):
    import_package(repo, BASIC)
    validated, counting = _counting_validator()
    report = import_package(repo, BASIC, validate=counting)
    assert validated == [] and report.total("unchanged") == 20


def test_unchanged_records_are_recognised_when_too_many_ids_are_stored_to_hold(repo, monkeypatch):
    from adapter.importer import StoreLookup

    import_package(repo, BASIC)
    monkeypatch.setattr(StoreLookup, "_ID_SET_LIMIT", 1)  # every type: read each record instead
    validated, counting = _counting_validator()
    report = import_package(repo, BASIC, validate=counting)
    assert validated == [] and report.total("unchanged") == 20


def test_a_record_new_to_a_stored_type_is_not_read_to_compare(repo, tmp_path, monkeypatch):
    import_package(repo, BASIC)
    package = copy_package(tmp_path)
    rewrite(package / "contracts.ndjson", lambda r: {**r, "id": r["id"] + "-NEW"})
    reads = []
    original = Repository.read

    def counting(self, resource_type, id_):
        reads.append((resource_type, id_))
        return original(self, resource_type, id_)

    monkeypatch.setattr(Repository, "read", counting)
    report = import_package(repo, package)
    assert report.files["contracts.ndjson"].created == 3
    assert not [r for r in reads if r[0] == "Consent"]


def test_resources_written_through_the_api_do_not_derail_an_import(repo):
    from tests.helpers import organization, task

    repo.put("Organization", "X1", {**organization("X1"), "identifier": []})
    odd = {**task("A-API-1", practice="A81001"), "identifier": [{"system": "https://fhir.dandthub.co.uk/Id/action",
                                                                 "value": "A-API-1"}], "authoredOn": "yesterday"}
    repo.put("Task", "A-API-1", odd)
    repo.put("Questionnaire", "global-2026.1", {"resourceType": "Questionnaire", "status": "draft",
                                                "url": "https://fhir.dandthub.co.uk/Questionnaire/global",
                                                "version": "2026.1"})
    report = import_package(repo, BASIC)
    assert report.exit_code == 0, list(report.rejected)
    assert repo.read("MeasureReport", "impact-summary-A81001") is not None


def _statistics(repo, table: str):
    """What the planner knows of a table: SQLite's sqlite_stat1 row, PostgreSQL's last ANALYZE time."""
    with repo.engine.connect() as conn:
        if repo.engine.dialect.name == "sqlite":
            if not conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'").scalar_one():
                return None
            return conn.exec_driver_sql("SELECT group_concat(stat) FROM sqlite_stat1 WHERE tbl = ?",
                                        (table,)).scalar_one()
        return conn.exec_driver_sql("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s",
                                    (table,)).scalar_one()


def test_an_import_that_wrote_refreshes_the_planner_statistics(repo):
    before = {t: _statistics(repo, t) for t in ("idx_reference", "resource")}
    import_package(repo, BASIC)
    after = {t: _statistics(repo, t) for t in ("idx_reference", "resource")}
    assert all(after[t] is not None and after[t] != before[t] for t in after), (before, after)


def test_an_import_collects_young_garbage_less_often_and_restores_the_settings_after(repo):
    """adapter/heap.py: a fifth of an import's time went to young collections that found nothing."""
    import gc

    from adapter.heap import YOUNG_THRESHOLD

    before = gc.get_threshold()
    during = set()

    def observing(resource):
        during.add(gc.get_threshold()[0])
        return validate_resource(resource)

    report = import_package(repo, BASIC, validate=observing)
    assert report.exit_code == 0 and during == {max(YOUNG_THRESHOLD, before[0])}
    assert gc.get_threshold() == before


def test_postgresql_batches_are_written_behind_and_in_order_sqlite_ones_in_line(repo, monkeypatch):
    """On PostgreSQL a batch is written by the writer thread while the next is collected, in
    order, each under the label of the file it came from, and each stage waits for the writes
    before it; on SQLite on the importing thread. Either way the store ends the same."""
    import threading

    import time

    real = Repository.write_unit
    threads: list[str] = []

    def observed(self, work):
        # Slow writes: a stage that did not wait for the batches before it would look up
        # organisations, assessments and submissions not yet committed, and reject the records.
        time.sleep(0.05)
        try:
            return real(self, work)
        finally:
            threads.append(threading.current_thread().name)

    monkeypatch.setattr(Repository, "write_unit", observed)
    report = import_package(repo, BASIC, batch_size=2)
    monkeypatch.undo()
    assert report.exit_code == 0 and len(report.rejected) == 0 and len(threads) > 5
    if repo.engine.dialect.name == "postgresql":
        assert all(name.startswith("dthub-import-writer") for name in threads), set(threads)
    else:
        assert set(threads) == {threading.current_thread().name}
    files = ["organisations.ndjson", "assessments.ndjson", "submissions.ndjson", "actions.ndjson",
             "per-practice summaries", "usage.ndjson", "contracts.ndjson"]
    provenance = sorted(repo.history(resource_type="Provenance", count=1000), key=lambda v: v.seq)
    order = [next(i for i, f in enumerate(files) if f in p.resource()["entity"][0]["what"]["display"])
             for p in provenance]
    assert len(order) == report.provenance and order == sorted(order) and set(order) == set(range(len(files)))
    again = import_package(repo, BASIC)
    assert again.exit_code == 0 and all(c.created == c.updated == 0 for c in again.files.values())
