"""contracts.ndjson: one of each case the data-use policy distinguishes, then a scatter of others.

The showcase, on the first ICB of the package (and its second, when there is one):
in force for a whole ICB; a PCN contract with `covers: null` (a PCN spanning two ICBs where
there is one); a PCN contract listing all its practices; a federation contract listing all its
members; a PCN and a federation contract covering only some practices (grant nothing more,
per the policy); a suspended contract; an expired one (still `active`, its end date past) and
an `ended` one.
"""
from __future__ import annotations

import random
from datetime import date

from .organisations import Selection
from .timeline import Timeline, financial_year


def _record(holder: str, kind: str, covers, start: date, end: date, status: str) -> dict:
    return {"id": f"C-{holder}-{start.year}", "holder": holder, "kind": kind,
            "covers": sorted(covers) if covers is not None else None,
            "start": start.isoformat(), "end": end.isoformat(), "status": status}


def contract_records(selection: Selection, icb_order: tuple[str, ...], timeline: Timeline, seed: int) -> list[dict]:
    rng = random.Random(f"dthub-demo/{seed}/contracts")
    h = selection.hierarchy
    year = financial_year(timeline.today)
    this_year = (date(year, 4, 1), date(year + 1, 3, 31))
    last_year = (date(year - 1, 4, 1), date(year, 3, 31))
    with_practices = [icb for icb in dict.fromkeys(icb_order) if selection.practices_of_icb(icb)]
    with_practices += [icb for icb in selection.icbs if icb not in with_practices and selection.practices_of_icb(icb)]
    contracts: list[dict] = []
    used: set[str] = set()

    def add(holder, kind, covers, period, status):
        used.add(holder)
        contracts.append(_record(holder, kind, covers, period[0], period[1], status))

    if not with_practices:
        return contracts
    first = with_practices[0]
    showcase = set(with_practices[:2])

    # PCNs whose every practice is in the package (a contract for "all its practices").
    whole = [p for p in selection.pcns if len(selection.practices_of_pcn(p)) == len(h.pcns[p].practices)
             and h.pcns[p].lead_icb in showcase]
    spanning = [p for p in whole if len(h.pcns[p].icbs) > 1]
    feds = [f for f in selection.federations if selection.areas[f].icb in showcase]

    def take(candidates, minimum=1):
        free = [c for c in candidates if c not in used and len(_members(c)) >= minimum]
        return rng.choice(free) if free else None

    def _members(code):
        return selection.federations.get(code) or selection.practices_of_pcn(code)

    add(first, "icb", None, this_year, "active")
    if len(with_practices) > 1:
        add(with_practices[1], "icb", None, this_year, "suspended")
    pcn = take(spanning) or take(whole)
    if pcn:
        add(pcn, "pcn", None, this_year, "active")
    pcn = take(whole, 2)
    if pcn:
        add(pcn, "pcn", _members(pcn), this_year, "active")
    fed = take(feds, 2)
    if fed:
        add(fed, "federation", _members(fed), this_year, "active")
    pcn = take(whole, 3)
    if pcn:
        members = list(_members(pcn))
        add(pcn, "pcn", rng.sample(members, len(members) - rng.randint(1, max(1, len(members) // 3))),
            this_year, "active")
    fed = take(feds, 3)
    if fed:
        members = list(_members(fed))
        add(fed, "federation", rng.sample(members, max(1, len(members) // 2)), this_year, "active")
    if len(with_practices) == 1:
        pcn = take(whole)
        if pcn:
            add(pcn, "pcn", None, this_year, "suspended")
    pcn = take(whole)
    if pcn:
        add(pcn, "pcn", None, last_year, "active")  # expired: still marked active, end date past
    fed = take(feds, 2) or take(whole)
    if fed:
        kind = "federation" if fed in selection.federations else "pcn"
        add(fed, kind, _members(fed) if kind == "federation" else None, last_year, "ended")

    # Elsewhere (large packages): about one ICB in four, one PCN in twenty, one federation in eight.
    for icb in with_practices[2:]:
        if rng.random() < 0.25:
            status, period = rng.choices((("active", this_year), ("suspended", this_year), ("active", last_year)),
                                         weights=(6, 1, 1))[0]
            add(icb, "icb", None, period, status)
    for pcn in selection.pcns:
        if pcn not in used and h.pcns[pcn].lead_icb not in showcase and rng.random() < 0.05:
            add(pcn, "pcn", None, this_year, "active")
    for fed in selection.federations:
        if fed not in used and selection.areas[fed].icb not in showcase and rng.random() < 0.125:
            add(fed, "federation", _members(fed), this_year, "active")
    return contracts
