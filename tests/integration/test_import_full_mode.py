"""`mode: full`: what the store holds of a file's kind from the same source and the package lacks
is retired, per resource type as fhir-conventions.md says."""
from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from adapter.importer import import_package

BASIC = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"



def package(tmp_path: Path, name: str, *, mode: str = "full", source: str = "dthub-test",
            drop: dict[str, str] | None = None, without: tuple[str, ...] = ()) -> Path:
    """A copy of the basic package; `drop` = {file: key} removes the line whose key (id, ods_code
    or organisation) matches."""
    target = tmp_path / name
    shutil.copytree(BASIC, target)
    manifest = orjson.loads((target / "manifest.json").read_bytes())
    (target / "manifest.json").write_bytes(orjson.dumps({**manifest, "mode": mode, "source": source}))
    for file, key in (drop or {}).items():
        rows = [orjson.loads(line) for line in (target / file).read_bytes().splitlines() if line.strip()]
        rows = [r for r in rows if key not in (r.get("id"), r.get("ods_code"), r.get("organisation"))]
        (target / file).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    for file in without:
        (target / file).unlink()
    return target


DROPS = {"organisations.ndjson": "A81003", "assessments.ndjson": "telephony", "submissions.ndjson": "S-2026-000124",
         "actions.ndjson": "A-000983", "usage.ndjson": "QHM", "contracts.ndjson": "C-U89141-2025"}


def test_full_mode_retires_each_type_its_own_way(repo, tmp_path):
    import_package(repo, BASIC)
    versions = repo.history_total(resource_type="Organization")
    report = import_package(repo, package(tmp_path, "full", drop=DROPS))
    assert report.exit_code == 0
    assert {name: c.retired for name, c in report.files.items()} == dict.fromkeys(DROPS, 1)
    org = repo.read("Organization", "A81003").resource()
    assert org["active"] is False and org["name"] == "VICTORIA MEDICAL PRACTICE"
    assert repo.history_total(resource_type="Organization") == versions + 1
    assert repo.read("Questionnaire", "telephony-2026.1").resource()["status"] == "retired"
    assert repo.read("QuestionnaireResponse", "S-2026-000124").resource()["status"] == "entered-in-error"
    assert repo.read("Task", "A-000983").resource()["status"] == "entered-in-error"
    assert repo.read("Consent", "C-U89141-2025").resource()["status"] == "entered-in-error"
    usage = repo.read("MeasureReport", "usage-QHM-2026-02")
    assert usage.deleted and repo.read_version("MeasureReport", "usage-QHM-2026-02", 1) is not None
    # what the package still holds is untouched
    assert repo.read("Organization", "A81001").version_id == 1
    assert repo.read("Task", "A-000981").resource()["status"] == "in-progress"
    # A81002 lost its only action: its impact summary goes
    assert repo.read("MeasureReport", "impact-summary-A81002").deleted
    assert not repo.read("MeasureReport", "impact-summary-A81001").deleted


def test_retirement_writes_provenance(repo, tmp_path):
    import_package(repo, BASIC)
    import_package(repo, package(tmp_path, "full", drop=DROPS))
    activities = {}
    for version in repo.history(resource_type="Provenance", count=100):
        body = version.resource()
        for target in body["target"]:
            activities[target["reference"]] = body["activity"]["coding"][0]["code"]
    assert activities["Task/A-000983/_history/2"] == "UPDATE"
    assert activities["MeasureReport/usage-QHM-2026-02/_history/2"] == "DELETE"


def test_full_mode_twice_changes_nothing_more(repo, tmp_path):
    import_package(repo, BASIC)
    full = package(tmp_path, "full", drop=DROPS)
    import_package(repo, full)
    versions = repo.history_total()
    again = import_package(repo, full)
    assert all(c.retired == 0 and c.created == c.updated == 0 for c in again.files.values())
    assert repo.history_total() == versions


def test_a_record_that_comes_back_is_live_again(repo, tmp_path):
    import_package(repo, BASIC)
    import_package(repo, package(tmp_path, "full", drop=DROPS))
    report = import_package(repo, BASIC)
    assert report.total("updated") == 5  # usage was deleted: it is created again
    assert repo.read("Organization", "A81003").resource()["active"] is True
    assert repo.read("Task", "A-000983").resource()["status"] == "requested"
    assert not repo.read("MeasureReport", "usage-QHM-2026-02").deleted


def test_records_of_another_source_are_left_alone(repo, tmp_path):
    import_package(repo, BASIC)
    other = import_package(repo, package(tmp_path, "other", source="another-hub", drop=DROPS))
    assert other.total("retired") == 0
    assert repo.read("Task", "A-000983").resource()["status"] == "requested"


def test_files_absent_from_a_full_package_retire_nothing(repo, tmp_path):
    import_package(repo, BASIC)
    only_orgs = package(tmp_path, "orgs", without=("assessments.ndjson", "submissions.ndjson", "actions.ndjson",
                                                   "usage.ndjson", "contracts.ndjson"))
    report = import_package(repo, only_orgs)
    assert report.total("retired") == 0 and list(report.files) == ["organisations.ndjson"]
    assert repo.read("Task", "A-000983").resource()["status"] == "requested"
    assert not repo.read("MeasureReport", "usage-QHM-2026-02").deleted


def test_incremental_mode_retires_nothing(repo, tmp_path):
    import_package(repo, BASIC)
    report = import_package(repo, package(tmp_path, "incremental", mode="incremental", drop=DROPS))
    assert report.total("retired") == 0
    assert repo.read("Organization", "A81003").resource()["active"] is True


def test_a_rejected_record_is_not_retired(repo, tmp_path):
    import_package(repo, BASIC)
    full = package(tmp_path, "full")
    rows = [orjson.loads(line) for line in (full / "usage.ndjson").read_bytes().splitlines() if line.strip()]
    rows[2]["logins"] = -1  # QHM's usage is in the package, but invalid this time
    (full / "usage.ndjson").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    report = import_package(repo, full)
    assert report.files["usage.ndjson"].rejected == 1 and report.files["usage.ndjson"].retired == 0
    assert not repo.read("MeasureReport", "usage-QHM-2026-02").deleted
