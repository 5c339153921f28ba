"""The `summary` MeasureReport of an evaluation (fhir-conventions.md "Aggregates").

R4 `MeasureReport.subject` cannot reference an Organization: the subject goes in the R5
cross-version extension; a cell of a PCN that spans ICBs also names its ICB (extension
`cell-icb`). A suppressed group keeps its code and initial-population count, loses measureScore
and stratifiers and carries data-absent-reason `masked`; the report is then labelled MASKED as
well as AGGRED. The report is computed, not stored: it has no id and no versionId.
"""
from __future__ import annotations

from typing import Iterable

from mappings.names import (CS_DATA_TYPE, CS_GRANULARITY, HUB_REFERENCE, MEASURE_REPORT_SUBJECT, MEASURE_URL,
                            SD, V3_ACT_CODE, coding, concept, org_ref)
from mappings.usage import population

from ..policy.codes import V3_OBSERVATION_VALUE
from .compute import GroupResult
from .definitions import MeasureDef
from .facts import GroupKey
from .periods import Period

DATA_ABSENT_REASON = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
EXT_CELL_ICB = f"{SD}/cell-icb"
AGGRED = coding(V3_OBSERVATION_VALUE, "AGGRED", "aggregated")
MASKED = coding(V3_OBSERVATION_VALUE, "MASKED", "masked")
NOREUSE = coding(V3_ACT_CODE, "NOREUSE", "no reuse beyond the purpose of use")
CONFIDENTIAL_R = coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", "restricted")


def _score(measure: MeasureDef, value: float, unit: str | None) -> dict:
    quantity: dict = {"value": value}
    unit = unit if unit is not None else measure.unit
    if unit:
        quantity["unit"] = unit
    return quantity


def report_group(measure: MeasureDef, result: GroupResult, suppressed: bool) -> dict:
    system, code = result.key
    group: dict = {"code": concept(system, code)}
    if suppressed:
        group["extension"] = [{"url": DATA_ABSENT_REASON, "valueCode": "masked"}]
    group["population"] = population(result.count)
    if suppressed or result.score is None:
        return group
    group["measureScore"] = _score(measure, result.score, None)
    stratifiers = []
    for stratifier_code, strata in result.strata:
        stratifiers.append({"code": [{"text": stratifier_code}], "stratum": [
            {"value": {"text": s.stratum or "(no unit)"}, "population": population(s.count),
             **({"measureScore": _score(measure, s.score, s.stratum if stratifier_code == "unit" else None)}
                if s.count else {})}
            for s in strata]})
    if stratifiers:
        group["stratifier"] = stratifiers
    return group


def measure_report(measure: MeasureDef, subject: str, level: str, period: Period, results: Iterable[GroupResult],
                   suppressed: Iterable[GroupKey], *, cell_icb: str | None = None, generated: str | None = None,
                   no_reuse: bool = True) -> dict:
    suppressed = set(suppressed)
    groups = [report_group(measure, r, r.key in suppressed) for r in results]
    security = [coding(CS_DATA_TYPE, measure.data_type), coding(CS_GRANULARITY, level), CONFIDENTIAL_R, AGGRED]
    if any(r.key in suppressed for r in results):
        security.append(MASKED)
    if no_reuse:
        security.append(NOREUSE)
    extensions = [{"url": MEASURE_REPORT_SUBJECT, "valueReference": org_ref(subject)}]
    if cell_icb:
        extensions.append({"url": EXT_CELL_ICB, "valueReference": org_ref(cell_icb)})
    report: dict = {"resourceType": "MeasureReport", "meta": {"security": security}, "extension": extensions,
                    "status": "complete", "type": "summary", "measure": MEASURE_URL + measure.id}
    if generated:
        report["date"] = generated
    report.update({"reporter": HUB_REFERENCE, "period": period.as_fhir(), "group": groups})
    return report
