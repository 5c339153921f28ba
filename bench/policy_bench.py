#!/usr/bin/env python3
"""The cost of data-use policy enforcement: the same reads and searches as a `service` client and as
an ICB client with a contract in force, over all of England (SQLite).

The data is the all-England demo package (`dthub demo --practices all`: the real ODS hierarchy,
6,527 practices, their submissions, actions, monthly usage and contracts), imported once with
`dthub import` into a store cached under var/bench-cache/ (keyed by the demo options and a hash of
the code that shapes stored rows); each run works on a copy of it. gunicorn serves the copy with
`DTHUB_POLICY_TODAY` set to the package's date, so the ICB's contract is in force.

Two clients are registered with the project's CLI, both `system/*.rs`, tokens with purpose HOPERAT:
`bench-service` (role service: unrestricted, the SQL is not narrowed) and `bench-icb` (role icb, org
QK1 by default: its practices' data only, narrowed in SQL and re-judged resource by resource, the
response labelled NOREUSE). Both are audited alike (every request spools an AuditEvent).

Requests (the same paths for both callers): reads of QuestionnaireResponses of the ICB's practices,
searches by practice and by PCN (PCNs wholly inside the ICB; the ICB sees the global assessments
of its practices, not their in-depth ones, so its results are a subset of the service's),
type-wide searches (the ICB sees only its share; the ICB gets no Task at practice level) and second
pages via each caller's own `next` links. Each kind is measured service, ICB, ICB, service
(`--pairs` times over, so drift from a shared machine cancels); a caller's figure is the median of
its rounds, and the ratio is ICB ÷ service.

    .venv/bin/python bench/policy_bench.py                       # ~8 min with a cached store
    .venv/bin/python bench/policy_bench.py --seconds 6 --profile # + cProfile of enforced requests
    .venv/bin/python bench/policy_bench.py --rebuild-store       # regenerate the cached store (~5 min)

Writes bench/results/policy-sqlite.json; see bench/README.md ("Cost of policy enforcement").
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (bench/ is not a package on purpose: run it as a script)

ROOT = harness.ROOT
AIM = 1.2  # enforced p50/p95 at most this many times the service caller's
USAGE_MEASURE = "https://fhir.dandthub.co.uk/Measure/usage"
GLOBAL_ASSESSMENT = "https://fhir.dandthub.co.uk/Questionnaire/global"
# The code that decides what an imported row looks like (schema, access columns, labels, the
# importer): a change to it makes a new cached store. Other changes (the engine, the HTTP layer) do
# not, as they judge rows at request time; --rebuild-store forces a new one.
STORE_CODE = ("adapter/storage/schema.py", "adapter/enforcement/columns.py", "adapter/enforcement/labels.py",
              "adapter/importer.py")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--icb", default="QK1", help="the ICB client's organisation (its contract must be in force)")
    p.add_argument("--today", default="2026-11-01", help="demo package date and DTHUB_POLICY_TODAY")
    p.add_argument("--seed", type=int, default=1, help="demo package seed")
    p.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "bench-cache")
    p.add_argument("--rebuild-store", action="store_true", help="regenerate the cached all-England store")
    p.add_argument("--store-file", type=Path,
                   help="use this already imported all-England SQLite file instead of the keyed cache (copied, not changed)")
    p.add_argument("--concurrency", type=int, default=4, help="load generator processes (one connection each)")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="measured time per request kind and caller (split over 2 x --pairs rounds)")
    p.add_argument("--pairs", type=int, default=1,
                   help="A B B A round groups per kind (more: shorter rounds, medians less moved by bursts)")
    p.add_argument("--warmup", type=float, default=1.5, help="unmeasured warm-up before each round")
    p.add_argument("--only", action="append", help="measure only kinds whose label contains this (repeatable)")
    p.add_argument("--max-background", type=float, default=15.0,
                   help="before each round, wait until other processes use less than this %% of the CPUs")
    p.add_argument("--quiet-timeout", type=float, default=15.0, help="longest wait for a quiet machine")
    p.add_argument("--profile", action="store_true",
                   help="afterwards, cProfile the enforced and the service request in-process (Flask test client)")
    p.add_argument("--profile-requests", type=int, default=200)
    p.add_argument("--profile-all", action="store_true",
                   help="with --profile: every first-page kind, not only those over the aim")
    p.add_argument("--results-dir", type=Path, default=harness.RESULTS_DIR)
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    if args.seconds / (2 * args.pairs) + args.warmup > 120:
        p.error("--seconds/(2 x pairs) + --warmup must stay under 120 (one token serves a round)")
    return args


# --------------------------------------------------------------------------------------------------
# The cached all-England store
# --------------------------------------------------------------------------------------------------
def code_key() -> str:
    h = hashlib.sha1()
    for rel in STORE_CODE:
        path = ROOT / rel
        for f in (sorted(path.rglob("*.py")) if path.is_dir() else [path]):
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:10]


def _sqlite_files(path: Path) -> list[Path]:
    return [Path(f"{path}{s}") for s in ("", "-wal", "-shm")]


def cached_store(args) -> tuple[Path, dict]:
    """The cached all-England store, built (demo package + `dthub import`) when missing."""
    if args.store_file:
        return args.store_file, {"store_file": str(args.store_file)}
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"policy-england-s{args.seed}-{args.today}-{code_key()}.sqlite3"
    meta_path = path.with_name(path.name + ".json")
    if path.exists() and meta_path.exists() and not args.rebuild_store:
        print(f"   cached store {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", flush=True)
        return path, json.loads(meta_path.read_text())
    for stale in cache.glob(f"policy-england-s{args.seed}-{args.today}-*.sqlite3*"):
        stale.unlink()
    dthub = str(harness.venv_bin() / "dthub")
    package = cache / f"england-s{args.seed}-{args.today}-package"
    shutil.rmtree(package, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([dthub, "demo", "--practices", "all", "--seed", str(args.seed), "--today", args.today,
                    "--out", str(package)], cwd=ROOT, check=True, timeout=600, stdout=subprocess.DEVNULL)
    partial = path.with_name(path.name + ".partial")
    for f in _sqlite_files(partial):
        f.unlink(missing_ok=True)
    print(f"   importing the all-England package into {partial.name} (a few minutes on SQLite) ...", flush=True)
    env = {**os.environ, "DTHUB_DATABASE_URL": f"sqlite:///{partial}", "DTHUB_LOG_LEVEL": "WARNING"}
    report = cache / "policy-import-report.json"
    out = subprocess.run([dthub, "import", str(package), "--workers", "2", "--report", str(report)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode not in (0, 1):
        raise RuntimeError(f"dthub import failed ({out.returncode}): {out.stderr[-2000:]}")
    with sqlite3.connect(partial) as conn:  # fold the WAL in: the cache is one self-contained file
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.replace(partial, path)
    for f in _sqlite_files(partial)[1:]:
        f.unlink(missing_ok=True)
    shutil.rmtree(package, ignore_errors=True)
    meta = {"built": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "import_seconds": round(time.perf_counter() - started, 1), "import_exit": out.returncode,
            "package": f"dthub demo --practices all --seed {args.seed} --today {args.today}"}
    meta_path.write_text(json.dumps(meta, indent=2))
    print(f"   built in {meta['import_seconds']} s", flush=True)
    return path, meta


def store_facts(path: Path, icb: str) -> dict:
    """Counts and the ICB's practices, PCNs and QuestionnaireResponses, straight from the store."""
    from adapter.demo.ods import load_hierarchy

    h = load_hierarchy()
    practices = sorted(c for c, p in h.practices.items() if p.icb == icb)
    if not practices:
        raise SystemExit(f"no practices in ICB {icb!r}")
    whole_pcns = sorted(c for c, p in h.pcns.items() if tuple(p.icbs) == (icb,))
    with sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True) as conn:
        counts = dict(conn.execute("SELECT res_type, COUNT(*) FROM resource WHERE deleted = 0 GROUP BY res_type"))
        marks = ",".join("?" * len(practices))
        qrs = [r[0] for r in conn.execute(
            f"SELECT res_id FROM resource WHERE res_type = 'QuestionnaireResponse' AND deleted = 0 "
            f"AND owner_org IN ({marks}) ORDER BY res_id", practices)]
        with_qr = {r[0] for r in conn.execute(
            f"SELECT DISTINCT owner_org FROM resource WHERE res_type = 'QuestionnaireResponse' AND deleted = 0 "
            f"AND owner_org IN ({marks})", practices)}
    return {"counts": counts, "practices": practices, "practices_with_qr": sorted(with_qr),
            "whole_pcns": whole_pcns, "questionnaire_responses": qrs}


# --------------------------------------------------------------------------------------------------
# Callers
# --------------------------------------------------------------------------------------------------
class PolicyCredentials(harness.Credentials):
    """harness.Credentials plus the organisation and the purpose of use (`--org`, `--purpose`)."""

    def __init__(self, server, workdir, *, client_id: str, role: str, org: str | None = None,
                 purpose: str = "HOPERAT", scope: str = "system/*.rs"):
        super().__init__(server, workdir, client_id=client_id, role=role, scope=scope)
        self.org, self.purpose = org, purpose

    def register(self) -> "PolicyCredentials":
        self._dthub("keygen", "--kid", f"{self.client_id}-key", "--private", str(self.private),
                    "--jwks", str(self.jwks))
        extra = ["--org", self.org] if self.org else []
        self._dthub("clients", "add", "--client-id", self.client_id, "--role", self.role, *extra,
                    "--jwks", str(self.jwks), "--scope", self.scope, "--purpose", self.purpose)
        return self

    def token(self) -> str:
        if self._token is None or time.monotonic() - self._token_at > self.refresh_after:
            out = self._dthub("token", "--client-id", self.client_id, "--key", str(self.private),
                              "--scope", self.scope, "--purpose", self.purpose,
                              "--token-url", f"{self.server.base_url}/auth/token")
            self._token, self._token_at = out.strip().splitlines()[-1], time.monotonic()
        return self._token

    def describe(self) -> dict:
        return {"client_id": self.client_id, "role": self.role, "org": self.org, "purpose": self.purpose,
                "scope": self.scope}


def get_json(server, path: str, headers: dict) -> tuple[int, dict]:
    status, body = harness.http_get(server.host, server.port, path, timeout=120,
                                    headers={"Accept": harness.FHIR_JSON, **headers})
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body[:300].decode("latin-1")}


def summary(status: int, bundle: dict) -> dict:
    """What one caller gets for a path: status, total, entries, notes."""
    if bundle.get("resourceType") != "Bundle":
        return {"status": status}
    entries = bundle.get("entry") or []
    outcome = [i.get("code") for e in entries if e.get("search", {}).get("mode") == "outcome"
               for i in e["resource"].get("issue", [])]
    return {"status": status, "total": bundle.get("total"),
            "matches": sum(1 for e in entries if e.get("search", {}).get("mode") == "match"),
            **({"outcome": outcome} if outcome else {})}


def next_path(bundle: dict) -> str | None:
    link = next((l["url"] for l in bundle.get("link", []) if l.get("relation") == "next"), None)
    if not link:
        return None
    parts = urlsplit(link)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --------------------------------------------------------------------------------------------------
# What is requested
# --------------------------------------------------------------------------------------------------
def probe_kind(server, who, creds, label, paths, facts, per_caller, answers) -> None:
    """The paths `who` sends for this kind (page 2: its own next links) and what the first one answers."""
    headers = creds.headers()
    if label.startswith("page 2"):
        got = [get_json(server, p, headers) for p in page_two_firsts(label, facts)]
        per_caller[who] = [q for q in (next_path(b) for _s, b in got) if q]
        probe = per_caller[who][0] if per_caller[who] else None
    else:
        per_caller[who] = paths
        probe = paths[0]
    answers[who] = summary(*get_json(server, probe, headers)) if probe else {"next": None}


def request_kinds(facts: dict, seed: int) -> list[tuple[str, list[str], str]]:
    """(label, paths, note): the same paths are sent by both callers."""
    rng = random.Random(seed)
    qrs = facts["questionnaire_responses"]
    practices = facts["practices_with_qr"]
    pcns = facts["whole_pcns"]
    usage = quote(USAGE_MEASURE, safe="")
    return [
        ("read QuestionnaireResponse/{id}", [f"/fhir/QuestionnaireResponse/{i}" for i in qrs],
         f"{len(qrs)} responses of the ICB's practices that the ICB may read (its global assessments)"),
        ("QuestionnaireResponse?subject=Organization/{practice}",
         [f"/fhir/QuestionnaireResponse?subject=Organization/{p}" for p in practices],
         f"{len(practices)} practices of the ICB; service also gets their in-depth assessments, the ICB only global ones"),
        ("QuestionnaireResponse?subject.partof=Organization/{PCN}&_count=50",
         [f"/fhir/QuestionnaireResponse?subject.partof=Organization/{p}&_count=50" for p in pcns],
         f"{len(pcns)} PCNs wholly inside the ICB; service also gets in-depth assessments, the ICB only global ones"),
        ("QuestionnaireResponse?status=completed&_count=50",
         [f"/fhir/QuestionnaireResponse?status=completed&_count=50&_sort={s}"
          for s in ("_id", "-_id", "authored", "-authored", "_lastUpdated", "-_lastUpdated")],
         "type-wide: all England for service, the ICB's share for the ICB"),
        ("QuestionnaireResponse?questionnaire=…global&status=completed&_count=50",
         [f"/fhir/QuestionnaireResponse?questionnaire={quote(GLOBAL_ASSESSMENT, safe='')}&status=completed&_count=50"
          f"&_sort={s}" for s in ("_id", "-_id", "authored", "-authored", "_lastUpdated", "-_lastUpdated")],
         "type-wide, global assessments only: pages of the same kind of document for both callers "
         "(the type-wide kind above gives the service smaller in-depth responses too)"),
        ("Task?status=in-progress&_count=50",
         [f"/fhir/Task?status=in-progress&_count=50&_sort={s}" for s in ("_id", "-_id", "_lastUpdated")],
         "type-wide: the ICB is granted no Task at practice level (0 entries + a 'suppressed' note)"),
        ("MeasureReport?measure=…usage&_count=50",
         [f"/fhir/MeasureReport?measure={usage}&_count=50&_sort={s}" for s in ("_id", "-_id", "_lastUpdated")],
         "type-wide: all England for service, the ICB's share for the ICB"),
    ] + [(f"page 2 (next link) of {label}", [], note) for label, note in (
        ("QuestionnaireResponse?subject.partof=Organization/{PCN}&_count=5", "PCNs inside the ICB; each caller's own result"),
        ("QuestionnaireResponse?status=completed&_count=50", "each caller's own result"),
        ("MeasureReport?measure=…usage&_count=50", "each caller's own result"))]


def page_two_firsts(label: str, facts: dict) -> list[str]:
    """First-page requests whose `next` links make the page-2 paths (per caller: searches are private)."""
    usage = quote(USAGE_MEASURE, safe="")
    if "subject.partof" in label:
        return [f"/fhir/QuestionnaireResponse?subject.partof=Organization/{p}&_count=5" for p in facts["whole_pcns"]]
    if "status=completed" in label:
        return [f"/fhir/QuestionnaireResponse?status=completed&_count=50&_sort={s}" for s in ("_id", "-_id", "authored")]
    return [f"/fhir/MeasureReport?measure={usage}&_count=50&_sort={s}" for s in ("_id", "-_id", "_lastUpdated")]


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------
def quiet(args) -> float:
    return harness.wait_for_quiet(args.max_background, args.quiet_timeout, say=lambda m: print(m, flush=True))


def measure_pair(server, callers: dict, paths: dict[str, list[str]], label: str, args, order_flip: bool) -> dict:
    """`--pairs` x 2 rounds per caller, in the order A B B A (repeated), each seconds/(2 x pairs)
    long; returns per caller the median of its rounds (a burst of other work on the machine
    then moves one round, not the result), the rounds themselves and the background load before each."""
    first, second = ("icb", "service") if order_flip else ("service", "icb")
    rounds: dict[str, list] = {"service": [], "icb": []}
    busy: dict[str, list] = {"service": [], "icb": []}
    for who in (first, second, second, first) * args.pairs:
        headers = callers[who].headers()
        busy[who].append(round(quiet(args), 1))
        m = harness.measure(f"{who}: {label}", server.host, server.port, paths[who], concurrency=args.concurrency,
                            seconds=args.seconds / (2 * args.pairs), warmup=args.warmup, headers=headers,
                            server=server, display_path=label, timeout=30.0)
        rounds[who].append(m.as_dict())
    out = {}
    for who, ms in rounds.items():
        mean = lambda key: statistics.median(m[key] for m in ms)  # noqa: E731
        out[who] = {"rps": round(mean("rps"), 1), "p50_ms": round(mean("p50_ms"), 2), "p95_ms": round(mean("p95_ms"), 2),
                    "p99_ms": round(mean("p99_ms"), 2), "server_cpu_ms_per_req": round(mean("server_cpu_ms_per_req"), 3),
                    "errors": sum(m["errors"] for m in ms), "ok": sum(m["ok"] for m in ms),
                    "other_cpu_pct": round(max(m["other_cpu_pct"] for m in ms), 1),
                    "background_busy_pct_before": busy[who],
                    "rounds": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()} for m in ms]}
    s, e = out["service"], out["icb"]
    ratio = lambda a, b: round(a / b, 3) if b else None  # noqa: E731
    out["ratios"] = {"p50": ratio(e["p50_ms"], s["p50_ms"]), "p95": ratio(e["p95_ms"], s["p95_ms"]),
                     "throughput_service_over_icb": ratio(s["rps"], e["rps"]),
                     "server_cpu_per_request": ratio(e["server_cpu_ms_per_req"], s["server_cpu_ms_per_req"])}
    return out


def run(args) -> dict:
    machine = harness.machine_info(harness.GunicornSettings())
    print(f"Machine: {harness.machine_line(machine)}", flush=True)
    cached, store_meta = cached_store(args)
    facts = store_facts(cached, args.icb)
    print(f"   store: {facts['counts']}", flush=True)
    print(f"   ICB {args.icb}: {len(facts['practices'])} practices, {len(facts['whole_pcns'])} PCNs wholly inside, "
          f"{len(facts['questionnaire_responses'])} QuestionnaireResponses", flush=True)
    results: dict = {}
    with harness.temp_workdir("dthub-policy-bench-") as wd:
        db = wd / "bench.sqlite3"
        shutil.copyfile(cached, db)  # the run writes (AuditEvents, stored searches): never into the cache
        port = harness.free_port()
        env = {"DTHUB_POLICY_TODAY": args.today, "DTHUB_AUDIT_SPOOL_DIR": str(wd / "audit-spool")}
        with harness.GunicornServer(f"sqlite:///{db}", workdir=wd, port=port, extra_env=env) as server:
            callers = {
                "service": PolicyCredentials(server, wd, client_id="bench-service", role="service").register(),
                "icb": PolicyCredentials(server, wd, client_id="bench-icb", role="icb", org=args.icb).register(),
            }
            # Both callers must be able to read every response requested (the ICB's contract in force).
            icb_headers = callers["icb"].headers()
            refused = [i for i in facts["questionnaire_responses"]
                       if get_json(server, f"/fhir/QuestionnaireResponse/{i}", icb_headers)[0] != 200]
            if refused:
                print(f"   the ICB client may not read {len(refused)} of them (e.g. {refused[:3]}: in-depth "
                      "assessments are not granted to an ICB at practice level); those are left out", flush=True)
                if len(refused) == len(facts["questionnaire_responses"]):
                    raise SystemExit(f"ICB {args.icb} reads nothing: is its contract in force on {args.today}?")
                facts["questionnaire_responses"] = [i for i in facts["questionnaire_responses"] if i not in set(refused)]
            kinds = request_kinds(facts, args.seed)
            if args.only:
                kinds = [k for k in kinds if any(o in k[0] for o in args.only)]
            for n, (label, paths, note) in enumerate(kinds):
                per_caller: dict[str, list[str]] = {}
                answers: dict[str, dict] = {}
                try:
                    for who, creds in callers.items():
                        probe_kind(server, who, creds, label, paths, facts, per_caller, answers)
                except (OSError, RuntimeError) as exc:  # e.g. a first page that never comes back
                    print(f"-- {label}: FAILED while probing: {exc!r}", flush=True)
                    results[label] = {"failed": f"probe: {exc!r}"[:500], "answers": answers, "note": note}
                    continue
                if not all(per_caller.values()):
                    print(f"-- {label}: skipped, a caller has no second page ({answers})", flush=True)
                    results[label] = {"skipped": "no next link", "answers": answers, "note": note}
                    continue
                print(f"-- {label} ({note}); first path answers {answers}", flush=True)
                try:
                    pair = measure_pair(server, callers, per_caller, label, args, order_flip=bool(n % 2))
                except RuntimeError as exc:  # e.g. the server stalls under a heavy kind: record it, go on
                    print(f"   FAILED: {exc}", flush=True)
                    results[label] = {"failed": str(exc)[:500], "answers": answers, "note": note}
                    time.sleep(10)
                    continue
                pair.update(answers=answers, note=note, paths={w: len(p) for w, p in per_caller.items()},
                            example_path={w: p[0] for w, p in per_caller.items()})
                results[label] = pair
                s, e, q = pair["service"], pair["icb"], pair["ratios"]
                print(f"   service p50 {s['p50_ms']} p95 {s['p95_ms']} ms {s['rps']} req/s | ICB p50 {e['p50_ms']} "
                      f"p95 {e['p95_ms']} ms {e['rps']} req/s | ratio p50 {q['p50']} p95 {q['p95']} "
                      f"cpu {q['server_cpu_per_request']} | errors {s['errors']}/{e['errors']}", flush=True)
            profile = run_profile(server, callers, kinds, results, args) if args.profile else None
    measured = [r for r in results.values() if "ratios" in r]
    return {
        "benchmark": "policy", "store": "sqlite",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine, "store_meta": store_meta,
        "data": {"counts": facts["counts"], "icb": args.icb, "icb_practices": len(facts["practices"]),
                 "icb_whole_pcns": len(facts["whole_pcns"]),
                 "icb_questionnaire_responses": len(facts["questionnaire_responses"])},
        "parameters": {"concurrency": args.concurrency, "seconds_per_caller": args.seconds, "warmup": args.warmup,
                       "rounds": f"service/ICB/ICB/service x {args.pairs} (ICB first for odd kinds), "
                                 f"seconds/{2 * args.pairs} each, median per caller",
                       "only": args.only, "policy_today": args.today, "seed": args.seed, "gunicorn": harness.GunicornSettings().describe()},
        "callers": {w: c.describe() for w, c in callers.items()},
        "aim": {"max_ratio": AIM, "met": all((r["ratios"]["p50"] or 0) <= AIM and (r["ratios"]["p95"] or 0) <= AIM
                                             for r in measured)},
        "quiet": all(max(r["service"]["other_cpu_pct"], r["icb"]["other_cpu_pct"]) <= 10 for r in measured),
        "results": results,
        "profile": profile,
    }


# --------------------------------------------------------------------------------------------------
# In-process profile of one request kind (Flask test client, same store, same tokens)
# --------------------------------------------------------------------------------------------------
def run_profile(server, callers: dict, kinds, results: dict, args) -> dict:
    import cProfile
    import io
    import pstats

    os.environ.update({k: v for k, v in server.env().items() if k.startswith("DTHUB_")})
    os.environ["DTHUB_AUDIT_SPOOL_DIR"] = str(server.workdir / "profile-spool")
    sys.path.insert(0, str(ROOT))
    from adapter import create_app

    app = create_app()
    client = app.test_client()
    out = {}
    for label, paths, _note in kinds:
        ratios = results.get(label, {}).get("ratios")
        if label.startswith("page 2") or not ratios or (
                not args.profile_all and max(ratios["p50"] or 0, ratios["p95"] or 0) <= AIM):
            continue
        entry = {}
        for who, creds in callers.items():
            headers = {"Accept": harness.FHIR_JSON, **creds.headers()}
            rng = random.Random(3)
            for _ in range(5):  # warm caches (grants, hierarchy)
                client.get(rng.choice(paths), headers=headers)
            prof = cProfile.Profile()
            started = time.perf_counter()
            done = 0
            prof.enable()
            while done < args.profile_requests and time.perf_counter() - started < 15:
                client.get(rng.choice(paths), headers=headers)
                done += 1
            prof.disable()
            per_req = (time.perf_counter() - started) / done * 1000
            stream = io.StringIO()
            stats = pstats.Stats(prof, stream=stream)
            stats.sort_stats("cumulative").print_stats(r"adapter|mappings", 25)
            top = _stats_rows(stats, done)
            entry[who] = {"requests": done, "ms_per_request_profiled": round(per_req, 3), "top_cumulative": top}
        out[label] = entry
        print(f"\n== profile: {label}: service {entry['service']['ms_per_request_profiled']} ms/req, "
              f"ICB {entry['icb']['ms_per_request_profiled']} ms/req (under cProfile, in-process)", flush=True)
        print(_diff_table(entry), flush=True)
    return out


def _stats_rows(stats, n_requests: int, limit: int = 40) -> list[dict]:
    rows = []
    for (filename, line, func), (cc, nc, tt, ct, _callers) in stats.stats.items():
        rel = filename.split("/work/main/")[-1] if "/work/main/" in filename else filename.rsplit("/site-packages/", 1)[-1]
        rows.append({"function": f"{rel}:{line}({func})", "calls_per_req": round(nc / n_requests, 2),
                     "cum_ms_per_req": round(ct / n_requests * 1000, 4), "self_ms_per_req": round(tt / n_requests * 1000, 4)})
    rows.sort(key=lambda r: -r["cum_ms_per_req"])
    return rows[:limit * 4]


def _diff_table(entry: dict, limit: int = 14) -> str:
    """The app's functions where the ICB request spends more than the service request."""
    svc = {r["function"]: r for r in entry["service"]["top_cumulative"]}
    rows = []
    for r in entry["icb"]["top_cumulative"]:
        if not any(s in r["function"] for s in ("adapter/", "mappings/")):
            continue
        base = svc.get(r["function"], {}).get("cum_ms_per_req", 0.0)
        rows.append((r["cum_ms_per_req"] - base, r, base))
    rows.sort(key=lambda x: -x[0])
    return harness.markdown_table(["function (ICB request)", "ICB cum ms/req", "service cum ms/req", "extra ms/req",
                                   "ICB calls/req"],
                                  [[r["function"], f"{r['cum_ms_per_req']:.3f}", f"{base:.3f}", f"{d:+.3f}",
                                    r["calls_per_req"]] for d, r, base in rows[:limit]], align="lrrrr")


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------
def print_report(result: dict) -> None:
    rows = []
    for label, r in result["results"].items():
        if "ratios" not in r:
            rows.append([label, "–", "–", "–", "–", "–", "–", "failed" if "failed" in r else "skipped"])
            continue
        s, e, q = r["service"], r["icb"], r["ratios"]
        ents = lambda w: r["answers"][w].get("total", r["answers"][w].get("status"))  # noqa: E731
        rows.append([label, f"{s['p50_ms']:.1f} / {e['p50_ms']:.1f}", f"{s['p95_ms']:.1f} / {e['p95_ms']:.1f}",
                     f"{s['rps']:.0f} / {e['rps']:.0f}", f"**{q['p50']:.2f}**", f"**{q['p95']:.2f}**",
                     f"{q['server_cpu_per_request']:.2f}", f"{ents('service')} / {ents('icb')}"])
    print("\n## Cost of policy enforcement (SQLite, all England)\n")
    print(f"Machine: {harness.machine_line(result['machine'])}  ")
    d = result["data"]
    print(f"ICB {d['icb']}: {d['icb_practices']} practices, {d['icb_whole_pcns']} PCNs wholly inside, "
          f"{d['icb_questionnaire_responses']} QuestionnaireResponses read; "
          f"{result['parameters']['concurrency']} client processes.\n")
    print(harness.markdown_table(
        ["request", "p50 ms service / ICB", "p95 ms service / ICB", "req/s service / ICB", "p50 ratio", "p95 ratio",
         "server CPU/req ratio", "total (or status) service / ICB"], rows, align="lrrrrrrr"))
    print(f"\naim: enforced ≤ {AIM}× service at p50 and p95 — {'met' if result['aim']['met'] else 'NOT met'}; "
          f"quiet machine: {result['quiet']}")


def main(argv=None) -> int:
    args = parse_args(argv)
    harness.handle_termination()
    started = time.monotonic()
    try:
        result = run(args)
    except KeyboardInterrupt:
        print("\ninterrupted; server stopped, temp files removed", file=sys.stderr)
        return 130
    path = harness.write_json(args.results_dir / "policy-sqlite.json", result)
    print_report(result)
    print(f"\nwrote {path} (total {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
