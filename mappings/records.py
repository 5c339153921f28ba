"""One export line -> its outcome: the FHIR resource to store, or why the record is rejected.

`process_line` is the importer's unit of work; it is pure apart from the read-only lookup, so
it can run in worker processes. Steps: JSON -> unknown fields (warnings) -> schema -> the
spec's rules (with the lookup) -> mapping -> FHIR validation (`validate`, returns Issues).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import orjson

from .kinds import ORGANISATION_PASSES, FileKind
from .schemas import SCHEMAS, load_record, unknown_fields
from .types import Lookup, Problem

Validate = Callable[[dict], list]  # resource -> [adapter.outcomes.Issue-like: severity, diagnostics, expression]


@dataclass
class Outcome:
    line: int
    key: str | None = None
    resource_id: str | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    resource: dict | None = None
    practice: str | None = None  # the practice an action counts for (per-practice summaries)
    unchanged: bool = False  # the store already holds exactly `resource`: nothing to validate or write
    skipped: bool = False  # not this pass's record (organisations are read in passes by kind)


def _issue_problem(issue, prefix: str) -> Problem:
    where = ", ".join(getattr(issue, "expression", ()) or ()) or "(resource)"
    return where, f"{prefix}: {getattr(issue, 'diagnostics', None) or getattr(issue, 'code', 'invalid')}"


def _resource_id(file_kind: FileKind, data: dict) -> str | None:
    """The id a (maybe invalid) record would have: so `mode: full` does not retire what the
    package holds, even when this version of it is rejected."""
    try:
        return str(file_kind.resource_id(data))
    except (KeyError, TypeError):
        return None


def pass_of(data: dict) -> str:
    """Which organisation pass reads a raw record; anything odd goes with the last one."""
    kind = data.get("kind")
    return kind if kind in ORGANISATION_PASSES else ORGANISATION_PASSES[-1]


def process_line(file_kind: FileKind, line: int, raw: bytes, *, lookup: Lookup, source: str,
                 validate: Validate, organisation_pass: str | None = None,
                 holds: Callable[[dict], bool] | None = None) -> Outcome:
    """`holds(resource)` (optional) says whether the store already holds exactly that content:
    then it was validated when it was stored, and nothing will be written, so validation (the
    costly step) is skipped."""
    outcome = Outcome(line)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if organisation_pass not in (None, ORGANISATION_PASSES[-1]):
            return Outcome(line, skipped=True)
        outcome.problems.append(("(line)", f"not a JSON object on one UTF-8 line: {exc}"))
        return outcome
    if not isinstance(data, dict):
        if organisation_pass not in (None, ORGANISATION_PASSES[-1]):
            return Outcome(line, skipped=True)
        outcome.problems.append(("(line)", "not a JSON object"))
        return outcome
    if organisation_pass is not None and pass_of(data) != organisation_pass:
        return Outcome(line, skipped=True)
    outcome.key = file_kind.key(data)
    outcome.resource_id = _resource_id(file_kind, data)
    outcome.warnings = [(path, "unknown field, ignored") for path in unknown_fields(SCHEMAS[file_kind.kind], data)]
    record, outcome.problems = load_record(file_kind.kind, data)
    if record is None:
        return outcome
    outcome.problems = file_kind.check(record, lookup)
    if outcome.problems:
        return outcome
    resource = file_kind.to_fhir(record, source, lookup)
    if file_kind.kind == "action":
        outcome.practice = record["practice"]
    if holds is not None and holds(resource):
        outcome.resource, outcome.unchanged = resource, True
        return outcome
    for issue in validate(resource):
        if issue.severity in ("error", "fatal"):
            outcome.problems.append(_issue_problem(issue, "invalid FHIR"))
        elif issue.severity == "warning":
            outcome.warnings.append(_issue_problem(issue, "FHIR warning"))
    if outcome.problems:
        outcome.practice = None
        return outcome
    outcome.resource = resource
    return outcome
