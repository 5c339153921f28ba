"""A scope: the practices a grant reaches, as a frozenset of ODS codes or `ALL`.

`ALL` (baseline and service tiers) stays symbolic so that the SQL filter for it is "no filter"
and its size does not depend on how many practices exist. It behaves like the universal set
with frozensets: `ods in ALL`, `ALL | s == ALL`, `ALL & s == s`.
"""
from __future__ import annotations

from typing import Iterable, Union


class _All:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ALL"

    def __contains__(self, _ods: object) -> bool:
        return True

    def __or__(self, _other: object) -> "_All":
        return self

    __ror__ = __or__

    def __and__(self, other: "Scope") -> "Scope":
        return other

    __rand__ = __and__

    def __reduce__(self) -> str:  # pickles (and deep-copies) as the singleton
        return "ALL"


ALL = _All()
Scope = Union[frozenset, _All]
EMPTY: frozenset = frozenset()


def is_all(scope: Scope) -> bool:
    return scope is ALL


def union(scopes: Iterable[Scope]) -> Scope:
    out: Scope = EMPTY
    for scope in scopes:
        out = out | scope
        if out is ALL:
            return ALL
    return out


def covers_all(scope: Scope, practices: frozenset) -> bool:
    """True when `scope` reaches every one of `practices` (ALL reaches everything)."""
    return scope is ALL or practices <= scope
