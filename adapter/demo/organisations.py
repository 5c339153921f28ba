"""organisations.ndjson: ICBs, PCNs, federations and practices of the selection."""
from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass

from .ods import FederationArea, Hierarchy

MEMBERSHIP = 0.88  # share of a federation's area that joins it
SECOND_FEDERATION = 0.03  # share of practices that also join a neighbouring federation of their ICB


@dataclass(frozen=True)
class Selection:
    """The organisations of one package, with the seeded parts (federation membership)."""

    hierarchy: Hierarchy
    practices: tuple[str, ...]  # sorted
    icbs: tuple[str, ...]  # every ICB referenced: the practices' own and their PCNs' lead ICBs
    pcns: tuple[str, ...]
    federations: dict[str, tuple[str, ...]]  # federation code -> its member practices in the package
    practice_federations: dict[str, tuple[str, ...]]
    areas: dict[str, FederationArea]
    chosen: frozenset[str]

    def practices_of_icb(self, icb: str) -> list[str]:
        return [c for c in self.practices if self.hierarchy.practices[c].icb == icb]

    def practices_of_pcn(self, pcn: str) -> list[str]:
        return [c for c in self.hierarchy.pcns[pcn].practices if c in self.chosen]


def make_selection(hierarchy: Hierarchy, practices: list[str], seed: int) -> Selection:
    chosen = set(practices)
    pcns = sorted({hierarchy.practices[c].pcn for c in chosen if hierarchy.practices[c].pcn})
    icbs = sorted({hierarchy.practices[c].icb for c in chosen} | {hierarchy.pcns[p].lead_icb for p in pcns})
    # Membership is drawn over each whole ICB, then cut to the selection, so a practice's
    # federations do not depend on how many practices were asked for.
    members: dict[str, list[str]] = {}
    by_icb: dict[str, list[FederationArea]] = defaultdict(list)
    for area in hierarchy.federation_areas:
        by_icb[area.icb].append(area)
    for icb in sorted({hierarchy.practices[c].icb for c in chosen}):
        areas = by_icb.get(icb, [])
        for area in areas:
            rng = random.Random(f"dthub-demo/{seed}/federation/{area.code}")
            joined = [c for c in area.practices if rng.random() < MEMBERSHIP]
            members[area.code] = joined if len(joined) >= 2 else list(area.practices[:2])
        rng = random.Random(f"dthub-demo/{seed}/federation-second/{icb}")
        for index, area in enumerate(areas if len(areas) > 1 else []):
            neighbour = areas[(index + 1) % len(areas)]
            for code in area.practices:
                if rng.random() < SECOND_FEDERATION and code not in members[neighbour.code]:
                    members[neighbour.code].append(code)
    federations = {}
    practice_federations: dict[str, list[str]] = defaultdict(list)
    for code in sorted(members):
        inside = tuple(sorted(c for c in members[code] if c in chosen))
        if inside:
            federations[code] = inside
            for practice in inside:
                practice_federations[practice].append(code)
    return Selection(hierarchy, tuple(sorted(chosen)), tuple(icbs), tuple(pcns), federations,
                     {k: tuple(v) for k, v in practice_federations.items()},
                     {a.code: a for a in hierarchy.federation_areas if a.code in federations},
                     frozenset(chosen))


def list_size(seed: int, practice: str) -> int:
    """Registered patients: log-normal around 8,500 (England's mean list is about 9,500)."""
    rng = random.Random(f"dthub-demo/{seed}/list-size/{practice}")
    return int(min(60000, max(900, round(math.exp(rng.gauss(math.log(8500), 0.55)), -1))))


def organisation_records(selection: Selection, seed: int):
    """ICBs, then PCNs, then federations, then practices: each refers only to earlier records."""
    h = selection.hierarchy
    for code in selection.icbs:
        yield {"ods_code": code, "kind": "icb", "name": h.icbs[code].name, "active": True}
    for code in selection.pcns:
        pcn = h.pcns[code]
        yield {"ods_code": code, "kind": "pcn", "name": pcn.name, "parent": pcn.lead_icb, "active": True}
    for code in selection.federations:
        area = selection.areas[code]
        yield {"ods_code": code, "kind": "federation", "name": area.name, "parent": area.icb, "active": True}
    for code in selection.practices:
        practice = h.practices[code]
        yield {"ods_code": code, "kind": "practice", "name": practice.name, "parent": practice.pcn,
               "icb": practice.icb, "postcode": practice.postcode, "active": True,
               "list_size": list_size(seed, code),
               "federations": list(selection.practice_federations.get(code, ()))}
