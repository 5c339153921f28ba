"""OperationOutcome values, the one error type that carries them, and status mapping.

Every layer raises `OperationOutcomeError`; only the HTTP edge turns it into a response.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable


@dataclass(frozen=True)
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # http://hl7.org/fhir/issue-type
    diagnostics: str | None = None
    expression: tuple[str, ...] = ()
    details_text: str | None = None

    def to_fhir(self) -> dict:
        out: dict = {"severity": self.severity, "code": self.code}
        if self.details_text:
            out["details"] = {"text": self.details_text}
        if self.diagnostics:
            out["diagnostics"] = self.diagnostics
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: Iterable[Issue], id_: str | None = None) -> dict:
    body: dict = {"resourceType": "OperationOutcome"}
    if id_:
        body["id"] = id_
    body["issue"] = [i.to_fhir() for i in issues] or [
        {"severity": "information", "code": "informational", "diagnostics": "All OK"}
    ]
    return body


@dataclass
class OperationOutcomeError(Exception):
    """An error that is an OperationOutcome with an HTTP status."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.status, "; ".join(i.diagnostics or i.code for i in self.issues))

    def outcome(self, id_: str | None = None) -> dict:
        return operation_outcome(self.issues, id_)


def error(status: int, code: str, diagnostics: str, *, expression: Iterable[str] = (),
          severity: str = "error", headers: dict[str, str] | None = None) -> OperationOutcomeError:
    """Build (not raise) an error: `raise error(404, "not-found", "...")`."""
    return OperationOutcomeError(
        status, [Issue(severity, code, diagnostics, tuple(expression))], dict(headers or {})
    )


def invalid(issues: list[Issue], status: int = 422) -> OperationOutcomeError:
    return OperationOutcomeError(status, issues)


def not_found(resource_type: str, id_: str) -> OperationOutcomeError:
    # One wording for "missing" and "may not see": the policy issue relies on them being identical.
    return error(404, "not-found", f"Resource {resource_type}/{id_} is not known")


def gone(resource_type: str, id_: str, version: int) -> OperationOutcomeError:
    return error(410, "deleted", f"Resource {resource_type}/{id_} was deleted (version {version})")
