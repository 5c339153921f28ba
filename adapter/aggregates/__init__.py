"""Aggregates: the six Measures, their evaluation over what a caller may see, and small-number
suppression (data-use-policy.md "Aggregates", "Reporting periods", "Small numbers").

    definitions.py   what each Measure computes (the shipped Measure-<id>.json are built from it)
    periods.py       reporting periods: London dates, NHS financial quarters
    facts.py         per-practice values from stored resources (pure)
    source.py        the SQL that reads them, cached per store generation
    compute.py       group results over a set of practices (pure)
    suppression.py   primary and complementary suppression (pure)
    report.py        the summary MeasureReport
    service.py       one caller's aggregate: subject, period rule, suppression, report
"""
from __future__ import annotations

from .periods import Period, quarter_of
from .service import Aggregates, Outcome, Refusal, Verdict
from .source import StoreSource
from .suppression import DEFAULT_K, MIN_K, Suppression, Unit, suppressed_cells

__all__ = ["Aggregates", "DEFAULT_K", "MIN_K", "Outcome", "Period", "Refusal", "StoreSource", "Suppression", "Unit",
           "Verdict", "quarter_of", "suppressed_cells"]
