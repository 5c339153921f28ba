"""Per-practice summaries derived from the actions (Tasks): the impact summary and the in-depth
action summary, each an `individual` MeasureReport of its Measure with the practice as subject.

impact-summary-<ods>: one group per impact category (all six, so aggregates line up), whose
initial-population is the number of the practice's actions with an impact of that category
(cancelled actions excluded: they realise no impact), and one `unit` stratifier whose strata sum
the impact values per unit (values in different units are never added up).
indepth-action-summary-<ods>: one group per Hub action status, counting the practice's in-depth
actions in that status (cancelled included: it is a status summary).
Period: the first to the last creation date of the actions summarised. A practice with no live
action (or no live in-depth action) has no such report: it is deleted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .action import fhir_to_action, is_hub_task
from .names import (CS_ACTION_STATUS, CS_DATA_TYPE, CS_IMPACT_CATEGORY, HUB_REFERENCE, MEASURE_URL, concept,
                    governed_labels, meta, security_codes)
from .schemas import ACTION_STATUSES, IMPACT_CATEGORIES
from .usage import population, subject_extension


def impact_summary_id(ods: str) -> str:
    return f"impact-summary-{ods}"


def indepth_action_summary_id(ods: str) -> str:
    return f"indepth-action-summary-{ods}"


@dataclass
class _Span:
    first: str | None = None
    last: str | None = None

    def add(self, day: str) -> None:
        self.first = day if self.first is None or day < self.first else self.first
        self.last = day if self.last is None or day > self.last else self.last


@dataclass
class PracticeActions:
    """What the summaries of one practice need; small and bounded whatever the number of actions."""
    span: _Span = field(default_factory=_Span)
    impact_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IMPACT_CATEGORIES, 0))
    impact_sums: dict[str, dict[str, list]] = field(default_factory=dict)  # category -> unit -> [count, sum]
    indepth_span: _Span = field(default_factory=_Span)
    indepth_counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ACTION_STATUSES, 0))

    def add(self, task: dict) -> None:
        action = fhir_to_action(task)
        day = (action.get("created") or "")[:10]
        if len(day) != 10:
            return
        self.span.add(day)
        impact = action.get("impact")
        # A Task written through the API may not follow the mapping: count what is readable.
        if impact and impact.get("category") in self.impact_counts and action["status"] != "cancelled":
            self.impact_counts[impact["category"]] += 1
            if type(impact.get("value")) in (int, float):
                by_unit = self.impact_sums.setdefault(impact["category"], {})
                entry = by_unit.setdefault(impact.get("unit") or "", [0, 0])
                entry[0] += 1
                entry[1] += impact["value"]
        indepth = "indepth-action-summary" in security_codes(task, CS_DATA_TYPE)
        if indepth and action["status"] in self.indepth_counts:
            self.indepth_span.add(day)
            self.indepth_counts[action["status"]] += 1


def practice_of(task: dict) -> str | None:
    """The practice a live Hub Task counts for (None for retired or foreign Tasks)."""
    if not is_hub_task(task) or task.get("status") == "entered-in-error":
        return None
    return fhir_to_action(task)["practice"]


def _report(id_: str, measure: str, ods: str, source: str, span: _Span, groups: list[dict]) -> dict:
    return {"resourceType": "MeasureReport", "id": id_,
            "meta": meta("MeasureReport", source, governed_labels([measure], "practice")),
            "extension": [subject_extension(ods)], "status": "complete", "type": "individual",
            "measure": MEASURE_URL + measure, "reporter": HUB_REFERENCE,
            "period": {"start": span.first, "end": span.last}, "group": groups}


def impact_summary(ods: str, actions: PracticeActions, source: str) -> dict | None:
    if actions.span.first is None:
        return None
    groups = []
    for category in IMPACT_CATEGORIES:
        group: dict = {"code": concept(CS_IMPACT_CATEGORY, category),
                       "population": population(actions.impact_counts[category])}
        sums = actions.impact_sums.get(category)
        if sums:
            group["stratifier"] = [{"code": [{"text": "unit"}], "stratum": [
                {"value": {"text": unit or "(no unit)"}, "population": population(count),
                 "measureScore": {"value": round(total, 9), **({"unit": unit} if unit else {})}}
                for unit, (count, total) in sorted(sums.items())]}]
        groups.append(group)
    return _report(impact_summary_id(ods), "impact-summary", ods, source, actions.span, groups)


def indepth_action_summary(ods: str, actions: PracticeActions, source: str) -> dict | None:
    if actions.indepth_span.first is None:
        return None
    groups = [{"code": concept(CS_ACTION_STATUS, status), "population": population(actions.indepth_counts[status])}
              for status in ACTION_STATUSES]
    return _report(indepth_action_summary_id(ods), "indepth-action-summary", ods, source, actions.indepth_span,
                   groups)
