"""The audit trail over a real store (SQLite and PostgreSQL): records reach the store, replays are
idempotent, a failing store loses nothing, and a worker killed with SIGKILL after acknowledging
requests loses none of their audit."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from adapter.audit import AccessRecord, AuditTrail, new_record
from adapter.audit.trail import read_segment
from adapter.validation import validate_resource
from tests.conftest import ROOT

BASE = "http://fhir.test/fhir"


def a_read(i: int = 0, **fields) -> AccessRecord:
    values = dict(client_id="practice-app", org="A81001", role="practice", purpose="HOPERAT",
                  source="10.0.0.1", resources=((f"Task/t{i}", "A81001"),), organisations=("A81001", "U11111"),
                  deciding=("Consent/tier-practice",))
    values.update(fields)
    return new_record("read", "GET", f"/fhir/Task/t{i}", 200, **values)


def unauthenticated(source: str) -> AccessRecord:
    return new_record("search-type", "GET", "/fhir/Task", 401, source=source, outcome_desc="no bearer token")


def stored(repo, rec_id: str) -> dict | None:
    version = repo.read("AuditEvent", rec_id)
    return version.resource() if version and not version.deleted else None


def versions(repo, rec_id: str) -> int:
    return repo.history_total(resource_type="AuditEvent", id_=rec_id)


def spool_files(spool: Path) -> list[Path]:
    return sorted(spool.glob("spool-*.jsonl"))


@pytest.fixture
def spool(tmp_path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def trail(repo, spool):
    trail = AuditTrail(repo, BASE, spool, flush_seconds=3600)
    yield trail
    trail.close()


def test_records_reach_the_store_on_flush(repo, trail, spool):
    records = [a_read(i) for i in range(3)]
    for rec in records:
        trail.record(rec)
    assert len(spool_files(spool)) == 1 and trail.backlog() == 3
    assert all(stored(repo, r.id) is None for r in records)  # batched off the request path
    assert trail.flush() == 3
    for rec in records:
        event = stored(repo, rec.id)
        assert event["subtype"][0]["code"] == "read" and event["recorded"] == rec.recorded
        assert [i for i in validate_resource(event) if i.severity == "error"] == []
    assert spool_files(spool) == [] and trail.backlog() == 0


def test_background_thread_stores_within_the_flush_interval(repo, spool):
    trail = AuditTrail(repo, BASE, spool, flush_seconds=0.05)
    try:
        rec = a_read()
        trail.record(rec)
        deadline = time.monotonic() + 10
        while stored(repo, rec.id) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stored(repo, rec.id) is not None
    finally:
        trail.close()


def test_large_windows_are_stored_in_batches(repo, spool):
    calls = []

    class Counting:
        def write_unit(self, work):
            calls.append(1)
            return repo.write_unit(work)

    trail = AuditTrail(Counting(), BASE, spool, flush_seconds=3600, batch_size=4)
    records = [a_read(i) for i in range(10)]
    for rec in records:
        trail.record(rec)
    assert trail.flush() == 10 and len(calls) == 3
    assert all(versions(repo, r.id) == 1 for r in records)
    trail.close()


def test_replaying_a_stored_segment_stores_nothing_twice(repo, trail, spool, tmp_path):
    records = [a_read(i) for i in range(3)]
    for rec in records:
        trail.record(rec)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(spool_files(spool)[0].read_bytes())
    trail.flush()
    # As if the writer died after storing the segment but before unlinking it:
    copy.rename(spool / "spool-1-dead-1.jsonl")
    assert AuditTrail(repo, BASE, spool, recover=False).recover() == 0
    assert spool_files(spool) == []
    assert all(versions(repo, r.id) == 1 for r in records)


def test_a_failing_store_loses_nothing_and_is_retried(repo, spool):
    failures = {"left": 2}

    class Flaky:
        def write_unit(self, work):
            if failures["left"]:
                failures["left"] -= 1
                raise ConnectionError("database down")
            return repo.write_unit(work)

    trail = AuditTrail(Flaky(), BASE, spool, flush_seconds=3600)
    first = [a_read(i) for i in range(2)]
    for rec in first:
        trail.record(rec)
    assert trail.flush() == 0
    later = a_read(9)
    trail.record(later)  # recording goes on while the store is down
    assert trail.flush() == 0
    assert len(spool_files(spool)) == 2 and trail.backlog() == 3
    assert all(stored(repo, r.id) is None for r in [*first, later])
    assert trail.flush() == 3
    assert spool_files(spool) == []
    assert all(versions(repo, r.id) == 1 for r in [*first, later])
    trail.close()


def test_unauthenticated_401s_are_summarised_per_source(repo, trail):
    a = [unauthenticated("192.0.2.1") for _ in range(5)]
    b = [unauthenticated("192.0.2.2") for _ in range(2)]
    signed_in = a_read(1, source="192.0.2.1").summarised(1)
    refused_client = new_record("read", "GET", "/fhir/Task/1", 401, client_id="expired", source="192.0.2.1")
    for rec in [a[0], b[0], a[1], signed_in, *a[2:], b[1], refused_client]:
        trail.record(rec)
    assert trail.flush() == 4
    assert "(5 similar requests)" in stored(repo, a[0].id)["outcomeDesc"]
    assert "(2 similar requests)" in stored(repo, b[0].id)["outcomeDesc"]
    assert all(stored(repo, r.id) is None for r in a[1:] + b[1:])
    assert stored(repo, signed_in.id) and stored(repo, refused_client.id)  # only anonymous 401s fold


def test_concurrent_recording_stores_each_record_once(repo, spool):
    trail = AuditTrail(repo, BASE, spool, flush_seconds=0.01, batch_size=50)
    ids: list[str] = []

    def worker(n: int) -> None:
        for i in range(40):
            rec = a_read(n * 100 + i)
            trail.record(rec)
            ids.append(rec.id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    trail.close()
    assert len(ids) == 320
    assert repo.count_current(["AuditEvent"]) == 320
    assert all(versions(repo, i) == 1 for i in ids[::16])
    assert spool_files(spool) == []


def test_recovery_leaves_a_live_writers_segment_alone(repo, trail, spool):
    rec = a_read()
    trail.record(rec)
    other = AuditTrail(repo, BASE, spool, flush_seconds=3600)  # another worker starting up
    assert other.recover() == 0
    assert stored(repo, rec.id) is None and len(spool_files(spool)) == 1
    other.close()
    trail.flush()
    assert versions(repo, rec.id) == 1


def test_a_forked_worker_neither_stores_nor_unlocks_the_parents_segment(repo, trail, spool):
    parent = a_read(1)
    trail.record(parent)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: record, report the id, die without flushing
        try:
            child = a_read(2)
            trail.record(child)
            os.write(write_fd, child.id.encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    child_id = os.read(read_fd, 100).decode()
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert len(spool_files(spool)) == 2
    assert trail.recover() == 1  # the dead child's segment; the parent's own is still locked
    assert stored(repo, child_id) is not None and stored(repo, parent.id) is None
    assert trail.flush() == 1
    assert versions(repo, parent.id) == 1 and versions(repo, child_id) == 1


CRASHING_WORKER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from adapter.config import Config
    from adapter.store import open_repository
    from adapter.audit import AuditTrail, new_record

    config = Config(database_url={url!r}, testing=True, base_url="http://fhir.test")
    repo = open_repository(config)
    trail = AuditTrail(repo, config.fhir_base, {spool!r}, flush_seconds=3600)
    for i in range(20):
        rec = new_record("read", "GET", f"/fhir/Task/t{{i}}", 200, client_id="practice-app", org="A81001",
                         role="practice", purpose="HOPERAT", resources=((f"Task/t{{i}}", "A81001"),),
                         organisations=("A81001",))
        trail.record(rec)
        print(rec.id, flush=True)  # the response is acknowledged only after record() returned
    for i in range(3):
        rec = new_record("search-type", "GET", "/fhir/Task", 401, source="192.0.2.66")
        trail.record(rec)
        print(rec.id, flush=True)
    print("acknowledged", flush=True)
    time.sleep(600)  # never flushes: killed first
""")


@pytest.mark.parametrize("kill", ["sigkill", "exit"])
def test_a_killed_worker_loses_no_acknowledged_audit(repo, database_url, spool, kill):
    script = CRASHING_WORKER.format(root=str(ROOT), url=database_url, spool=str(spool))
    if kill == "exit":
        script = script.replace("time.sleep(600)", "os._exit(137)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    acknowledged = []
    for line in proc.stdout:
        if line.strip() == "acknowledged":
            break
        acknowledged.append(line.strip())
    if kill == "sigkill":
        # While it lives, its segment is locked: nobody else may replay it.
        assert AuditTrail(repo, BASE, spool, recover=False).recover() == 0
        proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) in (-signal.SIGKILL, 137)
    proc.stdout.close()
    assert len(acknowledged) == 23 and all(stored(repo, i) is None for i in acknowledged)
    assert len(spool_files(spool)) == 1 and len(read_segment(spool_files(spool)[0])) == 23

    survivor = AuditTrail(repo, BASE, spool, flush_seconds=3600, recover=False)
    assert survivor.recover() == 21  # 20 reads and one summary of the three 401s
    reads, refused = acknowledged[:20], acknowledged[20:]
    assert all(versions(repo, i) == 1 for i in reads)
    assert "(3 similar requests)" in stored(repo, refused[0])["outcomeDesc"]
    assert repo.count_current(["AuditEvent"]) == 21
    assert spool_files(spool) == []
    assert survivor.recover() == 0  # nothing left, nothing twice
    survivor.close()


def test_spool_dir_is_private(repo, tmp_path):
    spool = tmp_path / "deep" / "spool"
    AuditTrail(repo, BASE, spool).close()
    assert spool.stat().st_mode & 0o777 == 0o700


def test_a_closed_trail_refuses_to_acknowledge(repo, trail):
    trail.close()
    with pytest.raises(RuntimeError):
        trail.record(a_read())
