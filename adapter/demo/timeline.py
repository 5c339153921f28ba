"""Dates of the demo: NHS financial years and quarters around a fixed "today"."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

DEFAULT_TODAY = date(2026, 11, 1)
QUARTERS_BACK = 6  # submissions start this many financial quarters before today's quarter
USAGE_MONTHS = 12


def financial_year(day: date) -> int:
    """The NHS financial year (1 April to 31 March) by its first calendar year: 2026 = 2026-27."""
    return day.year if day.month >= 4 else day.year - 1


def quarter_start(day: date) -> date:
    month = ((day.month - 4) % 12) // 3 * 3 + 4
    month = month - 12 if month > 12 else month
    return date(day.year if month <= day.month else day.year - 1, month, 1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(day: date) -> date:
    return add_months(day, 1) - timedelta(days=1)


def iso_time(moment: datetime) -> str:
    """UTC to the second with a Z: "2026-05-10T10:22:00Z" (isoformat is much faster than strftime)."""
    return moment.isoformat()[:19] + "Z"


def period(day: date) -> str:
    return day.isoformat()[:7]


@dataclass(frozen=True)
class Timeline:
    today: date

    @property
    def last_day(self) -> date:
        """Every event happens before today (the export runs at 02:00 today)."""
        return self.today - timedelta(days=1)

    @property
    def start(self) -> date:
        return add_months(quarter_start(self.today), -3 * QUARTERS_BACK)

    @property
    def exported_at(self) -> str:
        return f"{self.today.isoformat()}T02:00:00Z"

    @property
    def financial_years(self) -> list[int]:
        return list(range(financial_year(self.start), financial_year(self.last_day) + 1))

    def year_window(self, year: int) -> tuple[date, date]:
        """The part of a financial year in which demo events happen."""
        return max(date(year, 4, 1), self.start), min(date(year + 1, 3, 31), self.last_day)

    @property
    def usage_months(self) -> list[date]:
        """The last complete months (first days), oldest first."""
        this_month = self.today.replace(day=1)
        return [add_months(this_month, -back) for back in range(USAGE_MONTHS, 0, -1)]

    def working_day(self, rng: random.Random, first: date, last: date) -> date | None:
        """A random Monday-to-Friday in first..last, or None when there is none."""
        if last < first:
            return None
        span = (last - first).days
        for _ in range(8):
            day = first + timedelta(days=rng.randint(0, span))
            if day.weekday() < 5:
                return day
        days = [first + timedelta(days=i) for i in range(span + 1)]
        weekdays = [d for d in days if d.weekday() < 5]
        return rng.choice(weekdays) if weekdays else None


def at(day: date, rng: random.Random, earliest: time = time(8, 0), latest: time = time(18, 30)) -> datetime:
    """A time of the working day (UTC), to the minute."""
    lo = earliest.hour * 60 + earliest.minute
    hi = latest.hour * 60 + latest.minute
    minutes = rng.randint(lo, max(lo, hi))
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=timezone.utc)
