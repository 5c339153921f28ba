"""Crash safety: an import that dies mid-way leaves whole batches, and re-running it finishes the job."""
from __future__ import annotations

from pathlib import Path

import pytest

from adapter import importer
from adapter.importer import import_package
from adapter.storage import Repository, make_engine, migrate
from tests.helpers import STORE_TYPES as TYPES, snapshot

BASIC = Path(__file__).resolve().parents[1] / "fixtures" / "packages" / "basic"




def crash_on_batch(monkeypatch, n: int, exc: type[BaseException] = RuntimeError) -> None:
    real = importer._Writer._write
    calls = {"n": 0}

    def write(self, unit, batch, *rest):
        calls["n"] += 1
        results = real(self, unit, batch, *rest)
        if calls["n"] == n:  # after the batch's writes, inside its transaction: all of it must go
            raise exc("the store went away")
        return results

    monkeypatch.setattr(importer._Writer, "_write", write)


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_a_crash_keeps_whole_batches_and_a_rerun_completes(repo, tmp_path, monkeypatch, exc):
    crash_on_batch(monkeypatch, 4, exc)
    with pytest.raises(exc):
        import_package(repo, BASIC, batch_size=2)
    # organisations go in passes: [QHM], [U89141], [FED01] committed; the practices' batch is gone
    assert sorted(v.id for v in repo.iter_current("Organization")) == ["FED01", "QHM", "U89141"]
    assert repo.history_total(resource_type="Provenance") == 3
    assert repo.read("Organization", "A81001") is None
    monkeypatch.undo()

    report = import_package(repo, BASIC, batch_size=2)
    assert report.exit_code == 0
    assert report.files["organisations.ndjson"].unchanged == 3 and report.files["organisations.ndjson"].created == 3
    reference = Repository(make_engine(f"sqlite:///{tmp_path / 'reference.sqlite3'}"))
    migrate(reference.engine)
    import_package(reference, BASIC)
    assert snapshot(repo) == snapshot(reference)
    assert all(v.version_id == 1 for t in TYPES for v in repo.iter_current(t))  # nothing written twice
    reference.engine.dispose()


def test_a_crash_before_the_summaries_is_completed_by_the_rerun(repo, monkeypatch):
    real = importer._Import._summaries

    def fail(self):
        raise RuntimeError("died before the summaries")

    monkeypatch.setattr(importer._Import, "_summaries", fail)
    with pytest.raises(RuntimeError):
        import_package(repo, BASIC)
    assert repo.read("MeasureReport", "impact-summary-A81001") is None
    monkeypatch.setattr(importer._Import, "_summaries", real)
    report = import_package(repo, BASIC)
    assert report.files["actions.ndjson"].unchanged == 3 and report.summaries.created == 3
    assert repo.read("MeasureReport", "impact-summary-A81001") is not None


def test_an_interrupt_on_the_importing_thread_leaves_the_batch_in_flight_whole(repo, tmp_path, monkeypatch):
    """SIGTERM and Ctrl-C arrive on the importing thread, while (on PostgreSQL) the writer thread
    may be storing a batch: it commits whole, the rest is not written, and a re-run completes."""
    real = importer._Import._apply
    calls = {"n": 0}

    def interrupted(self, file_kind, outcome):
        calls["n"] += 1
        if calls["n"] == 12:  # batches of 2: several handed over, one possibly in flight
            raise KeyboardInterrupt
        return real(self, file_kind, outcome)

    monkeypatch.setattr(importer._Import, "_apply", interrupted)
    with pytest.raises(KeyboardInterrupt):
        import_package(repo, BASIC, batch_size=2)
    monkeypatch.undo()
    written = repo.history_total()
    provenance = repo.history(resource_type="Provenance", count=1000)
    targets = {t["reference"] for p in provenance for t in p.resource()["target"]}
    versions = {f"{v.resource_type}/{v.id}/_history/{v.version_id}"
                for v in repo.history(count=1000) if v.resource_type != "Provenance"}
    assert written > 0 and versions == targets  # whole batches: every version with its Provenance

    report = import_package(repo, BASIC, batch_size=2)
    assert report.exit_code == 0
    reference = Repository(make_engine(f"sqlite:///{tmp_path / 'reference.sqlite3'}"))
    migrate(reference.engine)
    import_package(reference, BASIC)
    assert snapshot(repo) == snapshot(reference)
    reference.engine.dispose()
