#!/usr/bin/env python3
"""The cost of `$evaluate-measure` on all-England data (SQLite): one ICB aggregate over ~250
practices (aim < 100 ms) and the 42 ICB aggregates of a data type (aim < 1 s).

The data is the all-England demo package (`dthub demo --practices all`, 6,527 practices), imported
once with `dthub import` into var/agg-bench/england.sqlite3 (reused when present; `--rebuild`
regenerates it, ~3 min). The quarter is the demo's busiest complete one (Jul-Sep 2026).

Measured, for each data type:
- *cold*: a fresh `Aggregates` (empty cache: the SQL over the ICB's practices, parsing, arithmetic,
  suppression, the MeasureReport), then *warm* (the same again: the per-practice values come from
  the cache, which a write to the data's types invalidates);
- as a `service` caller (nothing suppressed) and as an `icb` caller with a contract (QK1) asking
  about another ICB (aggregate only: every contributor hidden, suppression decided cell by cell);
- over HTTP through the Flask test client (token check, policy, rendering) for the ~250-practice ICB.

    .venv/bin/python bench/aggregate_bench.py                 # ~1 min with the store present
    .venv/bin/python bench/aggregate_bench.py --rebuild

Writes bench/results/aggregate-sqlite.json; see bench/README.md ("Aggregates").
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MEASURES = ("global-assessment", "indepth-assessment", "actions", "impact-summary", "indepth-action-summary", "usage")
QUARTER = ("2026-07-01", "2026-09-30")


def build_store(store: Path, today: str) -> None:
    package = store.parent / "package"
    dthub = str(ROOT / ".venv" / "bin" / "dthub")
    store.parent.mkdir(parents=True, exist_ok=True)
    if store.exists():
        store.unlink()
    subprocess.run([dthub, "demo", "--practices", "all", "--today", today, "--seed", "1", "--out", str(package)],
                   check=True)
    subprocess.run([dthub, "import", str(package), "--workers", "1"], check=True,
                   env={**os.environ, "DTHUB_DATABASE_URL": f"sqlite:///{store}"})


def timed(fn, repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(samples), 2), "max_ms": round(max(samples), 2), "runs": repeat}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", type=Path, default=ROOT / "var" / "agg-bench" / "england.sqlite3")
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--today", default="2026-11-01")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--results", type=Path, default=ROOT / "bench" / "results" / "aggregate-sqlite.json")
    args = p.parse_args(argv)
    if args.rebuild or not args.store.exists():
        build_store(args.store, args.today)

    from adapter.aggregates import Aggregates, Period, StoreSource
    from adapter.auth.principal import Principal
    from adapter.auth.scopes import ScopeSet
    from adapter.config import Config
    from adapter.enforcement.state import PolicyState
    from adapter.store import open_repository

    repo = open_repository(Config(database_url=f"sqlite:///{args.store}"))
    state = PolicyState(repo, today=args.today)
    period = Period.parse(*QUARTER)
    callers = {"service": Principal("bench-service", None, "service", ScopeSet.parse(""), "HOPERAT"),
               "icb-QK1": Principal("bench-icb", "QK1", "icb", ScopeSet.parse(""), "HOPERAT")}
    hierarchy = state.inputs().hierarchy
    icbs = sorted(o for o, kind in hierarchy.kinds.items() if kind == "icb")
    target = min(icbs, key=lambda o: abs(len(hierarchy.practices_of(o)) - 250))
    results: dict = {"icb": target, "icb_practices": len(hierarchy.practices_of(target)), "icbs": len(icbs),
                     "quarter": QUARTER, "measures": {}}
    print(f"ICB {target}: {results['icb_practices']} practices; {len(icbs)} ICBs; quarter {QUARTER}")
    for measure in MEASURES:
        row = {}
        for name, principal in callers.items():
            grants = state.for_caller(principal).grants
            # The ICB client asks about another ICB: aggregate only (404 where the baseline grants
            # no ICB level, i.e. all but global-assessment and usage).
            asked = target if name == "service" or target != "QK1" else icbs[0]
            if (Aggregates(StoreSource(repo)).evaluate(grants, measure, asked, period).refusal or None) is not None:
                row[f"{name}_one_icb_cold"] = row[f"{name}_all_icbs_cold"] = None
                continue

            def one(aggregates=None):
                out = (aggregates or Aggregates(StoreSource(repo))).evaluate(grants, measure, asked, period)
                assert out.report is not None or out.refusal.status == 404, out.refusal
                return out

            warm_aggregates = Aggregates(StoreSource(repo))
            one(warm_aggregates)
            row[f"{name}_one_icb_cold"] = timed(one, args.repeat)
            row[f"{name}_one_icb_warm"] = timed(lambda: one(warm_aggregates), args.repeat)

            def all_icbs(aggregates=None):
                aggregates = aggregates or Aggregates(StoreSource(repo))
                for icb in icbs:
                    aggregates.evaluate(grants, measure, icb, period)

            all_warm = Aggregates(StoreSource(repo))
            all_icbs(all_warm)
            row[f"{name}_all_icbs_cold"] = timed(all_icbs, max(2, args.repeat // 2))
            row[f"{name}_all_icbs_warm"] = timed(lambda: all_icbs(all_warm), max(2, args.repeat // 2))
        results["measures"][measure] = row
        print(f"{measure:24} " + "  ".join(f"{k} {v['median_ms']:.1f}" for k, v in row.items() if v))

    results["http"] = http_timings(args, target, period)
    print("over HTTP (Flask test client, service, one ICB):",
          {m: v["median_ms"] for m, v in results["http"].items()})
    results["machine"] = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
                          "platform": platform.platform(), "store": "SQLite (all-England demo, imported)"}
    results["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    import harness

    harness.write_json(args.results, results)
    print(f"wrote {args.results}")
    return 0


def http_timings(args, target: str, period) -> dict:
    import tempfile

    from adapter import create_app
    from adapter.auth.assertion import generate_key, sign_assertion
    from adapter.auth.token_endpoint import ASSERTION_TYPE
    from adapter.config import Config

    app = create_app(Config(database_url=f"sqlite:///{args.store}", policy_today=args.today, base_url="http://bench",
                            rate_limit_per_minute=0, audit_spool_dir=tempfile.mkdtemp()))
    private, jwks = generate_key("bench-agg", "EC")
    registry = app.extensions["dthub.auth"].registry
    if registry.get("bench-agg-service") is None:
        registry.add("bench-agg-service", org=None, role="service", scopes="system/*.rs", purposes=["HOPERAT"],
                     jwks=jwks)
    else:
        registry.set_keys("bench-agg-service", jwks=jwks)
    http = app.test_client()
    token = http.post("/auth/token", data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE, "scope": "system/*.rs",
        "client_assertion": sign_assertion(private, "bench-agg-service", app.extensions["dthub"].config.token_url),
    }).get_json()["access_token"]
    http.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    out = {}
    for measure in MEASURES:
        url = (f"/fhir/Measure/{measure}/$evaluate-measure?subject=Organization/{target}"
               f"&periodStart={QUARTER[0]}&periodEnd={QUARTER[1]}")

        def get():
            response = http.get(url)
            assert response.status_code == 200, response.get_json()

        out[measure] = timed(get, args.repeat)
    return out


if __name__ == "__main__":
    sys.exit(main())
