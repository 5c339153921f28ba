"""The search parameters we support: name, type and where each one's values sit in a resource.

Paths are dotted element names (arrays are walked through); `ext:<url>` steps into the extensions
with that url. They follow the expressions of the official R4 SearchParameters (copied into
`parameters/`), plus two of our own where R4 has none (conventions: `organization`, `purpose-of-use`).
"""
from __future__ import annotations

from dataclasses import dataclass

B = "https://fhir.dandthub.co.uk"
MEASURE_REPORT_SUBJECT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject"

TOKEN, STRING, DATE, REFERENCE, URI = "token", "string", "date", "reference", "uri"


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str
    paths: tuple[str, ...]
    definition: str  # canonical URL of the SearchParameter resource we serve
    targets: tuple[str, ...] = ()  # reference targets we resolve (chains, :Type)


def _hl7(id_: str) -> str:
    return f"http://hl7.org/fhir/SearchParameter/{id_}"


def _p(base: str, name: str, type_: str, *paths: str, targets: tuple[str, ...] = (), own: bool = False,
       definition_id: str | None = None) -> SearchParam:
    definition = f"{B}/SearchParameter/{base}-{name}" if own else _hl7(definition_id or f"{base}-{name}")
    return SearchParam(name, type_, tuple(paths), definition, targets)


ORG = ("Organization",)
COMMON = (
    _p("Resource", "_tag", TOKEN, "meta.tag", definition_id="Resource-tag"),
    _p("Resource", "_security", TOKEN, "meta.security", definition_id="Resource-security"),
    _p("Resource", "_profile", URI, "meta.profile", definition_id="Resource-profile"),
)
# `_id` and `_lastUpdated` are columns of the resource table, not index rows.
SPECIAL = {"_id": TOKEN, "_lastUpdated": DATE}

_CONFORMANCE = lambda t: (  # noqa: E731  the conformance parameters every canonical resource type has
    _p(t, "url", URI, "url", definition_id="conformance-url"),
    _p(t, "version", TOKEN, "version", definition_id="conformance-version"),
    _p(t, "name", STRING, "name", definition_id="conformance-name"),
    _p(t, "status", TOKEN, "status", definition_id="conformance-status"),
)

BY_TYPE: dict[str, tuple[SearchParam, ...]] = {
    "Organization": (
        _p("Organization", "identifier", TOKEN, "identifier"),
        _p("Organization", "name", STRING, "name", "alias"),
        _p("Organization", "type", TOKEN, "type"),
        _p("Organization", "active", TOKEN, "active"),
        _p("Organization", "partof", REFERENCE, "partOf", targets=ORG),
        _p("Organization", "address-postalcode", STRING, "address.postalCode"),
    ),
    "Questionnaire": (
        _p("Questionnaire", "url", URI, "url"),
        _p("Questionnaire", "version", TOKEN, "version"),
        _p("Questionnaire", "status", TOKEN, "status"),
        _p("Questionnaire", "name", STRING, "name"),
        _p("Questionnaire", "title", STRING, "title"),
        # R4's expression is item.code; our assessment kind and theme sit on Questionnaire.code.
        _p("Questionnaire", "code", TOKEN, "code", "item.code"),
        _p("Questionnaire", "context", TOKEN, "useContext.valueCodeableConcept"),
    ),
    "QuestionnaireResponse": (
        _p("QuestionnaireResponse", "questionnaire", REFERENCE, "questionnaire", targets=("Questionnaire",)),
        _p("QuestionnaireResponse", "subject", REFERENCE, "subject", targets=ORG),
        _p("QuestionnaireResponse", "status", TOKEN, "status"),
        _p("QuestionnaireResponse", "authored", DATE, "authored"),
        _p("QuestionnaireResponse", "identifier", TOKEN, "identifier"),
        _p("QuestionnaireResponse", "author", REFERENCE, "author", targets=ORG),
    ),
    "Task": (
        _p("Task", "status", TOKEN, "status"),
        _p("Task", "owner", REFERENCE, "owner", targets=ORG),
        _p("Task", "subject", REFERENCE, "for", targets=ORG),
        _p("Task", "focus", REFERENCE, "focus", targets=("QuestionnaireResponse",)),
        _p("Task", "priority", TOKEN, "priority"),
        _p("Task", "authored-on", DATE, "authoredOn"),
        _p("Task", "modified", DATE, "lastModified"),
        _p("Task", "period", DATE, "executionPeriod"),
        _p("Task", "identifier", TOKEN, "identifier"),
        _p("Task", "code", TOKEN, "code"),
        _p("Task", "business-status", TOKEN, "businessStatus"),
    ),
    "Consent": (
        _p("Consent", "status", TOKEN, "status"),
        _p("Consent", "actor", REFERENCE, "provision.actor.reference", targets=ORG),
        _p("Consent", "organization", REFERENCE, "organization", targets=ORG),
        _p("Consent", "purpose", TOKEN, "provision.purpose"),
        _p("Consent", "security-label", TOKEN, "provision.securityLabel"),
        _p("Consent", "period", DATE, "provision.period"),
        _p("Consent", "scope", TOKEN, "scope"),
        _p("Consent", "category", TOKEN, "category"),
    ),
    "Measure": (
        _p("Measure", "url", URI, "url"),
        _p("Measure", "name", STRING, "name"),
        _p("Measure", "status", TOKEN, "status"),
    ),
    "MeasureReport": (
        _p("MeasureReport", "measure", REFERENCE, "measure", targets=("Measure",)),
        _p("MeasureReport", "subject", REFERENCE, "subject"),
        _p("MeasureReport", "period", DATE, "period"),
        _p("MeasureReport", "status", TOKEN, "status"),
        # Stable identifiers of usage rows and pushed aggregates: `dthub push` updates by them.
        _p("MeasureReport", "identifier", TOKEN, "identifier"),
        _p("MeasureReport", "organization", REFERENCE, f"ext:{MEASURE_REPORT_SUBJECT}.valueReference",
           targets=ORG, own=True),
    ),
    "AuditEvent": (
        _p("AuditEvent", "date", DATE, "recorded"),
        _p("AuditEvent", "agent", REFERENCE, "agent.who", targets=ORG),
        _p("AuditEvent", "entity", REFERENCE, "entity.what"),
        _p("AuditEvent", "type", TOKEN, "type"),
        _p("AuditEvent", "subtype", TOKEN, "subtype"),
        _p("AuditEvent", "outcome", TOKEN, "outcome"),
        _p("AuditEvent", "purpose-of-use", TOKEN, "purposeOfEvent", "agent.purposeOfUse", own=True),
    ),
    "Provenance": (
        _p("Provenance", "target", REFERENCE, "target"),
        _p("Provenance", "agent", REFERENCE, "agent.who", targets=ORG),
        _p("Provenance", "recorded", DATE, "recorded"),
    ),
    "Subscription": (
        _p("Subscription", "status", TOKEN, "status"),
        _p("Subscription", "type", TOKEN, "channel.type"),
        _p("Subscription", "url", URI, "channel.endpoint"),
        _p("Subscription", "criteria", STRING, "criteria"),
        _p("Subscription", "payload", TOKEN, "channel.payload"),
    ),
    **{t: _CONFORMANCE(t) for t in ("CodeSystem", "ValueSet", "StructureDefinition", "OperationDefinition",
                                    "SearchParameter")},
}


def params_for(resource_type: str) -> dict[str, SearchParam]:
    return {p.name: p for p in (*COMMON, *BY_TYPE.get(resource_type, ()))}


def reference_params(resource_type: str) -> dict[str, SearchParam]:
    return {n: p for n, p in params_for(resource_type).items() if p.type == REFERENCE}
