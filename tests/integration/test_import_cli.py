"""`dthub import` and `dthub export` from the command line: exit codes, the report, the summary."""
from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from adapter.cli import main
from adapter.storage import Repository, make_engine

PACKAGES = Path(__file__).resolve().parents[1] / "fixtures" / "packages"


@pytest.fixture
def store(database_url, monkeypatch):
    monkeypatch.setenv("DTHUB_DATABASE_URL", database_url)
    return database_url


def test_import_of_a_good_package_exits_0_and_prints_a_summary(store, tmp_path, capsys):
    assert main(["import", str(PACKAGES / "basic"), "--workers", "0", "--report", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr()
    assert "organisations.ndjson" in out.out and "Report:" in out.out
    assert out.err == ""  # no progress bar when stderr is not a terminal
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    assert report["exit_code"] == 0 and report["totals"]["created"] == 20


def test_import_with_rejected_records_exits_1_and_reports_each(store, tmp_path, capsys):
    assert main(["import", str(PACKAGES / "bad"), "--workers", "0", "--report", str(tmp_path / "r.json")]) == 1
    report = orjson.loads((tmp_path / "r.json").read_bytes())
    first = report["rejected"][0]
    assert {k: first[k] for k in ("file", "line", "field")} == {"file": "organisations.ndjson", "line": 3,
                                                                "field": "name"}
    assert "rejected organisations.ndjson:3 name:" in capsys.readouterr().out


def test_a_refused_package_exits_2(store, tmp_path, capsys):
    package = tmp_path / "pkg"
    shutil.copytree(PACKAGES / "basic", package)
    (package / "manifest.json").write_text('{"format": "dthub-export", "version": "2.0"}')
    assert main(["import", str(package), "--report", str(tmp_path / "r.json")]) == 2
    assert "Package refused" in capsys.readouterr().out
    assert orjson.loads((tmp_path / "r.json").read_bytes())["refused"]


def test_import_with_worker_processes(store, capsys):
    assert main(["import", str(PACKAGES / "basic"), "--workers", "2", "--batch-size", "4"]) == 0
    engine = make_engine(store)
    assert Repository(engine).read("QuestionnaireResponse", "S-2026-000123") is not None
    engine.dispose()


def test_a_store_failure_exits_3(store, monkeypatch, capsys):
    from adapter import importer

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer._Writer, "flush", broken)
    assert main(["import", str(PACKAGES / "basic"), "--workers", "0"]) == 3
    assert "run the same command again" in capsys.readouterr().err


def test_export_command_writes_a_package(store, tmp_path, capsys):
    main(["import", str(PACKAGES / "basic"), "--workers", "0"])
    assert main(["export", str(tmp_path / "out.zip")]) == 0
    assert "Exported to" in capsys.readouterr().out
    assert (tmp_path / "out.zip").stat().st_size > 0


def test_sigterm_stops_an_import_cleanly_and_a_rerun_finishes(store, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    big = tmp_path / "big"
    shutil.copytree(PACKAGES / "basic", big)
    rows = [orjson.loads(line) for line in (PACKAGES / "basic" / "usage.ndjson").read_bytes().splitlines()]
    with open(big / "usage.ndjson", "wb") as out:  # enough lines to be stopped half-way
        for month in range(1, 13):
            for year in range(1990, 2026):
                out.write(orjson.dumps({**rows[0], "period": f"{year}-{month:02d}"}) + b"\n")
    env = {**os.environ, "DTHUB_DATABASE_URL": store}
    command = [sys.executable, "-m", "adapter.cli", "import", str(big), "--workers", "2", "--batch-size", "20"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine = make_engine(store)
    repo = Repository(engine)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if sum(1 for _ in repo.iter_current("MeasureReport")) > 40:
                break
        except Exception:  # the schema may not exist yet
            pass
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the import finished before it could be stopped")
    assert process.returncode == 130 and "run the same command again" in err
    assert subprocess.run(command, env=env, capture_output=True).returncode == 0
    assert sum(1 for v in repo.iter_current("MeasureReport") if v.id.startswith("usage-")) == 12 * 36
    engine.dispose()
