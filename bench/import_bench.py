"""Import throughput and peak memory: `dthub demo` writes a package, `dthub import` loads it.

    .venv/bin/python bench/import_bench.py [--practices all|N] [--store sqlite|postgresql|both] [--workers 2]

Runs `dthub import` as a subprocess (as a user would) on a fresh store, twice: the first import
creates everything, the second finds everything unchanged. Reports records/s, resources/s
(records plus the derived summaries and Provenance) and the peak resident memory of the import
processes (the largest of the main process and its workers).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import harness  # noqa: E402

DTHUB = str(harness.venv_bin() / "dthub")


def _run(argv: list[str], env: dict) -> tuple[float, int, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if out.returncode not in (0, 1):
        raise RuntimeError(f"{argv[1]} failed ({out.returncode}): {out.stderr[-2000:]}")
    return seconds, max(peak_kib, before), out.stdout


def _counts(stdout: str) -> tuple[int, int]:
    records = sum(int(m.group(1)) for m in re.finditer(r"^\s+\S+\.ndjson\s+(\d+)", stdout, re.M))
    summaries = sum(int(n) for n in re.findall(r"(\d+) created", stdout))
    return records, summaries


def run_store(name: str, package: Path, workers: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"import-{name}-"))
    make = harness.sqlite_store(workdir) if name == "sqlite" else harness.postgresql_store(dbname="dthub_import_bench")
    with make as store:
        env = {**os.environ, "DTHUB_DATABASE_URL": store.url, "DTHUB_LOG_LEVEL": "WARNING"}
        result = {}
        for label in ("first import", "same package again"):
            seconds, peak_kib, stdout = _run([DTHUB, "import", str(package), "--workers", str(workers),
                                              "--report", str(workdir / "report.json")], env)
            report = json.loads((workdir / "report.json").read_text())
            records = sum(f.get("read", 0) for f in report.get("files", {}).values())
            result[label] = {"seconds": round(seconds, 1), "records": records,
                             "records_per_second": round(records / seconds), "peak_rss_mib": round(peak_kib / 1024),
                             "exit": report.get("exit_code")}
            print(f"[{name}] {label}: {records} records in {seconds:.1f} s = {records / seconds:.0f} records/s, "
                  f"peak RSS {peak_kib / 1024:.0f} MiB", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--practices", default="all")
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    harness.handle_termination()
    package = Path(tempfile.mkdtemp(prefix="import-package-")) / "package"
    seconds, _, stdout = _run([DTHUB, "demo", "--practices", args.practices, "--out", str(package)], dict(os.environ))
    print(f"package: {stdout.strip().splitlines()[0]} ({seconds:.1f} s)", flush=True)
    results = {}
    for name in (["sqlite", "postgresql"] if args.store == "both" else [args.store]):
        results[name] = run_store(name, package, args.workers)
    out = {"benchmark": "import", "practices": args.practices, "workers": args.workers, "results": results,
           "machine": harness.machine_info(harness.GunicornSettings())}
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / f"import-{args.practices}.json").write_text(json.dumps(out, indent=2))
    print("| store | run | records | seconds | records/s | peak RSS MiB |\n|---|---|---:|---:|---:|---:|")
    for name, runs in results.items():
        for label, r in runs.items():
            print(f"| {name} | {label} | {r['records']} | {r['seconds']} | {r['records_per_second']} | {r['peak_rss_mib']} |")


if __name__ == "__main__":
    main()
