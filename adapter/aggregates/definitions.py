"""What each of the six Measures computes: its groups, how a group aggregates, its stratifiers.

The shipped `measures/Measure-<id>.json` are generated from this (`python -m
adapter.aggregates.build_measures`), so the Measures we publish and the numbers we compute cannot
drift apart (a test checks the files are up to date).

Every group counts *practices*: `initial-population` = the practices contributing to the group
(fhir-conventions.md "Aggregates"). Each contributing practice brings one value per group (and per
stratum); the group's `measureScore` is the mean or the sum of those values, and each stratum has
the number of practices in it and the mean or sum of their values in it.
"""
from __future__ import annotations

from dataclasses import dataclass

from mappings.names import (CS_ACTION_STATUS, CS_ASSESSMENT_KIND, CS_ASSESSMENT_SECTION, CS_ASSESSMENT_THEME,
                            CS_DATA_TYPE, CS_IMPACT_CATEGORY, CS_USAGE_METRIC)
from mappings.schemas import ACTION_STATUSES, IMPACT_CATEGORIES, USAGE_METRICS

# The sections and themes our fragment CodeSystems list; data may bring others (the report then
# has extra groups with the same shape, coded in the same system).
SECTIONS = ("leadership", "infrastructure", "cyber-security", "workforce", "patient-access", "care-navigation",
            "data-interoperability", "innovation")
THEMES = ("telephony", "online-consultation", "cyber-security", "leadership", "infrastructure", "workforce-skills",
          "patient-access", "digital-inclusion", "care-navigation", "data-interoperability", "innovation")
PRIORITIES = ("routine", "urgent")

# Score bands over the percentage of the maximum score: [low, high) except the last, which holds 100.
SCORE_BANDS = (("0-24", 0.0, 25.0), ("25-49", 25.0, 50.0), ("50-74", 50.0, 75.0), ("75-100", 75.0, 100.0))


def score_band(percent: float) -> str:
    for name, _low, high in SCORE_BANDS[:-1]:
        if percent < high:
            return name
    return SCORE_BANDS[-1][0]


@dataclass(frozen=True)
class Stratifier:
    code: str               # the stratifier's code text (and the key in a practice's values)
    description: str
    expression: str         # FHIRPath on the contributing resource: what the strata are read from
    strata: tuple[str, ...] = ()   # fixed strata, in order; empty = whatever the data brings, sorted


@dataclass(frozen=True)
class GroupDef:
    system: str
    code: str
    description: str


@dataclass(frozen=True)
class MeasureDef:
    id: str
    title: str
    description: str
    data_type: str
    method: str                     # "mean" | "sum": how practice values combine
    unit: str | None                # of measureScore (UCUM-ish text), None for counts
    groups: tuple[GroupDef, ...]    # fixed groups, in order
    extra_groups_system: str | None  # groups the data may add beyond `groups` (fragment CodeSystems)
    stratifiers: tuple[Stratifier, ...]
    population: str                 # which records count, and when: a FHIR query (the population criteria)
    observation: str                # FHIRPath: each record's value


_SCORE = "extension('https://fhir.dandthub.co.uk/StructureDefinition/score')"
_BAND = Stratifier("score-band", "Practices by the band of their percentage score: "
                   + ", ".join(f"{n} %" for n, _, _ in SCORE_BANDS)
                   + "; stratum measureScore = the mean percentage of the practices in the band.",
                   f"QuestionnaireResponse.{_SCORE}", tuple(n for n, _, _ in SCORE_BANDS))
_STATUS = Stratifier("status", "Actions by Hub action status (cancelled included: a status summary); stratum "
                     "initial-population = practices with such actions, measureScore = how many actions.",
                     "Task.businessStatus.coding.code", ACTION_STATUSES)
_PRIORITY = Stratifier("priority", "Actions by priority; stratum initial-population = practices with such "
                       "actions, measureScore = how many actions.", "Task.priority", PRIORITIES)

_ASSESSMENT_RULE = ("A practice contributes its latest `completed` or `amended` submission of the assessment "
                    "authored in the period (Europe/London dates).")

MEASURES: dict[str, MeasureDef] = {m.id: m for m in (
    MeasureDef(
        "global-assessment", "Global assessment scores",
        "Mean Global Assessment score per section and in total, as a percentage of the maximum score, and the "
        "distribution of practices over score bands. " + _ASSESSMENT_RULE,
        "global-assessment", "mean", "%",
        (GroupDef(CS_ASSESSMENT_KIND, "global", "The total score (sum over the sections) as a percentage of the "
                                                "total maximum."),)
        + tuple(GroupDef(CS_ASSESSMENT_SECTION, s, f"The score of section {s} as a percentage of its maximum.")
                for s in SECTIONS),
        CS_ASSESSMENT_SECTION, (_BAND,),
        "QuestionnaireResponse?_security=https://fhir.dandthub.co.uk/CodeSystem/data-type|global-assessment"
        "&status=completed,amended&authored=ge{periodStart}&authored=le{periodEnd}",
        f"QuestionnaireResponse.{_SCORE} | QuestionnaireResponse.item.{_SCORE}"),
    MeasureDef(
        "indepth-assessment", "In-depth assessment scores",
        "Mean In-depth Assessment total score per theme, as a percentage of the maximum, with the mean per "
        "section and the distribution over score bands. " + _ASSESSMENT_RULE + " (per theme)",
        "indepth-assessment", "mean", "%",
        tuple(GroupDef(CS_ASSESSMENT_THEME, t, f"In-depth assessments of theme {t}: the total score as a "
                                               f"percentage of the maximum.") for t in THEMES),
        CS_ASSESSMENT_THEME,
        (Stratifier("section", "The mean percentage score per section of the theme's assessment; stratum "
                               "initial-population = practices whose submission has that section.",
                    f"QuestionnaireResponse.item.{_SCORE}"), _BAND),
        "QuestionnaireResponse?_security=https://fhir.dandthub.co.uk/CodeSystem/data-type|indepth-assessment"
        "&status=completed,amended&authored=ge{periodStart}&authored=le{periodEnd}",
        f"QuestionnaireResponse.{_SCORE}"),
    MeasureDef(
        "actions", "Improvement actions",
        "The number of improvement actions created in the period, by status and priority.",
        "actions", "sum", None,
        (GroupDef(CS_DATA_TYPE, "actions", "All actions created in the period (entered-in-error excluded)."),),
        None, (_STATUS, _PRIORITY),
        "Task?identifier=https://fhir.dandthub.co.uk/Id/action|&authored-on=ge{periodStart}&authored-on=le{periodEnd}"
        "&status:not=entered-in-error", "Task.count()"),
    MeasureDef(
        "impact-summary", "Impact of actions",
        "Per impact category: the number of actions created in the period with an impact of that category "
        "(cancelled actions realise no impact and are excluded), and the sum of the impact values per unit "
        "(values in different units are never added up).",
        "impact-summary", "sum", None,
        tuple(GroupDef(CS_IMPACT_CATEGORY, c, f"Actions with a {c} impact.") for c in IMPACT_CATEGORIES),
        None,
        (Stratifier("unit", "The impact values of the category summed per unit; stratum initial-population = "
                            "practices with a value in that unit, measureScore = the sum (with the unit).",
                    "Task.output.valueQuantity.unit"),),
        "Task?_security=https://fhir.dandthub.co.uk/CodeSystem/data-type|impact-summary"
        "&authored-on=ge{periodStart}&authored-on=le{periodEnd}&status:not=cancelled&status:not=entered-in-error",
        "Task.output.valueQuantity.value"),
    MeasureDef(
        "indepth-action-summary", "In-depth action summary",
        "The number of actions that came from In-depth Assessments, created in the period, by status and "
        "priority.",
        "indepth-action-summary", "sum", None,
        (GroupDef(CS_DATA_TYPE, "indepth-action-summary", "In-depth actions created in the period."),),
        None, (_STATUS, _PRIORITY),
        "Task?_security=https://fhir.dandthub.co.uk/CodeSystem/data-type|indepth-action-summary"
        "&authored-on=ge{periodStart}&authored-on=le{periodEnd}&status:not=entered-in-error", "Task.count()"),
    MeasureDef(
        "usage", "Usage and uptake",
        "Usage counts of the practices summed over the months of the period; `active_users` is not additive "
        "over months: each practice brings the mean of its monthly values, summed over practices.",
        "usage", "sum", None,
        tuple(GroupDef(CS_USAGE_METRIC, m, f"Usage metric {m}.") for m in USAGE_METRICS),
        None, (),
        "MeasureReport?measure=https://fhir.dandthub.co.uk/Measure/usage&period=ge{periodStart}&period=le{periodEnd}",
        "MeasureReport.group.measureScore.value"),
)}
