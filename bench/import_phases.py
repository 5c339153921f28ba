"""Import time and CPU per file, and paired A/B runs against another commit.

    .venv/bin/python bench/import_phases.py [--practices all|N] [--store sqlite|postgresql]
    .venv/bin/python bench/import_phases.py --store postgresql --against HEAD~1 --rounds 2

Each run imports the package into a fresh store (`import_package`, 2 workers, full validation,
as `dthub import` does) and reports, per file, the wall time and the CPU used meanwhile by the
importing process, its worker processes and PostgreSQL's processes. The machine's speed drifts
(this VM's host doubled its times in one session), so compare code only in runs made minutes
apart: `--against REV` checks REV out into a temporary git worktree and alternates the two,
A B B A per round, each run a fresh subprocess. Results go to `results/import-phases-<store>.json`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import harness  # noqa: E402

def _cpu_by_kind(me: int) -> dict[str, float]:
    """CPU seconds so far of this process, its children (the workers) and PostgreSQL's processes
    (its backends and its own: checkpointer, WAL writer)."""
    postgres = [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit() and _is_postgres(p)]
    return {"main": harness.process_cpu_seconds(me) or 0.0,
            "workers": sum(harness.process_cpu_seconds(pid) or 0.0 for pid in harness.children_of(me)),
            "postgresql": sum(harness.process_cpu_seconds(pid) or 0.0 for pid in postgres)}


def _is_postgres(proc: Path) -> bool:
    try:
        return (proc / "comm").read_text().startswith("postgres")
    except OSError:
        return False


def one_run(root: Path, url: str, package: Path, workers: int) -> dict:
    """In a subprocess whose sys.path starts at `root` (the code under test)."""
    sys.path.insert(0, str(root))
    from adapter import importer
    from adapter.config import config_from_env
    from adapter.store import open_repository
    from profiles.validate import validate_all

    files: dict[str, dict] = {}
    real = importer._Import._file

    def timed(self, file_kind):
        started, before = time.perf_counter(), _cpu_by_kind(os.getpid())
        real(self, file_kind)
        after = _cpu_by_kind(os.getpid())
        files[file_kind.file] = {"seconds": round(time.perf_counter() - started, 2),
                                 **{k: round(after[k] - before[k], 2) for k in after}}

    importer._Import._file = timed
    repo = open_repository(config_from_env({**os.environ, "DTHUB_DATABASE_URL": url}))
    started = time.perf_counter()
    report = importer.import_package(repo, package, validate=validate_all, workers=workers)
    seconds = time.perf_counter() - started
    repo.engine.dispose()
    return {"seconds": round(seconds, 1), "resources": report.resources_written,
            "resources_per_second": round(report.resources_written / seconds), "exit": report.exit_code,
            "files": files}


def _fresh_store(kind: str, workdir: Path):
    return harness.sqlite_store(workdir) if kind == "sqlite" else harness.postgresql_store(dbname="dthub_import_phases")


def _run(label: str, root: Path, kind: str, package: Path, workers: int) -> dict:
    with harness.temp_workdir() as workdir, _fresh_store(kind, workdir) as store:
        out = subprocess.run([sys.executable, __file__, "--one", str(root), store.url, str(package), str(workers)],
                             cwd=root, capture_output=True, text=True, timeout=7200)
    if out.returncode != 0:
        raise RuntimeError(f"{label} run failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    usage = result["files"].get("usage.ndjson", {})
    print(f"[{label}] {result['seconds']} s, {result['resources_per_second']} resources/s; usage.ndjson "
          f"{usage.get('seconds')} s wall, CPU main {usage.get('main')} / workers {usage.get('workers')} / "
          f"PostgreSQL {usage.get('postgresql')} s", flush=True)
    return dict(result, code=label)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        root, url, package, workers = sys.argv[2:6]
        print(json.dumps(one_run(Path(root), url, Path(package), int(workers))))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--practices", default="all")
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="postgresql")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--against", help="a git revision to compare with (A B B A per round)")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    harness.handle_termination()
    with harness.temp_workdir("import-phases-") as tmp:
        package = tmp / "package"
        subprocess.run([str(harness.venv_bin() / "dthub"), "demo", "--practices", args.practices, "--seed", "1",
                        "--today", "2026-11-01", "--out", str(package)], cwd=ROOT, check=True, capture_output=True)
        runs: list[dict] = []
        if not args.against:
            for _ in range(args.rounds):
                runs.append(_run("this", ROOT, args.store, package, args.workers))
        else:
            other = tmp / "other"
            subprocess.run(["git", "worktree", "add", "--detach", str(other), args.against], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                for _ in range(args.rounds):
                    for label, root in (("this", ROOT), (args.against, other), (args.against, other), ("this", ROOT)):
                        runs.append(_run(label, root, args.store, package, args.workers))
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, capture_output=True)
    out = {"benchmark": "import-phases", "store": args.store, "practices": args.practices, "workers": args.workers,
           "against": args.against, "runs": runs, "machine": harness.machine_info(harness.GunicornSettings())}
    harness.RESULTS_DIR.mkdir(exist_ok=True)
    (harness.RESULTS_DIR / f"import-phases-{args.store}.json").write_text(json.dumps(out, indent=2))
    print("| code | seconds | resources/s | usage wall s | usage CPU main / workers / PostgreSQL s |")
    print("|---|---:|---:|---:|---|")
    for r in runs:
        u = r["files"].get("usage.ndjson", {})
        print(f"| {r['code']} | {r['seconds']} | {r['resources_per_second']} | {u.get('seconds')} | "
              f"{u.get('main')} / {u.get('workers')} / {u.get('postgresql')} |")


if __name__ == "__main__":
    main()
