"""The organisations as plain, immutable data, and the tree the policy reasons over.

A practice belongs to the ICB of its own record (`practice-icb`), which may differ from its
PCN's lead ICB; the PCN-level unit is therefore the *cell* (a PCN's practices within one ICB),
so that practice -> cell -> ICB is a tree (data-use-policy.md, "Aggregates").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

from mappings.names import EXT_FEDERATION_MEMBERSHIP, EXT_PRACTICE_ICB, ODS, ref_ods
from mappings.organisation import kind_of

Cell = tuple[str, str]  # (PCN ODS code, ICB ODS code)


@dataclass(frozen=True)
class Practice:
    ods: str
    pcn: str | None
    icb: str | None
    federations: frozenset[str] = frozenset()
    active: bool = True


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Build with `Hierarchy.build(...)` or `Hierarchy.from_organizations(...)`."""
    practice: Mapping[str, Practice]
    kinds: Mapping[str, str]                  # every organisation: ods -> icb|pcn|practice|federation
    pcn_lead_icb: Mapping[str, str | None]
    federation_icb: Mapping[str, str | None]
    inactive: frozenset[str]                  # organisations with active: false
    # derived
    practices: frozenset[str] = field(init=False)
    cells: Mapping[Cell, frozenset[str]] = field(init=False)
    _members: Mapping[str, frozenset[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        cells: dict[Cell, set[str]] = {}
        members: dict[str, set[str]] = {}
        for p in self.practice.values():
            members.setdefault(p.ods, set()).add(p.ods)
            if p.icb:
                members.setdefault(p.icb, set()).add(p.ods)
            if p.pcn:
                members.setdefault(p.pcn, set()).add(p.ods)
                # A practice without an ICB of its own sits in its PCN's lead ICB's cell.
                icb = p.icb or self.pcn_lead_icb.get(p.pcn)
                if icb:
                    cells.setdefault((p.pcn, icb), set()).add(p.ods)
            for federation in p.federations:
                members.setdefault(federation, set()).add(p.ods)
        object.__setattr__(self, "practices", frozenset(self.practice))
        object.__setattr__(self, "cells", _frozen({k: frozenset(v) for k, v in sorted(cells.items())}))
        object.__setattr__(self, "_members", _frozen({k: frozenset(v) for k, v in members.items()}))

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def build(cls, practices: Iterable[Practice], pcns: Mapping[str, str | None] | None = None,
              icbs: Iterable[str] = (), federations: Mapping[str, str | None] | None = None,
              inactive: Iterable[str] = ()) -> "Hierarchy":
        practices = list(practices)
        pcns, federations = dict(pcns or {}), dict(federations or {})
        kinds = {ods: "icb" for ods in icbs}
        kinds.update({ods: "pcn" for ods in pcns})
        kinds.update({ods: "federation" for ods in federations})
        kinds.update({p.ods: "practice" for p in practices})
        inactive = set(inactive) | {p.ods for p in practices if not p.active}
        by_ods = {p.ods: Practice(p.ods, p.pcn, p.icb or (pcns.get(p.pcn) if p.pcn else None),
                                  frozenset(p.federations), p.ods not in inactive) for p in practices}
        return cls(_frozen(by_ods), _frozen(kinds), _frozen(pcns), _frozen(federations), frozenset(inactive))

    @classmethod
    def from_organizations(cls, organizations: Iterable[dict]) -> "Hierarchy":
        """From Organizations as `mappings/organisation.py` emits them: the kind from the ODS role
        (none = a federation), the parent from `partOf`, a practice's ICB from `practice-icb`
        (absent: its PCN's lead ICB) and its federations from `federation-membership`."""
        practices, pcns, icbs, federations, inactive = [], {}, [], {}, []
        for org in organizations:
            ods = next((i.get("value") for i in org.get("identifier") or [] if i.get("system") == ODS),
                       None) or org.get("id")
            if not ods:
                continue
            kind, parent = kind_of(org), ref_ods(org.get("partOf"))
            if org.get("active") is False:
                inactive.append(ods)
            if kind == "practice":
                exts = org.get("extension") or []
                icb = next((ref_ods(e.get("valueReference")) for e in exts if e.get("url") == EXT_PRACTICE_ICB), None)
                feds = frozenset(ref_ods(e.get("valueReference")) for e in exts
                                 if e.get("url") == EXT_FEDERATION_MEMBERSHIP) - {None}
                practices.append(Practice(ods, parent, icb, feds))
            elif kind == "pcn":
                pcns[ods] = parent
            elif kind == "icb":
                icbs.append(ods)
            else:
                federations[ods] = parent
        return cls.build(practices, pcns, icbs, federations, inactive)

    # -- questions -------------------------------------------------------------------------
    def kind(self, ods: str | None) -> str | None:
        return self.kinds.get(ods) if ods else None

    def practices_of(self, ods: str | None) -> frozenset[str]:
        """A practice: itself; a PCN: its practices (every cell); an ICB: the practices whose own
        ICB it is; a federation: its member practices. Unknown: none."""
        return self._members.get(ods, frozenset()) if ods else frozenset()

    def active_practices_of(self, ods: str | None) -> frozenset[str]:
        return self.practices_of(ods) - self.inactive

    def cells_of_icb(self, icb: str) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell[1] == icb)

    def cells_of_pcn(self, pcn: str) -> tuple[Cell, ...]:
        return tuple(cell for cell in self.cells if cell[0] == pcn)
