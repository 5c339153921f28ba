"""Search over all of England: 6,527 practices, 1,254 PCNs, 42 ICBs, ~30k responses and ~30k tasks.

The dataset is written straight into the store (real ODS hierarchy from the demo package data,
synthetic responses and tasks, search index included) and then served by gunicorn; the searches
go over HTTP with a bearer token, from load processes, like every other benchmark here.

    .venv/bin/python bench/search_bench.py [--store sqlite|postgresql|both] [--per-practice 5]
                                           [--seconds 10] [--concurrency 4]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
B = "https://fhir.dandthub.co.uk"
STATUSES = ("requested", "accepted", "in-progress", "on-hold", "completed", "cancelled")


def _ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def _org(ods: str, name: str, parent: str | None) -> dict:
    org = {"resourceType": "Organization", "id": ods, "identifier": [{"system": ODS, "value": ods}],
           "active": True, "name": name}
    if parent:
        org["partOf"] = _ref(parent)
    return org


def dataset(per_practice: int, seed: int):
    """Yield (type, id, resource): organisations first, then responses and tasks."""
    from adapter.demo.ods import load_hierarchy

    rng = random.Random(seed)
    hierarchy = load_hierarchy()
    for icb in hierarchy.icbs.values():
        yield "Organization", icb.code, _org(icb.code, icb.name, None)
    for pcn in hierarchy.pcns.values():
        yield "Organization", pcn.code, _org(pcn.code, pcn.name, pcn.lead_icb)
    for p in hierarchy.practices.values():
        yield "Organization", p.code, _org(p.code, p.name, p.pcn or p.icb)
    for p in hierarchy.practices.values():
        for n in range(per_practice):
            sid = f"S-{p.code}-{n}"
            day = rng.randrange(0, 580)
            authored = time.strftime("%Y-%m-%dT10:00:00Z", time.gmtime(1743465600 + day * 86400))  # from 2025-04-01
            yield "QuestionnaireResponse", sid, {
                "resourceType": "QuestionnaireResponse", "id": sid, "status": "completed",
                "questionnaire": f"{B}/Questionnaire/global|2026.1", "subject": _ref(p.code), "authored": authored,
                "item": [{"linkId": "LD1", "answer": [{"valueBoolean": rng.random() < 0.5}]}]}
            owner = rng.choice([p.code, p.code, p.pcn or p.icb])
            yield "Task", f"A-{p.code}-{n}", {
                "resourceType": "Task", "id": f"A-{p.code}-{n}", "status": rng.choice(STATUSES), "intent": "plan",
                "priority": rng.choice(("routine", "urgent")), "for": _ref(p.code), "owner": _ref(owner),
                "focus": {"reference": f"QuestionnaireResponse/{sid}"}, "authoredOn": authored}


def load(database_url: str, base_url: str, per_practice: int, seed: int) -> dict:
    from adapter.config import Config
    from adapter.store import open_repository

    repo = open_repository(Config(database_url=database_url, base_url=base_url))
    started, count, batch = time.perf_counter(), 0, []

    def flush():
        nonlocal batch
        if batch:
            items = batch
            repo.write_unit(lambda unit: [unit.put(t, i, r, method="PUT") for t, i, r in items])
            batch = []

    for item in dataset(per_practice, seed):
        batch.append(item)
        count += 1
        if len(batch) == 1000:
            flush()
    flush()
    repo.analyze()  # as `dthub import` does after a bulk load: the planner needs statistics
    repo.engine.dispose()
    seconds = time.perf_counter() - started
    return {"resources": count, "seconds": round(seconds, 1), "per_second": round(count / seconds)}


def queries(seed: int) -> dict[str, list[str]]:
    from adapter.demo.ods import load_hierarchy

    rng = random.Random(seed)
    h = load_hierarchy()
    icbs, pcns = list(h.icbs), list(h.pcns)
    picks = lambda seq, n=200: [rng.choice(seq) for _ in range(n)]  # noqa: E731
    return {
        "Organization?partof:below=ICB": [f"/fhir/Organization?partof:below={i}&_count=50" for i in picks(icbs)],
        "QuestionnaireResponse?subject.partof=PCN&authored=ge…&_include": [
            f"/fhir/QuestionnaireResponse?subject.partof={p}&authored=ge2026-01-01&_count=50"
            f"&_include=QuestionnaireResponse:subject" for p in picks(pcns)],
        "Task?status&owner.partof=PCN&_include": [
            f"/fhir/Task?status=in-progress,requested&owner.partof={p}&_count=50&_include=Task:subject"
            for p in picks(pcns)],
        "QuestionnaireResponse?authored=ge… (large result: first page materialises it)": [
            f"/fhir/QuestionnaireResponse?authored=ge{2025 + n % 2}-{1 + n % 12:02d}-01&_count=50" for n in range(200)],
    }


def deep_pages(server, headers: dict, n: int = 100) -> list[str]:
    """`_getpages` links deep into the largest result (all ~32k responses): the cost of a later page."""
    status, body = harness.http_get(server.host, server.port, "/fhir/QuestionnaireResponse?_count=50&_sort=_id",
                                    headers={**headers, "Accept": harness.FHIR_JSON}, timeout=120)
    bundle = json.loads(body)
    link = next(l["url"] for l in bundle["link"] if l["relation"] == "next")
    base = link.split("/fhir/", 1)[1].split("&_getpagesoffset=")[0]
    total = bundle["total"]
    rng = random.Random(7)
    return [f"/fhir/{base}&_getpagesoffset={rng.randrange(0, total - 50)}&_count=50" for _ in range(n)], total


def run_store(store_name: str, args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"search-{store_name}-"))
    make = harness.sqlite_store(workdir) if store_name == "sqlite" else harness.postgresql_store(dbname="dthub_search_bench")
    with make as store:
        port = harness.free_port()
        base_url = f"http://127.0.0.1:{port}"
        loaded = load(store.url, base_url, args.per_practice, args.seed)
        print(f"[{store_name}] loaded {loaded}", flush=True)
        with harness.GunicornServer(store.url, workdir=workdir, port=port) as server:
            creds = harness.Credentials(server, workdir).register()
            results = {}
            for label, paths in queries(args.seed).items():
                m = harness.measure(label, server.host, server.port, paths, concurrency=args.concurrency,
                                    seconds=args.seconds, warmup=2.0, headers=creds.headers(), server=server)
                results[label] = m.as_dict()
                print(f"[{store_name}] {label}: {m.as_dict().get('rps')} req/s, p50 {m.as_dict().get('p50_ms')} ms, "
                      f"p95 {m.as_dict().get('p95_ms')} ms, errors {m.as_dict().get('errors')}", flush=True)
            pages, total = deep_pages(server, creds.headers())
            m = harness.measure(f"later page of a {total}-entry result", server.host, server.port, pages,
                                concurrency=args.concurrency, seconds=args.seconds, warmup=2.0,
                                headers=creds.headers(), server=server)
            results["later page (_getpages) of the whole QuestionnaireResponse set"] = m.as_dict()
            print(f"[{store_name}] later page of {total}: p50 {m.as_dict().get('p50_ms')} ms, "
                  f"p95 {m.as_dict().get('p95_ms')} ms", flush=True)
    out = {"benchmark": "search", "store": store_name, "load": loaded, "results": results,
           "machine": harness.machine_info(harness.GunicornSettings())}
    (harness.RESULTS_DIR / f"search-{store_name}.json").write_text(json.dumps(out, indent=2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--per-practice", type=int, default=5, help="responses and tasks per practice (default 5)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    harness.handle_termination()
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    print("| store | search | req/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|")
    rows = []
    for name in stores:
        result = run_store(name, args)
        for label, m in result["results"].items():
            rows.append(f"| {name} | {label} | {m.get('rps')} | {m.get('p50_ms')} | {m.get('p95_ms')} | {m.get('p99_ms')} |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
