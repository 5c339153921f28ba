"""`export_package`: the store back as an export package; re-importing it reproduces the store."""
from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import orjson
import pytest

from adapter.exporter import export_package
from adapter.importer import import_package
from adapter.storage import Repository, make_engine, migrate
from tests.helpers import STORE_TYPES as TYPES, snapshot
from mappings.kinds import BY_FILE
from mappings.package import FILES
from mappings.schemas import load_record

PACKAGES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"
BASIC = PACKAGES / "basic"



@pytest.fixture
def fresh(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    migrate(engine)
    yield Repository(engine)
    engine.dispose()



def lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("target", ["out", "out.zip"])
def test_export_then_import_reproduces_the_store(repo, fresh, tmp_path, target):
    import_package(repo, BASIC)
    import_package(repo, PACKAGES / "bad")  # more shapes: owners with a role only, in-progress, ...
    report = export_package(repo, tmp_path / target)
    assert report.skipped == []
    again = import_package(fresh, tmp_path / target)
    assert again.exit_code == 0, list(again.rejected)
    assert snapshot(fresh) == snapshot(repo)


def test_exported_files_are_valid_export_records(repo, tmp_path):
    import_package(repo, BASIC)
    report = export_package(repo, tmp_path / "out")
    manifest = orjson.loads((tmp_path / "out" / "manifest.json").read_bytes())
    assert {k: manifest[k] for k in ("format", "version", "source", "mode")} == {
        "format": "dthub-export", "version": "1.0", "source": "dthub-test", "mode": "incremental"}
    assert report.written == {"organisations.ndjson": 6, "assessments.ndjson": 2, "submissions.ndjson": 3,
                              "actions.ndjson": 3, "usage.ndjson": 3, "contracts.ndjson": 3}
    for name in FILES:
        for record in lines(tmp_path / "out" / name):
            loaded, problems = load_record(BY_FILE[name].kind, record)
            assert problems == [] and loaded == record  # written in the canonical form


def test_exported_records_equal_the_imported_ones_modulo_normalisations(repo, tmp_path):
    import_package(repo, BASIC)
    export_package(repo, tmp_path / "out")
    for name in ("organisations.ndjson", "assessments.ndjson", "actions.ndjson", "usage.ndjson", "contracts.ndjson"):
        kind = BY_FILE[name]
        originals = {kind.resource_id(r): load_record(kind.kind, r)[0] for r in lines(BASIC / name)}
        exported = {kind.resource_id(r): r for r in lines(tmp_path / "out" / name)}
        assert exported == originals, name
    submissions = {r["id"]: r for r in lines(tmp_path / "out" / "submissions.ndjson")}
    original = load_record("submission", lines(BASIC / "submissions.ndjson")[0])[0]
    original.pop("started")  # documented: R4 keeps no start time of a completed submission
    assert submissions["S-2026-000123"] == original


def test_retired_tasks_and_consents_are_left_out(repo, tmp_path):
    import_package(repo, BASIC)
    full = tmp_path / "full"
    shutil.copytree(BASIC, full)
    manifest = orjson.loads((full / "manifest.json").read_bytes())
    (full / "manifest.json").write_bytes(orjson.dumps({**manifest, "mode": "full"}))
    for name, key in (("actions.ndjson", "A-000983"), ("contracts.ndjson", "C-U89141-2025"),
                      ("usage.ndjson", "QHM")):
        kept = [r for r in lines(full / name) if key not in (r.get("id"), r.get("organisation"))]
        (full / name).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in kept))
    import_package(repo, full)
    report = export_package(repo, tmp_path / "out.zip")
    assert (report.written["actions.ndjson"], report.written["contracts.ndjson"], report.written["usage.ndjson"]) \
        == (2, 2, 2)
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert sorted(archive.namelist()) == sorted(FILES + ("manifest.json",))


def test_resources_from_several_sources_export_under_one_name(repo, tmp_path):
    import_package(repo, BASIC)
    other = tmp_path / "other"
    shutil.copytree(BASIC, other)
    manifest = orjson.loads((other / "manifest.json").read_bytes())
    (other / "manifest.json").write_bytes(orjson.dumps({**manifest, "source": "another-hub"}))
    for name in FILES[1:]:
        (other / name).unlink()
    import_package(repo, other)
    assert export_package(repo, tmp_path / "a").manifest["source"] == "dthub-fhir-adapter"
    assert export_package(repo, tmp_path / "b", source="mine").manifest["source"] == "mine"


def test_resources_the_import_did_not_write_are_not_exported(repo, tmp_path):
    from tests.helpers import organization, task

    import_package(repo, BASIC)
    repo.put("Organization", "B99999", organization("B99999"))  # an ODS code, but not a Hub record
    repo.put("Task", "T-API", task("T-API"))
    report = export_package(repo, tmp_path / "out")
    assert report.written["organisations.ndjson"] == 6 and report.written["actions.ndjson"] == 3
    assert report.skipped == []
