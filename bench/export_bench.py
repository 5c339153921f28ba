#!/usr/bin/env python3
"""How long a Bulk Data `$export` of all England takes, and how much memory it needs (SQLite).

The store is the aggregate bench's all-England demo import (var/agg-bench/england.sqlite3, built
with `dthub demo --practices all` + `dthub import` when absent, ~4 min); `--practices N` builds a
smaller one instead (var/export-bench/<N>.sqlite3). A job is created as a caller would create it
and run by the real runner on this thread (the same code the worker threads run), writing real
files and a real audit trail; measured: wall time, resources written, files, and the process's
resident memory before and at its peak (flat memory = the export streams).

    .venv/bin/python bench/export_bench.py                                  # service, default types
    .venv/bin/python bench/export_bench.py --caller icb --types Task,MeasureReport
    .venv/bin/python bench/export_bench.py --practices 300                  # a quick, small store

Writes bench/results/export-sqlite[-<N>].json.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def build_small(store: Path, practices: int, today: str) -> None:
    import subprocess

    package = store.parent / f"package-{practices}"
    dthub = str(ROOT / ".venv" / "bin" / "dthub")
    store.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([dthub, "demo", "--practices", str(practices), "--today", today, "--seed", "1", "--out",
                    str(package)], check=True)
    subprocess.run([dthub, "import", str(package), "--workers", "1"], check=True,
                   env={**os.environ, "DTHUB_DATABASE_URL": f"sqlite:///{store}"})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--practices", default="all")
    p.add_argument("--today", default="2026-11-01")
    p.add_argument("--caller", choices=("service", "icb", "external"), default="service")
    p.add_argument("--types", default="", help="comma-separated _type (default: the export's default types)")
    p.add_argument("--file-resources", type=int, default=10000)
    args = p.parse_args(argv)
    if args.practices == "all":
        store = ROOT / "var" / "agg-bench" / "england.sqlite3"
        if not store.exists():
            from aggregate_bench import build_store

            build_store(store, args.today)
    else:
        store = ROOT / "var" / "export-bench" / f"{args.practices}.sqlite3"
        if not store.exists():
            build_small(store, int(args.practices), args.today)

    from adapter.audit import AuditTrail
    from adapter.auth.principal import Principal
    from adapter.auth.scopes import ScopeSet
    from adapter.bulk import build_bulk_export
    from adapter.bulk.request import DEFAULT_TYPES, ExportRequest
    from adapter.config import Config
    from adapter.http.app import build_context
    from adapter.storage import now_instant

    work = Path(tempfile.mkdtemp(prefix="dthub-export-bench-"))
    config = Config(database_url=f"sqlite:///{store}", policy_today=args.today, export_dir=str(work / "files"),
                    export_workers=0, export_file_resources=args.file_resources)
    ctx = build_context(config)
    trail = AuditTrail(ctx.repo, config.fhir_base, work / "spool", 3600)
    bulk = build_bulk_export(ctx, trail)
    org = {"service": None, "icb": "QK1", "external": None}[args.caller]
    principal = Principal(f"bench-{args.caller}", org, args.caller, ScopeSet.parse("system/*.rs"), "HOPERAT")
    types = tuple(t for t in args.types.split(",") if t) or DEFAULT_TYPES
    job = bulk.jobs.create(principal=principal, request_url=f"{config.fhir_base}/$export",
                           params=ExportRequest(types=types).to_json(), transaction_time=now_instant(),
                           ttl=3600)
    peak = {"rss": rss_mib()}
    before = peak["rss"]
    stop = threading.Event()

    def sample():  # the runner's own thread is this one: sample from the side
        while not stop.wait(0.2):
            peak["rss"] = max(peak["rss"], rss_mib())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    assert bulk.runner.run_pending()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    done = bulk.jobs.get(job.job_id)
    assert done.status == "completed", done.message
    outputs = done.done["output"]
    total = sum(o["count"] for o in outputs)
    by_type: dict[str, int] = {}
    for o in outputs:
        by_type[o["type"] if o["unit"] != "aggregates" else "MeasureReport (aggregates)"] = \
            by_type.get(o["type"] if o["unit"] != "aggregates" else "MeasureReport (aggregates)", 0) + o["count"]
    result = {"store": str(store), "practices": args.practices, "caller": args.caller, "types": list(types),
              "seconds": round(seconds, 1), "resources": total, "per_second": round(total / seconds, 1),
              "files": len(outputs), "by_type": by_type, "rss_before_mib": round(before, 1),
              "rss_peak_mib": round(peak["rss"], 1), "ru_maxrss_mib": round(resource.getrusage(
                  resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "bytes_on_disk": sum(f.stat().st_size for f in (work / "files").rglob("*.ndjson")),
              "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                          "platform": platform.platform()},
              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    print(result)
    bulk.files.remove_job(job.job_id)
    trail.close()
    import harness

    suffix = "" if args.practices == "all" else f"-{args.practices}"
    harness.write_json(ROOT / "bench" / "results" / f"export-sqlite{suffix}-{args.caller}.json", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
