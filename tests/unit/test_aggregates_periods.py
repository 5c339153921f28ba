"""Reporting periods: London dates, whole NHS financial quarters."""
from __future__ import annotations

from datetime import date

import pytest

from adapter.aggregates.periods import Period, quarter_of


@pytest.mark.parametrize("start, end", [("2026-04-01", "2026-06-30"), ("2026-07-01", "2026-09-30"),
                                        ("2026-10-01", "2026-12-31"), ("2027-01-01", "2027-03-31"),
                                        ("2028-01-01", "2028-03-31")])
def test_whole_quarters(start, end):
    assert Period.parse(start, end).is_quarter


@pytest.mark.parametrize("start, end", [("2026-04-01", "2026-06-29"), ("2026-04-02", "2026-06-30"),
                                        ("2026-04-01", "2026-09-30"), ("2026-05-01", "2026-07-31"),
                                        ("2026-10-01", "2026-10-31"), ("2026-04-01", "2027-03-31")])
def test_other_periods_are_not_quarters(start, end):
    assert not Period.parse(start, end).is_quarter


@pytest.mark.parametrize("start, end", [(None, "2026-06-30"), ("2026-04-01", None), ("2026-04", "2026-06-30"),
                                        ("2026-04-01T00:00:00Z", "2026-06-30"), ("2026-02-30", "2026-06-30"),
                                        ("2026-07-01", "2026-06-30")])
def test_malformed_periods_are_refused(start, end):
    with pytest.raises(ValueError):
        Period.parse(start, end)


def test_instants_are_london_midnights():
    assert Period.parse("2026-07-01", "2026-09-30").instants() == ("2026-06-30T23:00:00.000Z",
                                                                 "2026-09-30T23:00:00.000Z")
    assert Period.parse("2027-01-01", "2027-03-31").instants() == ("2027-01-01T00:00:00.000Z",
                                                                 "2027-03-31T23:00:00.000Z")


def test_an_instant_belongs_to_its_london_date():
    q2 = Period.parse("2026-07-01", "2026-09-30")
    assert q2.contains_instant("2026-06-30T23:30:00Z")          # 00:30 BST on 1 July
    assert not q2.contains_instant("2026-06-30T22:59:59Z")
    assert not q2.contains_instant("2026-09-30T23:00:00Z")      # midnight BST: 1 October
    assert q2.contains_instant("2026-09-30T23:59:00+01:00")
    assert not q2.contains_instant(None) and not q2.contains_instant("garbage")


def test_months_whose_first_day_lies_in_the_period():
    assert Period.parse("2026-07-01", "2026-09-30").months() == ["2026-07", "2026-08", "2026-09"]
    assert Period.parse("2026-07-15", "2026-09-01").months() == ["2026-08", "2026-09"]
    assert Period.parse("2026-12-01", "2027-01-31").months() == ["2026-12", "2027-01"]


def test_quarter_of():
    assert quarter_of(date(2026, 5, 17)) == Period(date(2026, 4, 1), date(2026, 6, 30))
    assert quarter_of(date(2027, 3, 31)) == Period(date(2027, 1, 1), date(2027, 3, 31))
    assert quarter_of(date(2026, 12, 1)) == Period(date(2026, 10, 1), date(2026, 12, 31))
