"""The aggregates a bulk reader gets: each Measure x each ICB and PCN cell the caller has an
aggregate grant for x the last four complete NHS financial quarters (issue: bulk export and push).

    for item in recent_reports(aggregates, grants, today):
        item.report   # a summary MeasureReport with a stable id and identifier, suppression applied

The id and identifier are stable per Measure, subject (cell) and quarter, so that a consumer that
stores them (an ICS shared record, `dthub push`'s target) replaces last run's figures instead of
adding to them: `https://fhir.dandthub.co.uk/Id/aggregate` `<measure>-<subject>[-<cell ICB>]-<quarter start>`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Iterator

from ..policy.grants import Grants
from .definitions import MEASURES
from .periods import Period, quarter_of
from .service import Aggregates

AGGREGATE_IDENTIFIER = "https://fhir.dandthub.co.uk/Id/aggregate"
QUARTERS = 4


@dataclass(frozen=True)
class RecentReport:
    measure_id: str
    subject: str
    cell_icb: str | None
    period: Period
    report: dict
    sources: tuple[str, ...]   # the Consents that granted it (for the audit trail)


def complete_quarters(today: date, count: int = QUARTERS) -> list[Period]:
    """The last `count` NHS financial quarters that ended before `today`, oldest first."""
    out, current = [], quarter_of(today)
    for _ in range(count):
        current = quarter_of(current.start - timedelta(days=1))
        out.append(current)
    return out[::-1]


def aggregate_key(measure_id: str, subject: str, cell_icb: str | None, period: Period) -> str:
    parts = [measure_id, subject] + ([cell_icb] if cell_icb else []) + [period.start.isoformat()]
    return "-".join(parts)


def subjects(grants: Grants, measure_id: str) -> list[tuple[str, str | None]]:
    """(ICB, None) and (PCN, its cell's ICB) for every group whose aggregate the caller has a grant for."""
    data_type = MEASURES[measure_id].data_type
    hierarchy = grants.hierarchy
    out: list[tuple[str, str | None]] = []
    for ods, kind in sorted(hierarchy.kinds.items()):
        if kind == "icb" and grants.aggregate_practices(data_type, "icb", hierarchy.practices_of(ods)):
            out.append((ods, None))
    for (pcn, icb), members in hierarchy.cells.items():
        if grants.aggregate_practices(data_type, "pcn", members):
            out.append((pcn, icb))
    return out


def recent_reports(aggregates: Aggregates, grants: Grants, today: date, *, no_reuse: bool = True,
                   measures: tuple[str, ...] | None = None,
                   subjects_filter: Callable[[str, str | None], bool] | None = None) -> Iterator[RecentReport]:
    """`subjects_filter(subject, cell_icb)` picks the groups wanted before anything is evaluated
    (an export narrowed to one organisation); default all the grants allow."""
    quarters = complete_quarters(today)
    for measure_id in measures or tuple(MEASURES):
        for subject, cell_icb in subjects(grants, measure_id):
            if subjects_filter is not None and not subjects_filter(subject, cell_icb):
                continue
            for period in quarters:
                outcome = aggregates.evaluate(grants, measure_id, subject, period, cell_icb, no_reuse=no_reuse)
                if outcome.refusal is not None:  # granted above, so only a race with a Consent change
                    continue
                key = aggregate_key(measure_id, subject, cell_icb, period)
                report = {"resourceType": "MeasureReport", "id": key,
                          "identifier": [{"system": AGGREGATE_IDENTIFIER, "value": key}],
                          **{k: v for k, v in outcome.report.items() if k != "resourceType"}}
                yield RecentReport(measure_id, subject, cell_icb, period, report, outcome.verdict.sources)
