"""An aggregate for one caller: which practices it covers, whether the period is allowed, which
groups are suppressed, and the MeasureReport. Decides and returns; never raises an HTTP error.

    aggregates = Aggregates(StoreSource(repo), k=3)
    verdict = aggregates.verdict(grants, "usage", "QK1", period)          # the decision only
    outcome = aggregates.evaluate(grants, "usage", "QK1", period)         # + the report
    outcome.refusal or outcome.report

Subjects (data-use-policy.md "Aggregates are computed over what the caller may see"):
- an ICB: its practices (by each practice's own ICB), at level `icb`;
- a PCN: one *cell* (its practices within one ICB), at level `pcn`; `icb` names the cell and is
  required when the PCN spans ICBs (**decision**: one report is one aggregate and one suppression
  unit, as the policy reports a spanning PCN per cell);
- a federation: its member practices, at level `pcn` (the PCN table grants federations).
Each covers the members the caller's grant for that data type and level reaches.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..policy.grants import Grants
from ..policy.scope import covers_all
from .compute import GroupResult, aggregate, group_keys
from .definitions import MEASURES, MeasureDef
from .facts import GroupKey, PracticeValues
from .periods import Period
from .report import measure_report
from .source import StoreSource
from .suppression import DEFAULT_K, Suppression, Unit, check_k, primary, suppressed_cells

LEVEL_OF_KIND = {"icb": "icb", "pcn": "pcn", "federation": "pcn"}


@dataclass(frozen=True)
class Refusal:
    status: int          # 400 or 404
    code: str            # OperationOutcome issue code
    text: str


@dataclass(frozen=True)
class Verdict:
    """The decision for one caller, Measure, subject and period."""
    refusal: Refusal | None = None
    measure: MeasureDef | None = None
    subject: str | None = None
    kind: str | None = None                      # icb | pcn | federation
    level: str | None = None
    cell_icb: str | None = None                  # the ICB of a PCN's cell
    practices: frozenset[str] = frozenset()      # the members the aggregate may cover
    results: tuple[GroupResult, ...] = ()
    suppressed: frozenset[GroupKey] = frozenset()
    sources: tuple[str, ...] = ()                # the Consents that grant the aggregate

    @property
    def granted(self) -> bool:
        return self.refusal is None

    @property
    def any_suppressed(self) -> bool:
        return bool(self.suppressed)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    report: dict | None = field(default=None)

    @property
    def refusal(self) -> Refusal | None:
        return self.verdict.refusal


def _refuse(status: int, code: str, text: str) -> Verdict:
    return Verdict(Refusal(status, code, text))


class Aggregates:
    def __init__(self, source: StoreSource, k: int = DEFAULT_K):
        self.source = source
        self.k = check_k(k)

    # -- the decision ------------------------------------------------------------------------
    def verdict(self, grants: Grants, measure_id: str, subject: str, period: Period,
                icb: str | None = None) -> Verdict:
        measure = MEASURES.get(measure_id)
        if measure is None:
            return _refuse(404, "not-found", f"Resource Measure/{measure_id} is not known")
        hierarchy = grants.hierarchy
        kind = hierarchy.kind(subject)
        if kind == "practice":
            return _refuse(400, "not-supported", "$evaluate-measure takes an ICB, a PCN or a federation as subject; "
                                                 "a practice's own data is read directly")
        if kind not in LEVEL_OF_KIND:
            return _refuse(404, "not-found", f"Resource Organization/{subject} is not known")
        level = LEVEL_OF_KIND[kind]
        cell_icb, group = None, hierarchy.practices_of(subject)
        if kind == "pcn":
            cells = hierarchy.cells_of_pcn(subject)
            if icb is None and len(cells) > 1:
                return _refuse(400, "required", f"PCN {subject} spans ICBs "
                                                f"{', '.join(c[1] for c in cells)}: name the cell with `icb`")
            chosen = [c for c in cells if icb is None or c[1] == icb]
            if not chosen:
                return _refuse(404, "not-found", f"PCN {subject} has no practices in ICB {icb}")
            cell_icb = chosen[0][1]
            group = hierarchy.cells[chosen[0]]
        elif icb is not None and not (kind == "icb" and icb == subject):
            return _refuse(400, "invalid", "`icb` names the cell of a PCN; it applies to PCN subjects only")
        practices = grants.aggregate_practices(measure.data_type, level, group)
        if not practices:  # no grant for this subject and data type: as if it did not exist
            return _refuse(404, "not-found", f"Resource Organization/{subject} is not known")
        # Aggregate-only callers: whole quarters. The test is on every practice the aggregate may
        # cover, not on the period's contributors, so a refusal says nothing about the data.
        if not period.is_quarter and not covers_all(grants.practice_scope(measure.data_type), practices):
            return _refuse(400, "invalid", "aggregates for callers without Practice-level rights over every "
                                           "practice cover one whole NHS financial quarter (1 Apr-30 Jun, "
                                           "1 Jul-30 Sep, 1 Oct-31 Dec, 1 Jan-31 Mar)")
        if kind == "federation":
            values = self.source.values(measure.id, practices, period)
            results = aggregate(measure, values, practices)
            visible = grants.practice_scope(measure.data_type)
            # Federations lie across the ICB tree: primary suppression only (see README "Aggregates").
            suppressed = frozenset(r.key for r in results if primary(Unit.of(r.contributors, visible), self.k))
        else:
            home = subject if kind == "icb" else cell_icb
            values = self.source.values(measure.id, hierarchy.practices_of(home), period)
            results = aggregate(measure, values, practices,
                                group_keys(measure, values, hierarchy.practices_of(home)))
            decisions = self.icb_suppression(grants, measure, home, values, [r.key for r in results])
            target = None if kind == "icb" else (subject, cell_icb)
            suppressed = frozenset(key for key, s in decisions.items()
                                   if (s.icb if target is None else target in s.cells))
        return Verdict(None, measure, subject, kind, level, cell_icb, practices, tuple(results), suppressed,
                       grants.sources(measure.data_type, level))

    def icb_suppression(self, grants: Grants, measure: MeasureDef, icb: str, values: PracticeValues,
                        keys: list[GroupKey]) -> dict[GroupKey, Suppression]:
        """Per group: which of the ICB's aggregates (the ICB's own, its cells') are suppressed for the caller."""
        hierarchy = grants.hierarchy
        visible = grants.practice_scope(measure.data_type)
        icb_members = grants.aggregate_practices(measure.data_type, "icb", hierarchy.practices_of(icb))
        cells = {cell: grants.aggregate_practices(measure.data_type, "pcn", members)
                 for cell in hierarchy.cells_of_icb(icb) if (members := hierarchy.cells[cell])}
        out = {}
        for key in keys:
            having = frozenset(p for p, groups in values.items() if key in groups)
            icb_unit = Unit.of(icb_members & having, visible) if icb_members else None
            cell_units = {c: Unit.of(m & having, visible) for c, m in cells.items() if m}
            out[key] = suppressed_cells(icb_unit, cell_units, self.k)
        return out

    # -- the report --------------------------------------------------------------------------
    def evaluate(self, grants: Grants, measure_id: str, subject: str, period: Period, icb: str | None = None,
                 *, no_reuse: bool = True) -> Outcome:
        verdict = self.verdict(grants, measure_id, subject, period, icb)
        if verdict.refusal is not None:
            return Outcome(verdict)
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        report = measure_report(verdict.measure, subject, verdict.level, period, verdict.results, verdict.suppressed,
                                cell_icb=verdict.cell_icb if len(grants.hierarchy.cells_of_pcn(subject)) > 1 else None,
                                generated=generated, no_reuse=no_reuse)
        return Outcome(verdict, report)

