"""Normalised search values: accent- and case-folded strings, FHIR dates as instant ranges."""
from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import datetime, timedelta, timezone

MIN_INSTANT = "0001-01-01T00:00:00.000Z"
MAX_INSTANT = "9999-12-31T23:59:59.999Z"

_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?$")


def fold(text: str) -> str:
    """Case- and accent-insensitive form (R4 string search)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _fmt(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def date_range(value: str) -> tuple[str, str] | None:
    """The instants a FHIR date, dateTime or instant of any precision covers, or None if malformed."""
    match = _DATE.match(value.strip()) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = timezone.utc
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        y = int(year)
        if month is None:
            start, end = datetime(y, 1, 1, tzinfo=tz), datetime(y + 1, 1, 1, tzinfo=tz)
        elif day is None:
            m = int(month)
            start = datetime(y, m, 1, tzinfo=tz)
            end = start + timedelta(days=calendar.monthrange(y, m)[1])
        elif hour is None:
            start = datetime(y, int(month), int(day), tzinfo=tz)
            end = start + timedelta(days=1)
        elif second is None:
            start = datetime(y, int(month), int(day), int(hour), int(minute), tzinfo=tz)
            end = start + timedelta(minutes=1)
        else:
            micro = int((fraction or ".0")[1:7].ljust(6, "0"))
            start = datetime(y, int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz)
            end = start + (timedelta(milliseconds=1) if fraction else timedelta(seconds=1))
    except ValueError:
        return None
    return _fmt(start), _fmt(end - timedelta(milliseconds=1))


def period_range(period: dict) -> tuple[str, str] | None:
    start = date_range(period["start"]) if period.get("start") else None
    end = date_range(period["end"]) if period.get("end") else None
    if start is None and end is None:
        return None
    return (start[0] if start else MIN_INSTANT, end[1] if end else MAX_INSTANT)
