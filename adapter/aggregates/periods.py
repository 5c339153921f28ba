"""Reporting periods (data-use-policy.md "Reporting periods").

A period is a pair of Europe/London calendar dates, both inclusive, as contract dates are. NHS
financial quarters are 1 Apr-30 Jun, 1 Jul-30 Sep, 1 Oct-31 Dec and 1 Jan-31 Mar. Stored times
are instants, so a period is turned into the UTC instants of its London midnights: a submission
at 23:30 UTC on 30 June (00:30 BST on 1 July) belongs to the July quarter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# First month of each NHS financial quarter.
_QUARTER_STARTS = (4, 7, 10, 1)


@dataclass(frozen=True, order=True)
class Period:
    start: date
    end: date

    @classmethod
    def parse(cls, start: str | None, end: str | None) -> "Period":
        """Two `YYYY-MM-DD` dates, start <= end; ValueError (with a message for the caller) otherwise."""
        if not start or not end:
            raise ValueError("periodStart and periodEnd are both required (YYYY-MM-DD)")
        for name, value in (("periodStart", start), ("periodEnd", end)):
            if not _DATE.match(value):
                raise ValueError(f"{name} must be a date (YYYY-MM-DD), not {value!r}")
        try:
            period = cls(date.fromisoformat(start), date.fromisoformat(end))
        except ValueError as exc:
            raise ValueError(f"not a calendar date: {exc}") from exc
        if period.start > period.end:
            raise ValueError("periodStart is after periodEnd")
        return period

    @property
    def is_quarter(self) -> bool:
        """Exactly one whole NHS financial quarter."""
        return self.start.day == 1 and self.start.month in _QUARTER_STARTS and self.end == quarter_of(self.start).end

    def instants(self) -> tuple[str, str]:
        """[from, to) as UTC instants in the store's fixed-width form (sorts as text)."""
        return _utc(self.start), _utc(self.end + timedelta(days=1))

    def contains_instant(self, value: str | None) -> bool:
        """An ISO dateTime with a zone, judged on its London calendar date."""
        if not value:
            return False
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return False
        if moment.tzinfo is None:  # R4 requires a zone on times; a bare date is a London date
            return self.contains_date(moment.date())
        return self.contains_date(moment.astimezone(LONDON).date())

    def contains_date(self, day: date) -> bool:
        return self.start <= day <= self.end

    def months(self) -> list[str]:
        """`YYYY-MM` of every month whose first day lies in the period (how usage counts)."""
        out, year, month = [], self.start.year, self.start.month
        if self.start.day != 1:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        while date(year, month, 1) <= self.end:
            out.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out

    def as_fhir(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def quarter_of(day: date) -> Period:
    """The NHS financial quarter holding `day`."""
    first_month = ((day.month - 1) // 3) * 3 + 1
    start = date(day.year, first_month, 1)
    end_month = first_month + 2
    following = date(day.year + 1, 1, 1) if end_month == 12 else date(day.year, end_month + 1, 1)
    return Period(start, following - timedelta(days=1))


def _utc(day: date) -> str:
    moment = datetime.combine(day, time(0), LONDON).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
