"""ETags, instants and the conditional headers of FHIR R4 (http.html#concurrency)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

from ..outcomes import error

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d+)"?\s*$')


def etag(version_id: int) -> str:
    return f'W/"{version_id}"'


def parse_etag(value: str, header: str) -> int:
    match = _ETAG.match(value or "")
    if not match:
        raise error(400, "invalid", f'{header} must be a version ETag such as W/"3", got {value!r}')
    return int(match.group(1))


def etag_matches(header: str | None, version_id: int) -> bool:
    if not header:
        return False
    for part in header.split(","):
        part = part.strip()
        if part == "*":
            return True
        match = _ETAG.match(part)
        if match and int(match.group(1)) == version_id:
            return True
    return False


def http_date(instant: str) -> str:
    return format_datetime(parse_instant(instant), usegmt=True)


def parse_instant(value: str) -> datetime:
    text = value.strip()
    if len(text) == 10:  # a bare date: the start of that day, UTC
        text += "T00:00:00+00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise error(400, "invalid", f"{value!r} is not a FHIR instant (e.g. 2026-05-10T10:22:00Z)") from None
    if moment.tzinfo is None:
        raise error(400, "invalid", f"{value!r} needs a time zone (e.g. Z or +01:00)")
    return moment.astimezone(timezone.utc)


def stored_instant(value: str) -> str:
    """The instant in the store's sortable text form."""
    moment = parse_instant(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def not_modified_since(header: str | None, instant: str) -> bool:
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    return parse_instant(instant).replace(microsecond=0) <= since
