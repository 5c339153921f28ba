"""Checks of raw JSON primitive values against the R4 rules.

Each checker takes the value exactly as it came out of the JSON parser and returns None or
(severity, issue code, message). The R4B models coerce ("5" -> 5, 1 -> True, dates without a
zone), so these run on the raw value: R4 JSON demands the JSON type itself be right.
"""
from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Callable

Problem = tuple[str, str, str]
Checker = Callable[[object], "Problem | None"]

MAX_STRING = 1024 * 1024
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# Characters below U+0020 other than TAB, LF, CR: "SHOULD not" appear in R4 strings.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_STRING_BASED = {"string", "code", "id", "markdown", "uri", "url", "canonical", "oid", "uuid",
                 "date", "dateTime", "instant", "time", "xhtml"}


def _wrong_type(expected: str, value: object) -> Problem:
    return ("error", "invalid", f"must be a JSON {expected}, not {_json_type(value)}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _valid_day(value: str) -> bool:
    # The R4 regexes accept 2021-02-31; "Dates SHALL be valid dates".
    if len(value) < 10:
        return True
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= _DAYS[month - 1]


def _boolean(value: object) -> Problem | None:
    return None if value is True or value is False else _wrong_type("boolean", value)


def _integer_checker(minimum: int) -> Checker:
    def check(value: object) -> Problem | None:
        if type(value) is not int:
            if type(value) is float or type(value) is Decimal:
                return ("error", "value", f"{value} is not an integer")
            return _wrong_type("number", value)
        if value < minimum or value > INT32_MAX:
            return ("error", "value", f"{value} is outside the range {minimum}..{INT32_MAX}")
        return None
    return check


def _decimal(value: object) -> Problem | None:
    if type(value) is int or type(value) is Decimal:
        return None
    if type(value) is float:
        return None if math.isfinite(value) else ("error", "value", "decimal must be finite")
    return _wrong_type("number", value)


def _string_checker(name: str, regex: str | None) -> Checker:
    # string/markdown's regex `[ \r\n\t\S]+` only excludes VT and FF, which the control
    # character scan below finds anyway: skipping the regex keeps long texts cheap.
    free_text = regex == r"[ \r\n\t\S]+"
    pattern = re.compile(regex, re.ASCII).fullmatch if regex and not free_text else None
    dated = name in ("date", "dateTime", "instant")
    limited = name != "xhtml"

    def check(value: object) -> Problem | None:
        if type(value) is not str:
            return _wrong_type("string", value)
        if not value:
            return ("error", "invalid", "empty string is not allowed in FHIR JSON")
        if pattern is not None and pattern(value) is None:
            return ("error", "value", f"{_show(value)} is not a valid {name}")
        if value.isspace():
            return ("error", "value", "value must contain non-whitespace characters")
        if limited and len(value) > MAX_STRING:
            return ("error", "value", f"{name} longer than 1 MB")
        if dated and not _valid_day(value):
            return ("error", "value", f"{_show(value)} is not a valid date")
        if _CONTROL.search(value):
            if free_text and ("\x0b" in value or "\x0c" in value):
                return ("error", "value", f"{name} contains vertical tab or form feed")
            return ("warning", "value", f"{name} contains control characters")
        return None
    return check


_B64 = re.compile(r"[A-Za-z0-9+/=]+").fullmatch
_WS = re.compile(r"\s+", re.ASCII)


def _base64(value: object) -> Problem | None:
    # Same language as the R4 regex (groups of 4 of [A-Za-z0-9+/=]), without its backtracking.
    if type(value) is not str:
        return _wrong_type("string", value)
    if not value:
        return ("error", "invalid", "empty string is not allowed in FHIR JSON")
    compact = _WS.sub("", value) if not _B64(value) else value
    if not compact or len(compact) % 4 or _B64(compact) is None:
        return ("error", "value", "not valid base64")
    return None


def _show(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:77] + "...")


def build_checkers(regexes: dict[str, str | None]) -> dict[str, Checker]:
    """One checker per R4 primitive type, from the regexes of the primitive definitions."""
    checkers: dict[str, Checker] = {
        "boolean": _boolean,
        "integer": _integer_checker(INT32_MIN),
        "unsignedInt": _integer_checker(0),
        "positiveInt": _integer_checker(1),
        "decimal": _decimal,
        "base64Binary": _base64,
    }
    for name, regex in regexes.items():
        if name not in checkers:
            if name not in _STRING_BASED:
                raise ValueError(f"no checker for primitive type {name}")
            checkers[name] = _string_checker(name, regex)
    return checkers
