"""The real ODS hierarchy the demo is built on: practices, PCNs and ICBs of England.

Data: `ods-hierarchy.csv.gz`, cut from NHS Digital's "Patients Registered at a GP Practice,
January 2022" practice map (Open Government Licence v3.0; see `build_ods_data.py` to rebuild
it). ICB codes are the STP codes of that file; `icb-names.csv` holds the ODS names the 42 ICBs
took in July 2022. Nothing here reads outside the package.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

# Leicester, Leicestershire and Rutland (134 practices) and Lincolnshire (85): two ICBs of
# moderate size, joined by a PCN that spans both (U25294) and with practices in no PCN.
DEFAULT_ICBS = ("QK1", "QJM")
NO_PCN = "U"  # the ODS map's PCN code for a practice in no PCN

FEDERATION_SUFFIXES = ("GP FEDERATION", "HEALTH PARTNERSHIP", "GP ALLIANCE", "PRIMARY CARE FEDERATION")
FEDERATION_TARGET_SIZE = 35  # practices; bigger former-CCG areas are split into several federations


@dataclass(frozen=True)
class Practice:
    code: str
    name: str
    postcode: str
    pcn: str | None
    ccg_code: str
    ccg_name: str
    icb: str


@dataclass(frozen=True)
class Pcn:
    code: str
    name: str
    lead_icb: str  # the ICB of most of its practices
    practices: tuple[str, ...]
    icbs: tuple[str, ...]  # every ICB its practices belong to; two for a PCN that spans ICBs


@dataclass(frozen=True)
class Icb:
    code: str
    name: str


@dataclass(frozen=True)
class FederationArea:
    """A synthetic GP federation's footprint: neighbouring practices of one ICB."""

    code: str
    name: str
    icb: str
    practices: tuple[str, ...]


@dataclass(frozen=True)
class Hierarchy:
    practices: dict[str, Practice]
    pcns: dict[str, Pcn]
    icbs: dict[str, Icb]
    federation_areas: tuple[FederationArea, ...]

    def icb_practices(self, icb: str) -> list[Practice]:
        return [p for p in self.practices.values() if p.icb == icb]


def _read_text(name: str) -> str:
    data = resources.files(__package__).joinpath(name).read_bytes()
    if name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8")


def stable_hash(*parts: object) -> int:
    """A hash that, unlike hash(), is the same in every process."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@lru_cache(maxsize=1)
def load_hierarchy() -> Hierarchy:
    names = {row["icb_code"]: row["icb_name"] for row in csv.DictReader(io.StringIO(_read_text("icb-names.csv")))}
    practices: dict[str, Practice] = {}
    pcn_names: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(_read_text("ods-hierarchy.csv.gz"))):
        pcn = None if row["pcn_code"] == NO_PCN else row["pcn_code"]
        practices[row["practice_code"]] = Practice(
            row["practice_code"], row["practice_name"], row["practice_postcode"], pcn,
            row["ccg_code"], row["ccg_name"], row["icb_code"])
        if pcn:
            pcn_names[pcn] = row["pcn_name"]
    icbs = {code: Icb(code, names.get(code) or f"NHS {code} INTEGRATED CARE BOARD")
            for code in sorted({p.icb for p in practices.values()})}
    members: dict[str, list[Practice]] = defaultdict(list)
    for practice in practices.values():
        if practice.pcn:
            members[practice.pcn].append(practice)
    pcns = {}
    for code in sorted(members):
        group = sorted(members[code], key=lambda p: p.code)
        counts = Counter(p.icb for p in group)
        top = max(counts.values())
        # A tie (U41591: two practices in each of QT6 and QJK) goes to the ICB of the PCN's
        # lowest-coded practice, so the choice never depends on dict order.
        lead = next(p.icb for p in group if counts[p.icb] == top)
        pcns[code] = Pcn(code, pcn_names[code], lead, tuple(p.code for p in group), tuple(sorted(counts)))
    return Hierarchy(practices, pcns, icbs, _federation_areas(practices, icbs, pcn_names))


def _area_name(ccg_name: str) -> str:
    name = ccg_name.upper()
    name = name[4:] if name.startswith("NHS ") else name
    return name[:-4] if name.endswith(" CCG") else name


def _federation_areas(practices: dict[str, Practice], icbs: dict[str, Icb],
                      pcn_names: dict[str, str]) -> tuple[FederationArea, ...]:
    """Federations follow the former CCG areas (a common real pattern), split into groups of
    neighbouring PCNs where an area is large. Independent of the seed, so codes are stable."""
    areas = []
    for icb in icbs:
        by_ccg: dict[str, list[Practice]] = defaultdict(list)
        for practice in practices.values():
            if practice.icb == icb:
                by_ccg[practice.ccg_code].append(practice)
        groups: list[tuple[str, list[Practice]]] = []
        for ccg in sorted(by_ccg):
            # Units are PCN cells (a PCN's practices in this ICB) or single practices in no PCN;
            # sorting by postcode keeps neighbours together.
            units: dict[str, list[Practice]] = defaultdict(list)
            for practice in by_ccg[ccg]:
                units[practice.pcn or practice.code].append(practice)
            ordered = sorted(units.values(), key=lambda unit: min(p.postcode for p in unit))
            total = sum(len(unit) for unit in ordered)
            parts = max(1, round(total / FEDERATION_TARGET_SIZE))
            chunks: list[list[Practice]] = [[] for _ in range(parts)]
            seen = 0
            for unit in ordered:
                chunks[min(parts - 1, seen * parts // total)].extend(unit)
                seen += len(unit)
            for chunk in chunks:
                if not chunk:
                    continue
                if parts == 1:
                    name = f"{_area_name(by_ccg[ccg][0].ccg_name)} GP FEDERATION"
                else:
                    pcn_sizes = Counter(p.pcn for p in chunk if p.pcn)
                    stem = _area_name(by_ccg[ccg][0].ccg_name)
                    if pcn_sizes:  # named after its biggest PCN
                        stem = _pcn_stem(pcn_names[min(pcn_sizes, key=lambda c: (-pcn_sizes[c], c))])
                    name = f"{stem} {FEDERATION_SUFFIXES[stable_hash('fed-name', icb, ccg, stem) % 4]}"
                groups.append((name, sorted(chunk, key=lambda p: p.code)))
        # About one area in seven has no federation; never the one holding the ICB's lowest
        # practice code, so that FED<ICB>1 always exists (the demo clients act for FEDQHM1).
        lowest = min(p.code for _, chunk in groups for p in chunk)
        kept = [g for g in groups if lowest in {p.code for p in g[1]} or stable_hash("fed", icb, g[0]) % 7]
        kept.sort(key=lambda g: g[1][0].code)
        used: Counter = Counter()
        for number, (name, chunk) in enumerate(kept, start=1):
            used[name] += 1
            unique = name if used[name] == 1 else f"{name} {used[name]}"
            areas.append(FederationArea(f"FED{icb}{number}", unique, icb, tuple(p.code for p in chunk)))
    return tuple(areas)


def _pcn_stem(pcn_name: str) -> str:
    """Drop the trailing "PCN": "MELTON, SYSTON AND VALE PCN" -> "MELTON, SYSTON AND VALE"."""
    words = pcn_name.split()
    while len(words) > 1 and words[-1] in {"PCN", "PRIMARY", "CARE", "NETWORK"}:
        words.pop()
    return " ".join(words)


def select_practices(hierarchy: Hierarchy, icbs_first: tuple[str, ...], count: int | None) -> list[str]:
    """The practice codes of the package, sorted.

    Whole ICBs in order (`icbs_first`, then the others by code) until `count` is reached; the
    last ICB may be cut. Within an ICB, PCNs that span ICBs come first, then practices in no
    PCN, then the other PCNs by code, so that even a small package shows those cases.
    """
    order = list(dict.fromkeys(icbs_first)) + [code for code in hierarchy.icbs if code not in icbs_first]
    if count is None:
        count = sum(len(hierarchy.icb_practices(icb)) for icb in dict.fromkeys(icbs_first))
    chosen: list[str] = []
    for icb in order:
        if len(chosen) >= count:
            break

        def rank(practice: Practice) -> tuple:
            if practice.pcn is None:
                return (1, "", practice.code)
            spanning = len(hierarchy.pcns[practice.pcn].icbs) > 1
            return (0 if spanning else 2, practice.pcn, practice.code)

        for practice in sorted(hierarchy.icb_practices(icb), key=rank):
            if len(chosen) >= count:
                break
            chosen.append(practice.code)
    return sorted(chosen)
