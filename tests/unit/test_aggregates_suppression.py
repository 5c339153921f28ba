"""Small-number suppression as pure decisions: the policy's examples, then properties checked over
many random ICBs (seeded, so a failure reproduces): nothing with 1..k-1 hidden contributors is
shown, and no suppressed cell's hidden contributors can be isolated by subtracting the shown cells
from the shown ICB aggregate."""
from __future__ import annotations

import random

import pytest

from adapter.aggregates.suppression import Unit, check_k, primary, suppressed_cells


def unit(contributors, hidden=()):
    return Unit(frozenset(contributors), frozenset(hidden))


def test_k_is_never_below_two():
    for bad in (1, 0, -3, "3", 2.5):
        with pytest.raises(ValueError):
            check_k(bad)
    assert check_k(2) == 2


@pytest.mark.parametrize("hidden, k, suppressed", [(0, 3, False), (1, 3, True), (2, 3, True), (3, 3, False),
                                                   (1, 2, True), (2, 2, False), (4, 5, True), (9, 5, False)])
def test_primary_suppression_is_one_to_k_minus_one_hidden_contributors(hidden, k, suppressed):
    contributors = [f"P{i}" for i in range(10)]
    assert primary(unit(contributors, contributors[:hidden]), k) is suppressed


def test_all_visible_nothing_suppressed():
    cells = {"c1": unit("ab"), "c2": unit("c")}
    assert suppressed_cells(unit("abcd"), cells, 3) == suppressed_cells(unit("abcd"), cells, 3)
    result = suppressed_cells(unit("abcd"), cells, 3)
    assert not result.icb and not result.cells


def test_one_suppressed_cell_pulls_in_the_smallest_cell_with_hidden_contributors():
    # c1 has one hidden practice: suppressed. Subtracting c2, c3 from the ICB would reveal it, so
    # the smallest other cell holding hidden contributors (c3: 2 practices) is suppressed too.
    cells = {"c1": unit("a", "a"), "c2": unit("bcdef", "bcdef"), "c3": unit("gh", "gh")}
    icb = unit("abcdefgh", "abcdefgh")
    result = suppressed_cells(icb, cells, 3)
    assert result.cells == {"c1", "c3"} and not result.icb


def test_cells_without_hidden_contributors_are_not_suppressed_to_no_purpose():
    cells = {"c1": unit("a", "a"), "c2": unit("b"), "c3": unit("cdef", "cdef")}
    result = suppressed_cells(unit("abcdef", "acdef"), cells, 3)
    assert result.cells == {"c1", "c3"}


def test_without_enough_hidden_contributors_in_the_icb_the_icb_aggregate_is_suppressed():
    cells = {"c1": unit("a", "a"), "c2": unit("bcd")}
    result = suppressed_cells(unit("abcd", "a"), cells, 3)
    # the ICB itself has one hidden contributor: primary suppression
    assert result.icb and result.cells == {"c1"}
    cells = {"c1": unit("ab", "a"), "c2": unit("cd", "c"), "c3": unit("efg")}
    result = suppressed_cells(unit("abcdefg", "ac"), cells, 3)
    assert result.icb and result.cells == {"c1", "c2"}


def test_practices_in_no_pcn_are_protected_like_a_suppressed_cell():
    # "x" is in the ICB and in no cell: ICB - c1 - c2 would be exactly x.
    cells = {"c1": unit("abc", "abc"), "c2": unit("defg", "defg")}
    result = suppressed_cells(unit("abcdefgx", "abcdefgx"), cells, 3)
    assert result.cells == {"c1"} and not result.icb


def test_no_icb_aggregate_shown_means_primary_suppression_only():
    cells = {"c1": unit("a", "a"), "c2": unit("bcd", "bcd")}
    result = suppressed_cells(None, cells, 3)
    assert result.cells == {"c1"} and not result.icb


def test_smallest_first_is_by_contributors_then_key():
    cells = {"c1": unit("a", "a"), "cB": unit("bcde", "b"), "cA": unit("fghi", "f"), "cC": unit("jklmnop", "jklmnop")}
    result = suppressed_cells(unit("abcdefghijklmnop", "abfjklmnop"), cells, 3)
    # c1 (1 hidden), then cA (4 contributors, name before cB): 2 hidden < 3, then cB: 3 hidden.
    assert result.cells == {"c1", "cA", "cB"}


# -- properties over random ICBs ----------------------------------------------------------------

def _random_icb(rng: random.Random):
    practices = [f"P{i:03d}" for i in range(rng.randint(1, 25))]
    hidden_share = rng.choice([0.0, 0.1, 0.3, 0.6, 1.0])
    hidden = {p for p in practices if rng.random() < hidden_share}
    cells, no_pcn, i = {}, [], 0
    rng.shuffle(practices)
    while i < len(practices):
        size = rng.randint(1, 6)
        chunk = practices[i:i + size]
        i += size
        if rng.random() < 0.15:
            no_pcn += chunk
        else:
            cells[f"U{len(cells):05d}"] = chunk
    # not every practice contributes to every group
    contributing = {p for p in practices if rng.random() < 0.85}
    cell_units = {c: Unit.of([p for p in m if p in contributing], frozenset(practices) - hidden)
                  for c, m in cells.items()}
    icb = Unit.of(contributing, frozenset(practices) - hidden)
    return icb, cell_units


@pytest.mark.parametrize("k", [2, 3, 5])
def test_property_nothing_shown_has_one_to_k_minus_one_hidden_contributors(k):
    rng = random.Random(k)
    for _ in range(2000):
        icb, cells = _random_icb(rng)
        result = suppressed_cells(icb, cells, k)
        if not result.icb:
            assert not primary(icb, k)
        for c, u in cells.items():
            if c not in result.cells:
                assert not primary(u, k), (c, u)
        assert {c for c, u in cells.items() if primary(u, k)} <= result.cells


@pytest.mark.parametrize("k", [2, 3, 5])
def test_property_no_suppressed_cell_can_be_derived_from_the_icb_and_the_shown_cells(k):
    rng = random.Random(100 + k)
    for _ in range(2000):
        icb, cells = _random_icb(rng)
        result = suppressed_cells(icb, cells, k)
        if result.icb:
            continue  # no ICB aggregate shown: nothing to subtract from
        shown = frozenset().union(*(u.contributors for c, u in cells.items() if c not in result.cells))
        remainder_hidden = icb.hidden - shown
        assert len(remainder_hidden) == 0 or len(remainder_hidden) >= k, (icb, cells, result)


def test_property_decisions_are_deterministic_and_independent_of_cell_order():
    rng = random.Random(7)
    for _ in range(500):
        icb, cells = _random_icb(rng)
        reordered = dict(reversed(list(cells.items())))
        assert suppressed_cells(icb, cells, 3) == suppressed_cells(icb, reordered, 3)
