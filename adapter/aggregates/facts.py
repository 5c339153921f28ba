"""What each practice brings to an aggregate: pure functions from stored resources to values.

For one Measure and period, `practice_values` turns the current resources of a set of practices
into {practice: {group key: Sample}}. A practice without a Sample for a group does not contribute
to it. The contribution rules are the policy's ("Reporting periods"): assessments by their latest
`completed`/`amended` submission authored in the period, actions by the date they were created,
usage by its month.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

from mappings.action import fhir_to_action, is_hub_task
from mappings.names import (CS_ASSESSMENT_KIND, CS_ASSESSMENT_SECTION, CS_ASSESSMENT_THEME, CS_DATA_TYPE,
                            CS_IMPACT_CATEGORY, CS_USAGE_METRIC, EXT_SCORE, MEASURE_REPORT_SUBJECT, MEASURE_URL,
                            code_of, first_extension, ref_ods, security_codes)
from mappings.schemas import IMPACT_CATEGORIES, USAGE_METRICS

from ..search.values import date_range
from .definitions import score_band
from .periods import Period

GroupKey = tuple[str, str]  # (system, code) of the group


@dataclass
class Sample:
    """One practice's value for one group, and its values per stratum of each stratifier."""
    value: float = 0.0
    strata: dict[str, dict[str, float]] = field(default_factory=dict)

    def add_stratum(self, stratifier: str, stratum: str, value: float) -> None:
        bucket = self.strata.setdefault(stratifier, {})
        bucket[stratum] = bucket.get(stratum, 0) + value


PracticeValues = dict[str, dict[GroupKey, Sample]]
# canonical (url|version) of a Questionnaire -> its theme (None for a global one)
ThemeOf = Callable[[str], str | None]


# -- assessments ---------------------------------------------------------------------------------

def _score(element: dict) -> tuple[float, float] | None:
    ext = first_extension(element, EXT_SCORE)
    if not ext:
        return None
    parts = {e.get("url"): e.get("valueDecimal") for e in ext.get("extension") or []}
    score, maximum = parts.get("score"), parts.get("maximum")
    if not isinstance(score, (int, float)) or not isinstance(maximum, (int, float)) or maximum <= 0:
        return None  # no maximum, no percentage: the practice does not contribute to this group
    return float(score), float(maximum)


def _percent(score: tuple[float, float]) -> float:
    return 100.0 * score[0] / score[1]


def latest_submissions(responses: Iterable[dict], period: Period, data_type: str,
                       theme_of: ThemeOf) -> dict[tuple[str, str | None], dict]:
    """(practice, theme) -> the latest completed/amended response authored in the period."""
    latest: dict[tuple[str, str | None], dict] = {}
    for qr in responses:
        if qr.get("status") not in ("completed", "amended") or data_type not in security_codes(qr, CS_DATA_TYPE):
            continue
        if not period.contains_instant(qr.get("authored")):
            continue
        practice = ref_ods(qr.get("subject"))
        if practice is None:
            continue
        theme = theme_of(qr.get("questionnaire") or "") if data_type == "indepth-assessment" else None
        if data_type == "indepth-assessment" and theme is None:
            continue
        key = (practice, theme)
        current = latest.get(key)
        # Latest by authored instant (normalised to UTC text), then id, so ties resolve one way.
        if current is None or _order(qr) > _order(current):
            latest[key] = qr
    return latest


def _order(qr: dict) -> tuple[str, str]:
    span = date_range(qr.get("authored") or "")
    return (span[0] if span else "", qr.get("id") or "")


def global_values(responses: Iterable[dict], period: Period, theme_of: ThemeOf) -> PracticeValues:
    out: PracticeValues = defaultdict(dict)
    for (practice, _), qr in latest_submissions(responses, period, "global-assessment", theme_of).items():
        total = _score(qr)
        if total is not None:
            out[practice][(CS_ASSESSMENT_KIND, "global")] = _banded(_percent(total))
        for item in qr.get("item") or []:
            section, score = item.get("linkId"), _score(item)
            if section and score is not None:
                out[practice][(CS_ASSESSMENT_SECTION, section)] = _banded(_percent(score))
    return dict(out)


def indepth_values(responses: Iterable[dict], period: Period, theme_of: ThemeOf) -> PracticeValues:
    out: PracticeValues = defaultdict(dict)
    for (practice, theme), qr in latest_submissions(responses, period, "indepth-assessment", theme_of).items():
        total = _score(qr)
        if total is None:
            continue
        sample = _banded(_percent(total))
        for item in qr.get("item") or []:
            section, score = item.get("linkId"), _score(item)
            if section and score is not None:
                sample.add_stratum("section", section, _percent(score))
        out[practice][(CS_ASSESSMENT_THEME, theme)] = sample
    return dict(out)


def _banded(percent: float) -> Sample:
    sample = Sample(percent)
    sample.add_stratum("score-band", score_band(percent), percent)
    return sample


# -- actions -------------------------------------------------------------------------------------

def live_actions(tasks: Iterable[dict], period: Period) -> Iterable[tuple[dict, dict]]:
    """(task, native action) of each live Hub action created in the period."""
    for task in tasks:
        if not is_hub_task(task) or task.get("status") == "entered-in-error":
            continue
        if not period.contains_instant(task.get("authoredOn")):
            continue
        action = fhir_to_action(task)
        if action.get("practice"):
            yield task, action


def action_values(tasks: Iterable[dict], period: Period, indepth_only: bool = False) -> PracticeValues:
    data_type = "indepth-action-summary" if indepth_only else "actions"
    key = (CS_DATA_TYPE, data_type)
    out: PracticeValues = defaultdict(dict)
    for task, action in live_actions(tasks, period):
        if indepth_only and "indepth-action-summary" not in security_codes(task, CS_DATA_TYPE):
            continue
        sample = out[action["practice"]].setdefault(key, Sample())
        sample.value += 1
        sample.add_stratum("status", action.get("status") or "unknown", 1)
        sample.add_stratum("priority", action.get("priority") or "routine", 1)
    return dict(out)


def impact_values(tasks: Iterable[dict], period: Period) -> PracticeValues:
    out: PracticeValues = defaultdict(dict)
    for _task, action in live_actions(tasks, period):
        impact = action.get("impact") or {}
        category = impact.get("category")
        if action.get("status") == "cancelled" or category not in IMPACT_CATEGORIES:
            continue  # a cancelled action realises no impact (as the per-practice summary)
        sample = out[action["practice"]].setdefault((CS_IMPACT_CATEGORY, category), Sample())
        sample.value += 1
        if type(impact.get("value")) in (int, float):
            sample.add_stratum("unit", impact.get("unit") or "", impact["value"])
    return dict(out)


# -- usage ---------------------------------------------------------------------------------------

USAGE_MEASURE = MEASURE_URL + "usage"


def usage_values(reports: Iterable[dict], period: Period, practices: frozenset[str]) -> PracticeValues:
    """Practices' own monthly rows only: a PCN's or ICB's row is not a practice's contribution."""
    months = set(period.months())
    monthly: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    seen: set[tuple[str, str]] = set()
    for report in reports:
        if report.get("measure") != USAGE_MEASURE or report.get("type") != "individual":
            continue
        practice = ref_ods((first_extension(report, MEASURE_REPORT_SUBJECT) or {}).get("valueReference"))
        month = ((report.get("period") or {}).get("start") or "")[:7]
        if practice not in practices or month not in months or (practice, month) in seen:
            continue
        seen.add((practice, month))
        for group in report.get("group") or []:
            metric = code_of(group.get("code"), CS_USAGE_METRIC)
            value = (group.get("measureScore") or {}).get("value")
            if metric in USAGE_METRICS and type(value) in (int, float):
                monthly[practice][metric].append(value)
    out: PracticeValues = {}
    for practice, metrics in monthly.items():
        out[practice] = {}
        for metric, values in metrics.items():
            # active_users is a head count: not additive over months, so its mean stands for the period.
            value = sum(values) / len(values) if metric == "active_users" else sum(values)
            out[practice][(CS_USAGE_METRIC, metric)] = Sample(value)
    return out


def theme_index(questionnaires: Iterable[dict]) -> Mapping[str, str | None]:
    """`url|version` (and bare `url`) of each Questionnaire -> its in-depth theme (None for global)."""
    out: dict[str, str | None] = {}
    for q in questionnaires:
        codes = q.get("code") or []
        kind = next((c.get("code") for c in codes if c.get("system") == CS_ASSESSMENT_KIND), None)
        theme = next((c.get("code") for c in codes if c.get("system") == CS_ASSESSMENT_THEME), None)
        value = theme if kind == "indepth" else None
        if q.get("url"):
            out[f"{q['url']}|{q.get('version')}"] = value
            out.setdefault(q["url"], value)
    return out
