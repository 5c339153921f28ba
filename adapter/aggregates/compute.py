"""Group results of a Measure over a set of practices: pure arithmetic over practice values."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .definitions import MeasureDef
from .facts import GroupKey, PracticeValues


@dataclass(frozen=True)
class StratumResult:
    stratum: str
    count: int          # practices in the stratum
    score: float        # mean or sum of their values in it


@dataclass(frozen=True)
class GroupResult:
    key: GroupKey
    contributors: frozenset[str]
    score: float | None                                      # None when no practice contributes
    strata: tuple[tuple[str, tuple[StratumResult, ...]], ...]  # (stratifier code, strata)

    @property
    def count(self) -> int:
        return len(self.contributors)


def group_keys(measure: MeasureDef, values: PracticeValues, practices: Iterable[str]) -> list[GroupKey]:
    """The Measure's groups in order, then any further group the data brings (fragment CodeSystems)."""
    fixed = [(g.system, g.code) for g in measure.groups]
    known = set(fixed)
    extra = set()
    if measure.extra_groups_system:
        for practice in practices:
            extra |= {k for k in values.get(practice, {}) if k[0] == measure.extra_groups_system and k not in known}
    return fixed + sorted(extra)


def _combine(method: str, numbers: list[float]) -> float:
    if method == "mean":
        return round(sum(numbers) / len(numbers), 4)
    return round(sum(numbers), 9)


def aggregate(measure: MeasureDef, values: PracticeValues, practices: frozenset[str],
              keys: list[GroupKey] | None = None) -> list[GroupResult]:
    """Each group over the members of `practices` that have a value for it."""
    keys = keys if keys is not None else group_keys(measure, values, practices)
    results = []
    for key in keys:
        samples = {p: values[p][key] for p in practices if key in values.get(p, {})}
        strata = []
        for stratifier in measure.stratifiers:
            by_stratum: dict[str, list[float]] = {}
            for sample in samples.values():
                for stratum, value in sample.strata.get(stratifier.code, {}).items():
                    by_stratum.setdefault(stratum, []).append(value)
            order = list(stratifier.strata) + sorted(s for s in by_stratum if s not in stratifier.strata)
            strata.append((stratifier.code, tuple(
                StratumResult(s, len(by_stratum.get(s, [])), _combine(measure.method, by_stratum[s]) if s in by_stratum
                              else 0)
                for s in order if s in by_stratum or stratifier.strata)))
        score = _combine(measure.method, [s.value for s in samples.values()]) if samples else None
        results.append(GroupResult(key, frozenset(samples), score, tuple(strata)))
    return results
