#!/usr/bin/env python3
"""Where a read's time goes: py-spy on a gunicorn worker while it serves a benchmark load.

Optional companion of read_throughput.py; needs py-spy (`.venv/bin/pip install py-spy`), root or
ptrace rights.  Starts one gunicorn worker (so one process holds every sample), loads Organizations,
drives `GET /fhir/Organization/{id}` (or `/livez`) and records collapsed stacks, then prints the
functions that dominate, inclusive and self, as % of the worker's busy samples and as estimated
CPU ms per request.

    .venv/bin/python bench/profile_read.py --store sqlite --route read --seconds 15
    .venv/bin/python bench/profile_read.py --store postgresql --route livez

Raw stacks go to bench/results/profiles/<store>-<route>.txt (collapsed format: flamegraph.pl,
speedscope.app and `py-spy` itself read it).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402
import read_throughput as rt  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="py-spy profile of a gunicorn worker under read load")
    p.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--route", choices=("read", "livez"), default="read")
    p.add_argument("--orgs", type=int, default=2000)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--threads", type=int, default=4, help="gthread threads of the single worker")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--focus", action="append", default=[],
                   help="also break down this function's time by its direct callees (repeatable), "
                        "e.g. --focus authenticate --focus Repository.read")
    p.add_argument("--from-stacks", type=Path,
                   help="only summarise an earlier stacks file (no server, no py-spy run)")
    p.add_argument("--cpu-ms", type=float, help="with --from-stacks: server CPU ms per request, for ms/req")
    p.add_argument("--gil", action="store_true",
                   help="sample only the thread holding the GIL (Python CPU; leaves out SQLite/libpq/socket "
                        "time spent with the GIL released)")
    p.add_argument("--pg-admin-url", default=harness.DEFAULT_PG_ADMIN_URL)
    p.add_argument("--pg-database", default="dthub_bench_profile")
    p.add_argument("--out-dir", type=Path, default=harness.RESULTS_DIR / "profiles")
    args = p.parse_args(argv)
    args.spy_args = ["--gil"] if args.gil else []
    if not 0 < args.seconds <= 120:
        p.error("--seconds must be in (0, 120]")
    return args


def py_spy() -> str:
    found = harness.venv_bin() / "py-spy"
    if found.exists():
        return str(found)
    other = shutil.which("py-spy")
    if not other:
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    return other


def frame_key(frame: str) -> str:
    """'func (path/to/file.py:123)' -> 'func (relative/file.py)' without the line number."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker.startswith("/lib"):
                path = "stdlib/" + path.split("/", 1)[1]
            break
    else:
        path = path.replace(str(harness.ROOT) + "/", "")
    return f"{name} ({path})"


# Leaf frames of threads that wait, not work (py-spy's own idle detection misses them in some VMs):
# the executor thread waiting for a job, the gthread poll loop, the arbiter's sleep.
IDLE_LEAVES = frozenset({"_worker", "EpollSelector.select", "_PollLikeSelector.select", "Condition.wait",
                         "Event.wait", "Arbiter.sleep", "sleep"})


def summarise(stacks_file: Path, top: int, cpu_ms_per_req: float | None, focus: list[str] = ()) -> str:
    inclusive, own = Counter(), Counter()
    callees: dict[str, Counter] = {f: Counter() for f in focus}
    total = 0
    for line in stacks_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_key(f) for f in stack.split(";")]
        # Skip the thread-name pseudo frame py-spy puts first ("process 123:..." / "thread (0x..)").
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1].split(" (", 1)[0] in IDLE_LEAVES:
            continue
        total += n
        for key in set(frames):
            inclusive[key] += n
        own[frames[-1]] += n
        for f in focus:  # what a focused function spends its time in (its direct callees)
            hits = [i for i, key in enumerate(frames) if key.split(" (", 1)[0] == f]
            if hits:
                i = hits[0]
                callees[f][frames[i + 1] if i + 1 < len(frames) else "(self)"] += n
    if not total:
        return "no samples (is the worker busy? does py-spy have ptrace rights?)"

    def fmt(counter: Counter, title: str, only_app: bool) -> list[str]:
        lines = [f"\n{title}", f"{'%busy':>6} {'ms/req':>7}  function (file)"]
        shown = 0
        for key, n in counter.most_common():
            if only_app and "adapter/" not in key:
                continue
            pct = 100.0 * n / total
            ms = f"{cpu_ms_per_req * n / total:7.3f}" if cpu_ms_per_req else "      -"
            lines.append(f"{pct:6.1f} {ms}  {key}")
            shown += 1
            if shown >= top:
                break
        return lines

    out = [f"{total} busy samples; ms/req = share of the measured server CPU per request "
           f"({cpu_ms_per_req:.3f} ms)" if cpu_ms_per_req else f"{total} busy samples"]
    out += fmt(inclusive, "Inclusive time, the app's own functions (adapter/):", True)
    out += fmt(inclusive, "Inclusive time, all functions:", False)
    out += fmt(own, "Self time, all functions:", False)
    for f, counter in callees.items():
        out += fmt(counter, f"Callees of {f} (inclusive):", False)
    return "\n".join(out)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_stacks:
        print(summarise(args.from_stacks, args.top, args.cpu_ms, args.focus))
        return 0
    harness.handle_termination()
    spy = py_spy()
    settings = harness.GunicornSettings(workers=1, worker_class="gthread", threads=args.threads)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stacks = args.out_dir / f"{args.store}-{args.route}.txt"
    with harness.temp_workdir() as workdir:
        store_cm = (harness.sqlite_store(workdir) if args.store == "sqlite"
                    else harness.postgresql_store(args.pg_admin_url, args.pg_database))
        with store_cm as store, harness.GunicornServer(store.url, settings, workdir=workdir) as server:
            creds = harness.credentials_for(server, workdir)
            auth = (lambda: creds.headers()) if creds else (lambda: {})  # noqa: E731
            ids = rt.org_ids(args.orgs)
            load = harness.put_all(server.host, server.port, rt.org_bodies(ids, 1), threads=4, headers=auth)
            print(f"loaded {load.ok}/{load.count} Organizations ({load.per_second:.0f}/s)", flush=True)
            paths = [f"/fhir/Organization/{i}" for i in ids] if args.route == "read" else ["/livez"]
            worker = server.worker_pids()[0]
            harness.wait_for_quiet(15.0, 120.0, say=lambda m: print(m, flush=True))
            result: dict = {}

            def drive():
                result["m"] = harness.measure(args.route, server.host, server.port, paths,
                                              concurrency=args.concurrency, seconds=args.seconds + 2,
                                              warmup=1.0, headers=auth() if args.route == "read" else None,
                                              server=server)

            loader = threading.Thread(target=drive, daemon=True)
            loader.start()
            time.sleep(2.0)  # spawn + warm-up
            cmd = [spy, "record", "--pid", str(worker), "--duration", str(int(args.seconds)),
                   "--rate", str(args.rate), "--format", "raw", "--output", str(stacks), *args.spy_args]
            print("running:", " ".join(cmd), flush=True)
            spy_run = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60)
            loader.join(timeout=args.seconds + 90)
            if spy_run.returncode != 0:
                print(spy_run.stderr[-2000:], file=sys.stderr)
                return 1
    m = result.get("m")
    if m:
        print(f"{args.route}: {m.rps:.0f} req/s with 1 worker, p50 {m.p50_ms:.2f} ms, "
              f"server CPU {m.server_cpu_ms_per_req:.3f} ms/req, errors {m.errors}")
    print(summarise(stacks, args.top, m.server_cpu_ms_per_req if m else None, args.focus))
    print(f"\nstacks: {stacks}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
