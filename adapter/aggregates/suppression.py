"""Small-number suppression (data-use-policy.md "Small numbers"): pure decisions, no I/O.

For a caller, the *hidden contributors* of an aggregate are its contributing practices the caller
may not see at Practice level. An aggregate with 1..k-1 hidden contributors is suppressed
(primary suppression). Within an ICB, suppression is complementary: what the caller could work
out by subtracting the cells it is shown from the ICB aggregate it is shown must hold no hidden
contributor or at least k of them; further cells are suppressed, smallest first, until it does;
where no set of cells achieves it, the ICB aggregate is suppressed instead.

**Decision** (the policy speaks of suppressed cells only): the remainder that subtraction reveals
also holds the ICB's practices in no PCN (they are in the ICB aggregate and in no cell), so it is
protected the same way even when no cell is suppressed. Cells are added smallest first by number
of contributors (then by their key, so the choice is deterministic), and only cells that hold
hidden contributors, as only those bring the remainder towards k. When the ICB aggregate has to
be suppressed, the cells keep their primary suppression only (with no ICB total there is nothing
to subtract them from).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Mapping

MIN_K = 2
DEFAULT_K = 3


@dataclass(frozen=True)
class Unit:
    """One aggregate as a caller would be shown it: who contributes, and whom it may not see."""
    contributors: frozenset[str]
    hidden: frozenset[str]

    @classmethod
    def of(cls, contributors, visible_practices) -> "Unit":
        """`visible_practices`: the caller's Practice-level scope (a frozenset or ALL)."""
        contributors = frozenset(contributors)
        return cls(contributors, frozenset(p for p in contributors if p not in visible_practices))


@dataclass(frozen=True)
class Suppression:
    icb: bool                       # the ICB aggregate is suppressed
    cells: frozenset[Hashable]      # the suppressed cells


def check_k(k: int) -> int:
    if not isinstance(k, int) or k < MIN_K:
        raise ValueError(f"the suppression threshold k must be an integer of at least {MIN_K}, not {k!r}")
    return k


def primary(unit: Unit, k: int) -> bool:
    """1..k-1 hidden contributors."""
    return 0 < len(unit.hidden) < k


def suppressed_cells(icb: Unit | None, cells: Mapping[Hashable, Unit], k: int = DEFAULT_K) -> Suppression:
    """Which of an ICB's aggregates to suppress for one caller and one group of a Measure.

    `icb`: the ICB aggregate as the caller is shown it, or None when it is not shown to it (no
    ICB-level grant); `cells`: each cell of the ICB as the caller is shown it (leave out the cells
    it is not shown)."""
    check_k(k)
    first = frozenset(c for c, unit in cells.items() if primary(unit, k))
    if icb is None or primary(icb, k):
        return Suppression(icb is not None, first)
    suppressed = set(first)
    while True:
        published = frozenset().union(*(u.contributors for c, u in cells.items() if c not in suppressed))
        exposed = icb.hidden - published  # hidden contributors that subtraction would isolate
        if not exposed or len(exposed) >= k:
            return Suppression(False, frozenset(suppressed))
        candidates = [c for c, u in cells.items() if c not in suppressed and u.hidden & icb.hidden]
        if not candidates:
            return Suppression(True, first)
        suppressed.add(min(candidates, key=lambda c: (len(cells[c].contributors), str(c))))
