"""Reading what aggregates need from the store: one SQL query per Measure and set of practices.

The query narrows on the access column `owner_org` (the owning practice) and on the date index
(`idx_date`: `authored`, `authored-on`, `period`), so an ICB's quarter costs one indexed query
and the parsing of its rows only. The exact rules (status, latest, London dates) are then applied
in Python by `facts.py`. Results are cached per (Measure, practices, period) and *generation* of
the types read: any write to them (an import, an API write) makes the next request read afresh.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Iterable, Iterator, Mapping

import orjson
from sqlalchemy import and_, bindparam, exists, select

from ..storage import Repository
from ..storage.schema import idx_date, resource
from . import facts
from .facts import PracticeValues
from .periods import Period

# Measure -> (resource type, date search parameter, the types whose changes invalidate it)
READS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "global-assessment": ("QuestionnaireResponse", "authored", ("QuestionnaireResponse", "Questionnaire")),
    "indepth-assessment": ("QuestionnaireResponse", "authored", ("QuestionnaireResponse", "Questionnaire")),
    "actions": ("Task", "authored-on", ("Task",)),
    "impact-summary": ("Task", "authored-on", ("Task",)),
    "indepth-action-summary": ("Task", "authored-on", ("Task",)),
    "usage": ("MeasureReport", "period", ("MeasureReport",)),
}
CACHE_SIZE = 512
_CHUNK = 500  # practices per IN list (PostgreSQL and SQLite both take far more; this keeps plans simple)


class StoreSource:
    """Per-practice values of a Measure, read from the store and cached by generation."""

    def __init__(self, repo: Repository, cache_size: int = CACHE_SIZE):
        self._repo = repo
        self._cache: OrderedDict[tuple, PracticeValues] = OrderedDict()
        self._themes: tuple[int, Mapping[str, str | None]] | None = None
        self._lock = threading.Lock()
        self._size = cache_size

    def generation(self, measure_id: str) -> int:
        return self._repo.generation(READS[measure_id][2])

    def values(self, measure_id: str, practices: frozenset[str], period: Period) -> PracticeValues:
        generation = self.generation(measure_id)
        key = (measure_id, practices, period, generation)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        computed = self._compute(measure_id, practices, period)
        with self._lock:
            self._cache[key] = computed
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return computed

    def _compute(self, measure_id: str, practices: frozenset[str], period: Period) -> PracticeValues:
        rtype, param, _ = READS[measure_id]
        rows = self.rows(rtype, param, practices, period)
        if measure_id == "global-assessment":
            return facts.global_values(rows, period, self._theme_of())
        if measure_id == "indepth-assessment":
            return facts.indepth_values(rows, period, self._theme_of())
        if measure_id == "actions":
            return facts.action_values(rows, period)
        if measure_id == "indepth-action-summary":
            return facts.action_values(rows, period, indepth_only=True)
        if measure_id == "impact-summary":
            return facts.impact_values(rows, period)
        return facts.usage_values(rows, period, practices)

    def rows(self, rtype: str, param: str, practices: Iterable[str], period: Period) -> Iterator[dict]:
        """Current resources of `rtype` owned by `practices` with a `param` date starting in the period."""
        low, high = period.instants()
        # `x || ''` keeps SQLite's planner off the type index (every MeasureReport of England) and off
        # the date index (every date of the quarter): the owner index and then the per-resource date
        # row are far fewer rows (~25 ms instead of ~25 s for an ICB's usage). PostgreSQL plans it alike.
        dated = exists().where(and_(idx_date.c.res_type == resource.c.res_type, idx_date.c.res_id == resource.c.res_id,
                                    idx_date.c.param == param, idx_date.c.low.concat("") >= low,
                                    idx_date.c.low.concat("") < high))
        query = (select(resource.c.content)
                 .where(resource.c.res_type.concat("") == rtype, resource.c.deleted.is_(False),
                        resource.c.owner_org.in_(bindparam("owners", expanding=True)), dated))
        ordered = sorted(practices)
        with self._repo.engine.connect() as conn:
            for i in range(0, len(ordered), _CHUNK):
                for (content,) in conn.execute(query, {"owners": ordered[i:i + _CHUNK]}):
                    if content is not None:
                        yield orjson.loads(content)

    def _theme_of(self):
        generation = self._repo.generation(("Questionnaire",))
        current = self._themes
        if current is None or current[0] != generation:
            index = facts.theme_index(v.resource() for v in self._repo.iter_current("Questionnaire"))
            current = self._themes = (generation, index)
        index = current[1]
        return lambda canonical: index.get(canonical, index.get(canonical.split("|", 1)[0]))
