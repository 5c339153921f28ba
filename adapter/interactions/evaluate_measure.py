"""`GET /fhir/Measure/{id}/$evaluate-measure` (fhir-conventions.md "Aggregates", "Operations").

Inputs: `subject=Organization/<ods>` (an ICB, a PCN or a federation; the bare ODS code is taken
too), `periodStart`, `periodEnd` (dates), and `icb` (the cell of a PCN that spans ICBs). The
decision is `adapter.aggregates` (which returns a refusal or a report); this turns a refusal into
its OperationOutcome and records, for the audit trail, whose aggregate was served.
"""
from __future__ import annotations

from ..aggregates import Period
from ..outcomes import error
from ..policy import refrains_reuse
from .context import Context
from .operations import operation_parameters
from .request import FhirRequest, FhirResponse


def _subject(value) -> str:
    text = value if isinstance(value, str) else (value or {}).get("reference") if isinstance(value, dict) else None
    if not text:
        raise error(400, "required", "$evaluate-measure needs `subject=Organization/<ODS code>`")
    if "/" in text:
        type_, _, ods = text.partition("/")
        if type_ != "Organization" or not ods or "/" in ods:
            raise error(400, "invalid", f"subject must be an Organization (Organization/<ODS code>), not {text!r}")
        return ods
    return text


def evaluate_measure(ctx: Context, req: FhirRequest) -> FhirResponse:
    inputs = operation_parameters(req)
    if inputs.get("reportType", "population") not in ("population", "summary"):
        raise error(400, "not-supported", "only reportType=population is supported (an Organization subject)")
    subject = _subject(inputs.get("subject"))
    try:
        period = Period.parse(inputs.get("periodStart"), inputs.get("periodEnd"))
    except ValueError as exc:
        raise error(400, "invalid", str(exc)) from None
    grants = ctx.policy.for_caller(req.principal).grants
    outcome = ctx.aggregates.evaluate(grants, req.id, subject, period, inputs.get("icb") or None,
                                      no_reuse=refrains_reuse(req.principal))
    if outcome.refusal is not None:
        refusal = outcome.refusal
        raise error(refusal.status, refusal.code, refusal.text)
    if req.gate is not None:  # the audit trail: whose aggregate, and the Consents that granted it
        req.gate.record_served(f"Measure/{req.id}", subject, outcome.verdict.sources)
    return FhirResponse(200, outcome.report)
