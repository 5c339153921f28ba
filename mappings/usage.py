"""usage.ndjson <-> MeasureReport (one per organisation and month).

`individual` report of Measure `usage`; the organisation in the R5 cross-version subject
extension (R4's `subject` cannot be an Organization); period = the calendar month; one group per
metric given (code from `usage-metric`, the count as `measureScore.value`, initial-population 1:
one organisation). Labelled `usage` and the organisation's level (practice, pcn or icb). No
`date`: a report time would change every import and defeat idempotence.
"""
from __future__ import annotations

import calendar

from .names import (CS_USAGE_METRIC, HUB_REFERENCE, ID_USAGE, MEASURE_POPULATION, MEASURE_REPORT_SUBJECT,
                    MEASURE_URL, code_of, concept, first_extension, governed_labels, meta, org_ref, ref_ods)
from .organisation import expect_org
from .schemas import USAGE_METRICS
from .types import Lookup, Problem

MEASURE = MEASURE_URL + "usage"


def usage_id(organisation: str, period: str) -> str:
    return f"usage-{organisation}-{period}"


def month_period(period: str) -> dict:
    year, month = int(period[:4]), int(period[5:7])
    return {"start": f"{period}-01", "end": f"{period}-{calendar.monthrange(year, month)[1]:02d}"}


def population(count: int) -> list[dict]:
    return [{"code": concept(MEASURE_POPULATION, "initial-population", "Initial Population"), "count": count}]


def subject_extension(ods: str) -> dict:
    return {"url": MEASURE_REPORT_SUBJECT, "valueReference": org_ref(ods)}


def check_usage(rec: dict, lookup: Lookup) -> list[Problem]:
    problem = expect_org(lookup, rec["organisation"], ("practice", "pcn", "icb"), "organisation")
    return [problem] if problem else []


def usage_to_measure_report(rec: dict, source: str, lookup: Lookup) -> dict:
    organisation = lookup("organisation", rec["organisation"])
    return {
        "resourceType": "MeasureReport", "id": usage_id(rec["organisation"], rec["period"]),
        "meta": meta("MeasureReport", source, governed_labels(["usage"], organisation["kind"])),
        "extension": [subject_extension(rec["organisation"])],
        "identifier": [{"system": ID_USAGE, "value": f"{rec['organisation']}-{rec['period']}"}],
        "status": "complete", "type": "individual", "measure": MEASURE, "reporter": HUB_REFERENCE,
        "period": month_period(rec["period"]),
        "group": [{"code": concept(CS_USAGE_METRIC, metric), "population": population(1),
                   "measureScore": {"value": rec[metric]}} for metric in USAGE_METRICS if metric in rec],
    }


def fhir_to_usage(report: dict, _lookup: Lookup | None = None) -> dict:
    subject = first_extension(report, MEASURE_REPORT_SUBJECT) or {}
    rec: dict = {"organisation": ref_ods(subject.get("valueReference")), "period": report["period"]["start"][:7]}
    for group in report.get("group") or []:
        metric = code_of(group.get("code"), CS_USAGE_METRIC)
        if metric:
            rec[metric] = group["measureScore"]["value"]
    return rec


def is_hub_usage(report: dict) -> bool:
    return report.get("measure") == MEASURE
