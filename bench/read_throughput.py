#!/usr/bin/env python3
"""Read throughput of the FHIR server: `GET /fhir/Organization/{id}` against the trivial `GET /livez`.

For each store (SQLite in a temp dir, PostgreSQL in a fresh database) it starts `gunicorn wsgi:app`,
loads N Organizations by PUT, then measures both routes with a closed-loop load generator
(worker processes, one keep-alive http.client connection each) for a fixed duration after a warm-up.
The aim checked: reading a stored resource costs less than 2x the trivial route.

    .venv/bin/python bench/read_throughput.py                      # both stores, defaults
    .venv/bin/python bench/read_throughput.py --store sqlite --orgs 500 --seconds 5

Prints the machine, a Markdown table, and writes bench/results/read_throughput-<store>.json.
See bench/README.md.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (bench/ is not a package on purpose: run it as a script)

AIM = 2.0  # a read may cost at most this many times the trivial route


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    p.add_argument("--orgs", type=int, default=2000, help="Organizations loaded before measuring")
    p.add_argument("--concurrency", type=int, default=4, help="load generator processes (one connection each)")
    p.add_argument("--seconds", type=float, default=10.0, help="measured duration per route")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured warm-up per route")
    p.add_argument("--load-threads", type=int, default=4, help="parallel PUT connections while loading")
    p.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    p.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread, sync)")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--seed", type=int, default=20260511, help="seed of the ids requested (reproducible)")
    p.add_argument("--pg-admin-url", default=harness.DEFAULT_PG_ADMIN_URL,
                   help="libpq URL of an existing database used to create/drop the benchmark database "
                        "(env DTHUB_BENCH_PG_ADMIN_URL)")
    p.add_argument("--pg-database", default="dthub_bench", help="benchmark database (dropped and recreated)")
    p.add_argument("--results-dir", type=Path, default=harness.RESULTS_DIR)
    p.add_argument("--log-level", default="WARNING", help="DTHUB_LOG_LEVEL of the server")
    p.add_argument("--max-background", type=float, default=15.0,
                   help="before each measurement, wait until other processes use less than this %% of the CPUs")
    p.add_argument("--quiet-timeout", type=float, default=120.0,
                   help="longest wait for a quiet machine (then measure anyway and warn)")
    args = p.parse_args(argv)
    for name in ("orgs", "concurrency", "load_threads", "workers", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    # One access token serves a whole measurement and tokens live at most 300 s.
    if args.seconds <= 0 or args.warmup < 0 or args.seconds + args.warmup > 200:
        p.error("--seconds must be > 0, --warmup >= 0, and together at most 200")
    return args


def org_ids(n: int) -> list[str]:
    return [f"Z{i:05d}" for i in range(1, n + 1)]


def org_bodies(ids: list[str], seed: int) -> list[tuple[str, bytes]]:
    rng = random.Random(seed)
    parents = [f"U{89141 + k}" for k in range(42)]  # ~42 ICB-like parents; references need not resolve
    out = []
    for i, ods in enumerate(ids):
        postcode = f"{rng.choice(['TS', 'LS', 'M', 'B', 'NE', 'SW'])}{rng.randint(1, 30)} {rng.randint(1, 9)}" \
                   f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        body = harness.organization(ods, f"BENCH PRACTICE {i + 1}", rng.choice(parents), postcode)
        out.append((f"/fhir/Organization/{ods}", orjson.dumps(body)))
    return out


def check_read(server: harness.GunicornServer, ods: str, headers: dict) -> None:
    status, body = harness.http_get(server.host, server.port, f"/fhir/Organization/{ods}",
                                    headers={"Accept": harness.FHIR_JSON, **headers})
    if status != 200:
        raise RuntimeError(f"sanity read of {ods} gave {status}: {body[:300]!r}")
    got = orjson.loads(body)
    if got.get("id") != ods or got.get("resourceType") != "Organization":
        raise RuntimeError(f"sanity read of {ods} returned {body[:300]!r}")


def quiet(args) -> float:
    busy = harness.wait_for_quiet(args.max_background, args.quiet_timeout, say=lambda m: print(m, flush=True))
    if busy > args.max_background:
        print(f"   WARNING: other processes keep the machine {busy:.0f}% busy; this measurement will be "
              "low and noisy (see background_busy_pct in the JSON)", flush=True)
    return busy


def run_store(store: harness.Store, args, settings: harness.GunicornSettings, workdir: Path,
              machine: dict) -> dict:
    print(f"\n== {store.name}: starting gunicorn ({settings.describe()})", flush=True)
    with harness.GunicornServer(store.url, settings, workdir=workdir, log_level=args.log_level) as server:
        print(f"   serving at {server.base_url} (pid {server.process.pid}, workers {server.worker_pids()})",
              flush=True)
        creds = harness.credentials_for(server, workdir)
        auth = (lambda: creds.headers()) if creds else (lambda: {})  # noqa: E731
        if creds:
            print(f"   auth: registered client {creds.client_id!r} ({creds.role}, {creds.scope}); "
                  "bearer token on every FHIR request; rate limit off", flush=True)
        ids = org_ids(args.orgs)
        items = org_bodies(ids, args.seed)
        print(f"   loading {len(items)} Organizations with {args.load_threads} connections ...", flush=True)
        load = harness.put_all(server.host, server.port, items, threads=args.load_threads,
                               deadline_seconds=max(300.0, args.orgs * 0.2), headers=auth)
        print(f"   loaded {load.ok}/{load.count} in {load.seconds:.1f}s = {load.per_second:.0f} PUT/s "
              f"(p50 {load.p50_ms:.1f} ms, p95 {load.p95_ms:.1f} ms), statuses {load.statuses}", flush=True)
        if load.errors:
            print(f"   load errors, e.g. {load.error_samples[:2]}", flush=True)
        if load.ok < load.count:
            raise RuntimeError(f"{load.errors} PUTs failed, e.g. {load.error_samples[:2]}")
        check_read(server, ids[0], auth())

        db_pids = None
        if store.name == "postgresql":
            db_pids = lambda: harness.postgres_backend_pids(args.pg_admin_url, store.dbname)  # noqa: E731
            if not any(harness.process_cpu_seconds(p) is not None for p in db_pids()):
                db_pids = None  # the server is not on this machine/namespace: skip its CPU

        common = dict(concurrency=args.concurrency, seconds=args.seconds, warmup=args.warmup,
                      seed=args.seed, server=server, db_pids=db_pids)
        busy_before_trivial = quiet(args)
        print(f"   measuring GET /livez: {args.concurrency} connections, {args.warmup:g}s warm-up + "
              f"{args.seconds:g}s ...", flush=True)
        trivial = harness.measure("trivial", server.host, server.port, ["/livez"], **common)
        print(f"   {trivial.rps:.0f} req/s, p50 {trivial.p50_ms:.2f} ms, errors {trivial.errors}", flush=True)
        busy_before_read = quiet(args)
        print(f"   measuring GET /fhir/Organization/{{random of {len(ids)}}} ...", flush=True)
        read = harness.measure("read", server.host, server.port, [f"/fhir/Organization/{i}" for i in ids],
                               display_path="/fhir/Organization/{id}", headers=auth(), **common)
        print(f"   {read.rps:.0f} req/s, p50 {read.p50_ms:.2f} ms, errors {read.errors}", flush=True)

    cost_ratio = trivial.rps / read.rps if read.rps else float("inf")
    p50_ratio = read.p50_ms / trivial.p50_ms if trivial.p50_ms else float("inf")
    cpu_ratio = (read.server_cpu_ms_per_req / trivial.server_cpu_ms_per_req
                 if trivial.server_cpu_ms_per_req else float("inf"))
    return {
        "benchmark": "read_throughput",
        "store": store.name,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine,
        "store_version": store.version,
        "parameters": {"orgs": args.orgs, "concurrency": args.concurrency, "seconds": args.seconds,
                       "warmup": args.warmup, "load_threads": args.load_threads, "seed": args.seed,
                       "gunicorn": settings.describe(), "log_level": args.log_level},
        "auth": ({"client_id": creds.client_id, "role": creds.role, "scope": creds.scope,
                  "note": "bearer token on every FHIR request; DTHUB_RATE_LIMIT_PER_MINUTE=0"}
                 if creds else None),
        # Whole-machine CPU busy % just before each measurement, while the benchmark was idle.
        "background_busy_pct": {"before_trivial": round(busy_before_trivial, 1),
                                "before_read": round(busy_before_read, 1)},
        "load": {"puts": load.count, "ok": load.ok, "errors": load.errors, "seconds": round(load.seconds, 3),
                 "puts_per_second": round(load.per_second, 1), "p50_ms": round(load.p50_ms, 2),
                 "p95_ms": round(load.p95_ms, 2), "statuses": load.statuses},
        "routes": {"trivial": _rounded(trivial.as_dict()), "read": _rounded(read.as_dict())},
        "ratios": {"throughput_trivial_over_read": round(cost_ratio, 3),
                   "p50_read_over_trivial": round(p50_ratio, 3),
                   "p95_read_over_trivial": round(read.p95_ms / trivial.p95_ms, 3) if trivial.p95_ms else None,
                   "server_cpu_per_request_read_over_trivial": round(cpu_ratio, 3)},
        "aim": {"max_cost_ratio": AIM, "met": cost_ratio <= AIM},
        # False when other processes took over 10% of the CPUs while measuring: do not quote such a run.
        "quiet": max(trivial.other_cpu_pct, read.other_cpu_pct) <= 10.0,
    }


def _rounded(d: dict) -> dict:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}


def print_report(results: list[dict], machine: dict) -> None:
    rows = []
    for r in results:
        for key, route in (("trivial", "`GET /livez` (trivial)"), ("read", "`GET /fhir/Organization/{id}`")):
            m = r["routes"][key]
            rows.append([r["store"], route, f"{m['rps']:,.0f}", f"{m['p50_ms']:.2f}", f"{m['p95_ms']:.2f}",
                         f"{m['p99_ms']:.2f}", m["errors"], f"{m['server_cpu_ms_per_req']:.2f}"])
    table = harness.markdown_table(
        ["Store", "Route", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "server CPU ms/req"],
        rows, align="llrrrrrr")
    ratio_rows = []
    for r in results:
        q = r["ratios"]
        ratio_rows.append([r["store"], f"{q['throughput_trivial_over_read']:.2f}x",
                           f"{q['p50_read_over_trivial']:.2f}x", f"{q['p95_read_over_trivial']:.2f}x",
                           f"{q['server_cpu_per_request_read_over_trivial']:.2f}x",
                           f"{r['load']['puts_per_second']:,.0f}",
                           ("yes" if r["aim"]["met"] else "**no**")])
    ratios = harness.markdown_table(
        ["Store", "read cost (trivial req/s ÷ read req/s)", "p50 read ÷ trivial", "p95 read ÷ trivial",
         "server CPU/req read ÷ trivial", "load PUT/s", f"read < {AIM:g}x trivial"], ratio_rows,
        align="lrrrrrl")
    p = results[0]["parameters"]
    print("\n## Read throughput\n")
    print(f"Machine: {harness.machine_line(machine)}  ")
    print(f"Load: {p['orgs']} Organizations loaded by PUT ({p['load_threads']} connections); "
          f"{p['concurrency']} keep-alive client processes, {p['warmup']:g} s warm-up + {p['seconds']:g} s "
          f"per route; reads pick a random loaded id (seed {p['seed']}).\n")
    print(table)
    print()
    print(ratios)
    print()
    for r in results:
        t, rd = r["routes"]["trivial"], r["routes"]["read"]
        print(f"{r['store']}: client CPU {t['client_cpu_ms_per_req']:.2f} / {rd['client_cpu_ms_per_req']:.2f} ms/req "
              f"(trivial / read); machine busy {t['machine_busy_pct']:.0f}% / {rd['machine_busy_pct']:.0f}%; "
              f"other processes {t['other_cpu_pct']:.0f}% / {rd['other_cpu_pct']:.0f}% of the CPUs"
              + (f"; PostgreSQL backends {rd['db_cpu_s'] / max(rd['ok'], 1) * 1000:.2f} ms CPU/read"
                 if rd.get("db_cpu_s") else ""))
        if max(t["other_cpu_pct"], rd["other_cpu_pct"]) > 10:
            print(f"   WARNING: other processes used over 10% of the CPUs during a {r['store']} measurement; "
                  "rerun on a quiet machine before quoting these numbers")
    print()


def main(argv=None) -> int:
    args = parse_args(argv)
    harness.handle_termination()
    settings = harness.GunicornSettings(workers=args.workers, worker_class=args.worker_class, threads=args.threads)
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    pg_version = None
    if "postgresql" in stores:
        try:
            pg_version = harness.postgresql_version(args.pg_admin_url)
        except Exception as exc:  # noqa: BLE001 - one clear line instead of a driver trace
            print(f"PostgreSQL at {args.pg_admin_url} is not reachable ({exc.__class__.__name__}: {exc}); "
                  "start it, set --pg-admin-url, or use --store sqlite", file=sys.stderr)
            return 2
    machine = harness.machine_info(settings, postgresql=pg_version)
    print(f"Machine: {harness.machine_line(machine)}", flush=True)

    results = []
    started = time.monotonic()
    try:
        for name in stores:
            with harness.temp_workdir() as workdir:
                store_cm = (harness.sqlite_store(workdir) if name == "sqlite"
                            else harness.postgresql_store(args.pg_admin_url, args.pg_database))
                with store_cm as store:
                    result = run_store(store, args, settings, workdir, machine)
            path = harness.write_json(args.results_dir / f"read_throughput-{name}.json", result)
            print(f"   wrote {path}", flush=True)
            results.append(result)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped, benchmark database dropped, temp files removed", file=sys.stderr)
        if results:
            print_report(results, machine)
        return 130
    print_report(results, machine)
    print(f"(total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
