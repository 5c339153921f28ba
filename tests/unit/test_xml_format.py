"""FHIR R4 XML format: JSON <-> XML conversion, conformance to the official R4 XSD, safety.

The XSD checks need the official R4 artefacts in `<shared>/fhir-r4` (shared = $DTHUB_SHARED_DIR,
else the `shared` folder next to the project). Without them these checks are skipped, except
when CI=true, where they must run.
"""
from __future__ import annotations

import copy
import json
import os
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from adapter.formats.xml import parse_xml, to_xml
from adapter.outcomes import OperationOutcomeError

SHARED = Path(os.environ.get("DTHUB_SHARED_DIR") or Path(__file__).resolve().parents[3] / "shared")
R4_DIR = SHARED / "fhir-r4"
TABLE = Path(__file__).resolve().parents[2] / "adapter" / "formats" / "r4-elements.json"

BASE = "https://dthub.example.org/fhir"
DIV = '<div xmlns="http://www.w3.org/1999/xhtml">'


def need_r4() -> Path:
    if R4_DIR.is_dir():
        return R4_DIR
    if os.environ.get("CI") == "true":
        pytest.fail(f"{R4_DIR} is missing but CI=true: the R4 conformance checks must run")
    pytest.skip(f"official R4 artefacts not found at {R4_DIR} (set DTHUB_SHARED_DIR)")


@cache
def _xsd() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(R4_DIR / "xsd" / "fhir-single.xsd")))


def assert_valid_r4_xml(xml: bytes) -> None:
    need_r4()
    schema = _xsd()
    doc = etree.fromstring(xml)
    assert schema.validate(doc), "\n".join(str(e) for e in schema.error_log)


def refused(call, *args, code: str = "structure") -> str:
    with pytest.raises(OperationOutcomeError) as caught:
        call(*args)
    assert caught.value.status == 400
    issue = caught.value.issues[0]
    assert issue.code == code
    return issue.diagnostics or ""


# ---------------------------------------------------------------- realistic resources

def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None) -> dict:
    return {"coding": [coding(system, code, display)]}


ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
LOINC = "http://loinc.org"
POP = "http://terminology.hl7.org/CodeSystem/measure-population"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"

ORGANIZATION = {
    "resourceType": "Organization",
    "id": "org-1",
    "meta": {
        "versionId": "3",
        "lastUpdated": "2024-02-29T23:59:59.999+00:00",
        "source": "urn:dthub:import",
        "profile": [f"{BASE}/StructureDefinition/dthub-organization",
                    "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization"],
        "security": [coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R")],
        "tag": [coding(f"{BASE}/tags", "imported", "Imported from ODS")],
    },
    "text": {
        "status": "generated",
        "div": DIV + '<h1>Example NHS Trust</h1><p class="addr">1 High Street, <b>Leeds</b> '
                     "&amp; district</p><ul><li>ODS: RX1</li><li>Part of QWO</li></ul></div>",
    },
    "extension": [{
        "url": f"{BASE}/StructureDefinition/commissioner",
        "valueReference": {"reference": "Organization/org-icb", "display": "West Yorkshire ICB"},
    }],
    "identifier": [{"use": "official", "system": ODS, "value": "RX1"}],
    "active": True,
    "type": [concept("http://terminology.hl7.org/CodeSystem/organization-type", "prov",
                     "Healthcare Provider")],
    "name": "Example NHS Trust",
    "alias": ["EXT", "Example Trust"],
    "telecom": [{"system": "phone", "value": "0300 123 4567", "use": "work", "rank": 1}],
    "address": [{"use": "work", "line": ["1 High Street", "Floor 2"], "city": "Leeds",
                 "postalCode": "LS1 4AP", "country": "GB"}],
    "partOf": {"identifier": {"system": ODS, "value": "QWO"}, "display": "West Yorkshire ICB"},
}

QUESTIONNAIRE = {
    "resourceType": "Questionnaire",
    "id": "wellbeing",
    "url": f"{BASE}/Questionnaire/wellbeing",
    "version": "2.1.0",
    "name": "Wellbeing",
    "title": "Wellbeing check",
    "status": "active",
    "subjectType": ["Patient"],
    "date": "2024-03-01",
    "item": [{
        "linkId": "g1",
        "text": "About you",
        "type": "group",
        "required": True,
        "item": [
            {
                "linkId": "g1.1",
                "text": "Daily life",
                "type": "group",
                "item": [
                    {"linkId": "g1.1.1", "text": "Do you smoke?", "type": "boolean",
                     "required": True},
                    {"linkId": "g1.1.2", "text": "How many a day?", "type": "integer",
                     "required": False,
                     "enableWhen": [{"question": "g1.1.1", "operator": "=",
                                     "answerBoolean": True}]},
                ],
            },
            {
                "linkId": "g1.2",
                "text": "Little interest or pleasure in doing things?",
                "type": "choice",
                "answerOption": [
                    {"valueCoding": {"extension": [{"url": ORDINAL, "valueDecimal": 0}],
                                     **coding(LOINC, "LA6568-5", "Not at all")}},
                    {"valueCoding": {"extension": [{"url": ORDINAL, "valueDecimal": 1.5}],
                                     **coding(LOINC, "LA6569-3", "Several days")},
                     "initialSelected": True},
                ],
            },
            {"linkId": "g1.3", "text": "Weight (kg)", "type": "decimal", "maxLength": 6},
        ],
    }],
}

PRACTITIONER = {
    "resourceType": "Practitioner",
    "id": "author",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "123456789012"}],
    "active": True,
    "name": [{"use": "official", "family": "Okafor", "given": ["Ada", "Ngozi"], "prefix": ["Dr"]}],
    "gender": "female",
    "qualification": [{"code": {"text": "MBBS"}, "period": {"start": "2009-07-01"}}],
}

PRACTITIONER_ROLE = {
    "resourceType": "PractitionerRole",
    "id": "author-role",
    "active": True,
    "practitioner": {"reference": "#author"},
    "organization": {"reference": "Organization/org-1"},
    "code": [concept("http://snomed.info/sct", "309343006", "Physician")],
    "availableTime": [{"daysOfWeek": ["mon", "tue"], "availableStartTime": "09:00:00"}],
}

QUESTIONNAIRE_RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "id": "qr-1",
    "meta": {"versionId": "1", "lastUpdated": "2024-03-02T10:15:01Z"},
    "text": {"status": "generated",
             "div": DIV + "<p>Answers by <i>Dr Okafor</i> &amp; patient</p></div>"},
    "contained": [PRACTITIONER, PRACTITIONER_ROLE],
    "extension": [{
        "url": f"{BASE}/StructureDefinition/wellbeing-score",
        "extension": [
            {"url": "total", "valueDecimal": 12.5},
            {"url": "weight", "valueDecimal": 4},
            {"url": "band", "valueCode": "moderate"},
        ],
    }],
    "identifier": {"system": f"{BASE}/responses", "value": "r-0001"},
    "questionnaire": f"{BASE}/Questionnaire/wellbeing|2.1.0",
    "status": "completed",
    "subject": {"reference": "Patient/p1"},
    "authored": "2024-03-02T10:15:00+00:00",
    "_authored": {"extension": [{
        "url": f"{BASE}/StructureDefinition/clock-source", "valueCode": "device"}]},
    "author": {"reference": "#author-role"},
    "item": [{
        "linkId": "g1",
        "text": "About you",
        "item": [
            {"linkId": "g1.1", "item": [
                {"linkId": "g1.1.1", "answer": [{"valueBoolean": True}]},
                {"linkId": "g1.1.2", "answer": [{"valueInteger": 10}]},
            ]},
            {"linkId": "g1.2",
             "answer": [{"valueCoding": coding(LOINC, "LA6569-3", "Several days")}]},
            {"linkId": "g1.3", "answer": [{"valueDecimal": 72.5}]},
            {"linkId": "g1.4", "answer": [{
                "valueString": "Sleeps badly <since> \"February\"\nand wakes early",
                "item": [{"linkId": "g1.4.1", "answer": [{"valueDate": "2024-02-20"}]}],
            }]},
        ],
    }],
}

TASK = {
    "resourceType": "Task",
    "id": "task-1",
    "status": "in-progress",
    "businessStatus": {"text": "Awaiting clinical review"},
    "intent": "order",
    "priority": "urgent",
    "code": concept("http://hl7.org/fhir/CodeSystem/task-code", "fulfill"),
    "focus": {"reference": "QuestionnaireResponse/qr-1"},
    "for": {"reference": "Patient/p1"},
    "executionPeriod": {"start": "2024-03-01T09:00:00Z", "end": "2024-03-08T17:00:00Z"},
    "authoredOn": "2024-03-01T09:00:00Z",
    "lastModified": "2024-03-02T11:00:00+01:00",
    "owner": {"reference": "Organization/org-1"},
    "reasonReference": {
        "extension": [{"url": f"{BASE}/StructureDefinition/reason-rank", "valueInteger": 1}],
        "reference": "QuestionnaireResponse/qr-1",
    },
    "note": [{"authorString": "Triage nurse", "time": "2024-03-01T09:05:00Z",
              "text": "Call *before* visiting"}],
    "restriction": {"repetitions": 1, "period": {"end": "2024-03-31"},
                    "recipient": [{"reference": "Organization/org-1"}]},
    "output": [
        {"type": {"text": "Weight"},
         "valueQuantity": {"value": 72.4, "unit": "kg", "system": "http://unitsofmeasure.org",
                           "code": "kg"}},
        {"type": {"text": "Reviewed"}, "valueBoolean": False},
    ],
}

CONSENT = {
    "resourceType": "Consent",
    "id": "consent-1",
    "status": "active",
    "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
    "category": [concept(LOINC, "59284-0", "Patient Consent")],
    "patient": {"reference": "Patient/p1"},
    "dateTime": "2024-01-15T12:00:00Z",
    "organization": [{"reference": "Organization/org-1"}],
    "sourceReference": {"reference": "DocumentReference/signed-form"},
    "policyRule": concept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTIN"),
    "provision": {
        "type": "permit",
        "period": {"start": "2024-01-15", "end": "2025-01-15"},
        "actor": [{
            "role": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PRCP"),
            "reference": {"reference": "Organization/org-2"},
        }],
        "action": [concept("http://terminology.hl7.org/CodeSystem/consentaction", "access")],
        "securityLabel": [coding("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "N")],
        "purpose": [coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT")],
        "data": [{"meaning": "related", "reference": {"reference": "QuestionnaireResponse/qr-1"}}],
        "provision": [{
            "type": "deny",
            "class": [coding("http://hl7.org/fhir/resource-types", "AuditEvent")],
            "provision": [{"type": "permit", "code": [{"text": "own audit trail"}]}],
        }],
    },
}

MEASURE = {
    "resourceType": "Measure",
    "id": "screening",
    "url": f"{BASE}/Measure/screening",
    "name": "WellbeingScreening",
    "status": "active",
    "experimental": False,
    "subjectCodeableConcept": concept("http://hl7.org/fhir/resource-types", "Patient"),
    "library": [f"{BASE}/Library/screening"],
    "scoring": concept("http://terminology.hl7.org/CodeSystem/measure-scoring", "proportion"),
    "improvementNotation": concept(
        "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "increase"),
    "group": [{
        "population": [
            {"code": concept(POP, "initial-population"),
             "criteria": {"language": "text/cql", "expression": "Initial Population"}},
            {"code": concept(POP, "numerator"),
             "criteria": {"language": "text/cql", "expression": "Numerator"}},
        ],
        "stratifier": [{"code": {"text": "Age band"},
                        "criteria": {"language": "text/cql", "expression": "Age Band"}}],
    }],
    "supplementalData": [{"code": {"text": "sex"}, "usage": [{"text": "supplemental-data"}],
                          "criteria": {"language": "text/cql", "expression": "Sex"}}],
}

MEASURE_REPORT = {
    "resourceType": "MeasureReport",
    "id": "screening-2024q1",
    "status": "complete",
    "type": "summary",
    "measure": f"{BASE}/Measure/screening",
    "date": "2024-04-02T08:00:00Z",
    "reporter": {"reference": "Organization/org-1"},
    "period": {"start": "2024-01-01", "end": "2024-03-31"},
    "group": [{
        "population": [{"code": concept(POP, "initial-population"), "count": 120},
                       {"code": concept(POP, "numerator"), "count": 80}],
        "measureScore": {"value": 0.6667},
        "stratifier": [{
            "code": [{"text": "Age band"}],
            "stratum": [
                {"value": {"text": "18-39"},
                 "population": [{"code": concept(POP, "initial-population"), "count": 50}],
                 "measureScore": {"value": 0.7}},
                {"value": {"text": "40+"},
                 "population": [{"code": concept(POP, "initial-population"), "count": 0}],
                 "measureScore": {"extension": [{
                     "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                     "valueCode": "not-applicable"}]}},
            ],
        }],
    }],
}

AUDIT_EVENT = {
    "resourceType": "AuditEvent",
    "id": "ae-1",
    "type": coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest",
                   "RESTful Operation"),
    "subtype": [coding("http://hl7.org/fhir/restful-interaction", "read")],
    "action": "R",
    "recorded": "2024-03-02T10:16:00.123Z",
    "outcome": "0",
    "agent": [{
        "type": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"),
        "who": {"identifier": {"system": f"{BASE}/clients", "value": "client-42"}},
        "requestor": True,
        "network": {"address": "10.0.0.5", "type": "2"},
    }],
    "source": {"site": "dthub", "observer": {"display": "D&T Hub FHIR adapter"},
               "type": [coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4")]},
    "entity": [{
        "what": {"reference": "QuestionnaireResponse/qr-1/_history/1"},
        "type": coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2"),
        "query": "c3RhdHVzPWNvbXBsZXRlZA==",
        "detail": [{"type": "requestId", "valueString": "7f1c"},
                   {"type": "raw", "valueBase64Binary": "aGVsbG8="}],
    }],
}

PROVENANCE = {
    "resourceType": "Provenance",
    "id": "prov-1",
    "target": [{"reference": "QuestionnaireResponse/qr-1/_history/1"}],
    "occurredDateTime": "2024-03-02T10:15:00Z",
    "recorded": "2024-03-02T10:15:01.5+00:00",
    "policy": [f"{BASE}/policy/retention"],
    "activity": concept("http://terminology.hl7.org/CodeSystem/v3-DataOperation", "CREATE"),
    "agent": [{"type": concept("http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                               "author"),
               "who": {"reference": "Practitioner/pr1"},
               "onBehalfOf": {"reference": "Organization/org-1"}}],
    "entity": [{"role": "source", "what": {"reference": "DocumentReference/d1"},
                "agent": [{"who": {"reference": "Device/scanner-1"}}]}],
    "signature": [{"type": [coding("urn:iso-astm:E1762-95:2013", "1.2.840.10065.1.12.1.1")],
                   "when": "2024-03-02T10:15:01Z", "who": {"reference": "Practitioner/pr1"},
                   "sigFormat": "application/signature+xml", "data": "dGhpcyBibG9i"}],
}

CODE_SYSTEM = {
    "resourceType": "CodeSystem",
    "id": "bands",
    "url": f"{BASE}/CodeSystem/bands",
    "version": "1",
    "name": "WellbeingBands",
    "status": "active",
    "caseSensitive": True,
    "hierarchyMeaning": "is-a",
    "content": "complete",
    "count": 4,
    "property": [{"code": "weight", "type": "decimal"}],
    "concept": [
        {"code": "low", "display": "Low", "property": [{"code": "weight", "valueDecimal": 0.25}],
         "concept": [{"code": "low-a", "display": "Low A",
                      "designation": [{"language": "de", "value": "Niedrig A"}],
                      "concept": [{"code": "low-a-1", "display": "Low A one"}]}]},
        {"code": "high", "display": "High"},
    ],
}

VALUE_SET = {
    "resourceType": "ValueSet",
    "id": "bands",
    "url": f"{BASE}/ValueSet/bands",
    "status": "active",
    "compose": {
        "inactive": False,
        "include": [
            {"system": f"{BASE}/CodeSystem/bands",
             "concept": [{"code": "low", "display": "Low"}, {"code": "high"}]},
            {"system": LOINC, "filter": [{"property": "SCALE_TYP", "op": "=", "value": "Ord"}]},
        ],
        "exclude": [{"system": f"{BASE}/CodeSystem/bands", "concept": [{"code": "low-a-1"}]}],
    },
    "expansion": {
        "identifier": "urn:uuid:1d5b36a2-5d3c-4a38-8d1c-4e1f2a0c9b7e",
        "timestamp": "2024-03-01T00:00:00Z",
        "total": 2,
        "offset": 0,
        "parameter": [{"name": "count", "valueInteger": 2},
                      {"name": "activeOnly", "valueBoolean": True}],
        "contains": [
            {"system": f"{BASE}/CodeSystem/bands", "code": "low", "display": "Low",
             "contains": [{"system": f"{BASE}/CodeSystem/bands", "code": "low-a"}]},
            {"system": f"{BASE}/CodeSystem/bands", "code": "high", "display": "High"},
        ],
    },
}

STRUCTURE_DEFINITION = {
    "resourceType": "StructureDefinition",
    "id": "dthub-task",
    "url": f"{BASE}/StructureDefinition/dthub-task",
    "name": "DthubTask",
    "status": "active",
    "fhirVersion": "4.0.1",
    "kind": "resource",
    "abstract": False,
    "type": "Task",
    "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Task",
    "derivation": "constraint",
    "differential": {"element": [
        {"id": "Task", "path": "Task"},
        {"id": "Task.businessStatus", "path": "Task.businessStatus", "min": 1,
         "binding": {"strength": "required", "valueSet": f"{BASE}/ValueSet/bands"}},
        {"id": "Task.intent", "path": "Task.intent", "fixedCode": "order"},
        {"id": "Task.priority", "path": "Task.priority", "patternCode": "routine",
         "mustSupport": True},
        {"id": "Task.output", "path": "Task.output", "max": "1",
         "type": [{"code": "BackboneElement"}]},
    ]},
}

OPERATION_DEFINITION = {
    "resourceType": "OperationDefinition",
    "id": "score",
    "url": f"{BASE}/OperationDefinition/score",
    "name": "Score",
    "status": "active",
    "kind": "operation",
    "code": "score",
    "resource": ["QuestionnaireResponse"],
    "system": False,
    "type": False,
    "instance": True,
    "parameter": [
        {"name": "return", "use": "out", "min": 1, "max": "1", "type": "Parameters"},
        {"name": "detail", "use": "in", "min": 0, "max": "*", "part": [
            {"name": "code", "use": "in", "min": 1, "max": "1", "type": "code",
             "binding": {"strength": "required", "valueSet": f"{BASE}/ValueSet/bands"}},
        ]},
    ],
}

SEARCH_PARAMETER = {
    "resourceType": "SearchParameter",
    "id": "task-business-status",
    "url": f"{BASE}/SearchParameter/task-business-status",
    "name": "business-status",
    "status": "active",
    "description": "Search Tasks by their business status",
    "code": "business-status",
    "base": ["Task"],
    "type": "token",
    "expression": "Task.businessStatus",
    "xpath": "f:Task/f:businessStatus",
    "xpathUsage": "normal",
    "multipleOr": True,
    "modifier": ["text", "not"],
}

CAPABILITY_STATEMENT = {
    "resourceType": "CapabilityStatement",
    "id": "dthub",
    "status": "active",
    "date": "2024-03-01",
    "kind": "instance",
    "software": {"name": "D&T Hub FHIR adapter", "version": "0.1.0"},
    "implementation": {"description": "D&T Hub", "url": BASE},
    "fhirVersion": "4.0.1",
    "format": ["json", "xml"],
    "rest": [{
        "mode": "server",
        "security": {"cors": True, "service": [concept(
            "http://terminology.hl7.org/CodeSystem/restful-security-service", "SMART-on-FHIR")]},
        "resource": [{
            "type": "QuestionnaireResponse",
            "profile": "http://hl7.org/fhir/StructureDefinition/QuestionnaireResponse",
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "versioning": "versioned",
            "readHistory": True,
            "searchParam": [{"name": "status", "type": "token",
                             "definition": "http://hl7.org/fhir/SearchParameter/"
                                           "QuestionnaireResponse-status"}],
            "operation": [{"name": "score", "definition": f"{BASE}/OperationDefinition/score"}],
        }],
        "interaction": [{"code": "transaction"}],
        "searchParam": [{"name": "_lastUpdated", "type": "date"}],
    }],
}

OPERATION_OUTCOME = {
    "resourceType": "OperationOutcome",
    "issue": [
        {"severity": "error", "code": "structure", "details": {"text": "Unknown element"},
         "diagnostics": "Unknown element 'Patient.foo'", "expression": ["Patient.foo"]},
        {"severity": "information", "code": "informational", "diagnostics": "All OK"},
    ],
}

SEARCH_BUNDLE = {
    "resourceType": "Bundle",
    "id": "search-1",
    "meta": {"lastUpdated": "2024-03-02T12:00:00Z"},
    "type": "searchset",
    "total": 1,
    "link": [{"relation": "self", "url": f"{BASE}/Task?status=in-progress"}],
    "entry": [
        {"fullUrl": f"{BASE}/Task/task-1", "resource": TASK,
         "search": {"mode": "match", "score": 1}},
        {"resource": OPERATION_OUTCOME, "search": {"mode": "outcome"}},
    ],
}

TRANSACTION_RESPONSE = {
    "resourceType": "Bundle",
    "id": "tx-response",
    "type": "transaction-response",
    "entry": [{"response": {
        "status": "201 Created",
        "location": "Organization/org-1/_history/1",
        "etag": 'W/"1"',
        "lastModified": "2024-03-02T12:00:00Z",
        "outcome": OPERATION_OUTCOME,
    }}],
}

PARAMETERS = {
    "resourceType": "Parameters",
    "id": "score-result",
    "parameter": [
        {"name": "score", "valueDecimal": 12.5},
        {"name": "band", "valueCode": "moderate"},
        {"name": "detail", "part": [
            {"name": "item", "valueString": "g1.1.1"},
            {"name": "points", "valueInteger": 3},
            {"name": "nested", "part": [{"name": "flag", "valueBoolean": False}]},
        ]},
        {"name": "source", "resource": ORGANIZATION},
    ],
}

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "meta": {"versionId": "7", "lastUpdated": "2024-03-02T10:15:01.123Z",
             "profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"],
             "security": [coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST")],
             "tag": [{"code": "synthetic"}]},
    "active": True,
    "name": [{"use": "official", "family": "Smith",
              "given": ["Jo", None, "Ann"],
              "_given": [None, {"id": "g2", "extension": [{
                  "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier",
                  "valueCode": "CL"}]}, None]}],
    "gender": "other",
    "_gender": {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/patient-genderIdentity",
        "valueCodeableConcept": {"text": "non-binary"}}]},
    "birthDate": "1980-05-01",
    "deceasedBoolean": False,
    "multipleBirthInteger": 2,
    "managingOrganization": {"reference": "Organization/org-1"},
}

RESOURCES = {
    "Organization": ORGANIZATION,
    "Questionnaire": QUESTIONNAIRE,
    "QuestionnaireResponse": QUESTIONNAIRE_RESPONSE,
    "Task": TASK,
    "Consent": CONSENT,
    "Measure": MEASURE,
    "MeasureReport": MEASURE_REPORT,
    "AuditEvent": AUDIT_EVENT,
    "Provenance": PROVENANCE,
    "CodeSystem": CODE_SYSTEM,
    "ValueSet": VALUE_SET,
    "StructureDefinition": STRUCTURE_DEFINITION,
    "OperationDefinition": OPERATION_DEFINITION,
    "SearchParameter": SEARCH_PARAMETER,
    "CapabilityStatement": CAPABILITY_STATEMENT,
    "Bundle-searchset": SEARCH_BUNDLE,
    "Bundle-transaction-response": TRANSACTION_RESPONSE,
    "Parameters": PARAMETERS,
    "OperationOutcome": OPERATION_OUTCOME,
    "Patient": PATIENT,
    "Practitioner": PRACTITIONER,
    "PractitionerRole": PRACTITIONER_ROLE,
}
EXAMPLES = pytest.mark.parametrize("resource", RESOURCES.values(), ids=RESOURCES.keys())


# ---------------------------------------------------------------- round trips

@EXAMPLES
def test_json_survives_a_round_trip_through_xml(resource):
    original = copy.deepcopy(resource)
    assert parse_xml(to_xml(resource)) == resource
    assert resource == original, "to_xml must not change its input"


@EXAMPLES
def test_xml_survives_a_round_trip_through_json(resource):
    for pretty in (False, True):
        xml = to_xml(resource, pretty=pretty)
        assert to_xml(parse_xml(xml), pretty=pretty) == xml


@EXAMPLES
def test_the_json_form_is_the_one_json_would_carry(resource):
    # The dict read from XML must be indistinguishable from parsing the FHIR JSON text.
    assert parse_xml(to_xml(resource)) == json.loads(json.dumps(resource))


@EXAMPLES
def test_xml_output_is_valid_against_the_r4_schema(resource):
    assert_valid_r4_xml(to_xml(resource))
    assert_valid_r4_xml(to_xml(resource, pretty=True))


def test_fixtures_are_valid_r4_json():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((need_r4() / "fhir.schema.json").read_text(encoding="utf-8"))
    # A known defect of the published R4 JSON schema: its FHIRVersion enum stops at 4.0.0.
    for definition in schema["definitions"].values():
        version = definition.get("properties", {}).get("fhirVersion", {})
        if "enum" in version:
            version["enum"].append("4.0.1")
    for name, resource in RESOURCES.items():
        # Straight to the resource's own definition: the root oneOf over 145 types is slow.
        schema["$ref"] = f"#/definitions/{resource['resourceType']}"
        validator = jsonschema.Draft6Validator(schema)
        errors = [e.message for e in validator.iter_errors(_nulls_filled(resource))]
        assert not errors, f"{name}: {errors[:3]}"


def _nulls_filled(value):
    # The R4 JSON schema does not allow the nulls that keep `x` and `_x` arrays parallel,
    # though the JSON format requires them; fill them with a sibling for the schema check.
    if isinstance(value, dict):
        return {k: _nulls_filled(v) for k, v in value.items()}
    if isinstance(value, list):
        filler = next(v for v in value if v is not None)
        return [_nulls_filled(filler if v is None else v) for v in value]
    return value


def test_output_starts_with_a_utf8_declaration_and_the_fhir_namespace():
    xml = to_xml({"resourceType": "Patient", "id": "x", "name": [{"text": "Zoë"}]})
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                          b'<Patient xmlns="http://hl7.org/fhir"><id value="x"/>')
    assert "Zoë".encode() in xml


def test_elements_are_written_in_definition_order_whatever_the_json_order():
    shuffled = dict(reversed(list(TASK.items())))
    xml = to_xml(shuffled)
    assert xml == to_xml(TASK)
    names = [etree.QName(e).localname for e in etree.fromstring(xml)]
    assert names[:4] == ["id", "status", "businessStatus", "intent"]


def test_ids_and_extension_urls_are_attributes_and_resource_ids_are_elements():
    xml = to_xml(STRUCTURE_DEFINITION).decode()
    assert '<id value="dthub-task"/>' in xml
    assert '<element id="Task.intent"><path value="Task.intent"/>' in xml
    xml = to_xml(QUESTIONNAIRE_RESPONSE).decode()
    assert f'<extension url="{BASE}/StructureDefinition/wellbeing-score">' in xml


def test_contained_and_resource_elements_wrap_the_resource_in_its_type():
    xml = to_xml(TRANSACTION_RESPONSE).decode()
    assert "<outcome><OperationOutcome><issue>" in xml
    xml = to_xml(QUESTIONNAIRE_RESPONSE).decode()
    assert '<contained><Practitioner><id value="author"/>' in xml
    assert '<contained><PractitionerRole><id value="author-role"/>' in xml


# ---------------------------------------------------------------- primitives

SPEC_STYLE_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <id value="p1"/>
  <active value="true"/>
  <name>
    <given value="Jo"/>
    <given id="g2">
      <extension url="http://example.org/qualifier">
        <valueCode value="CL"/>
      </extension>
    </given>
    <given value="Ann">
      <extension url="http://example.org/note">
        <valueString value="second"/>
      </extension>
    </given>
  </name>
  <birthDate value="1980-05-01"/>
  <multipleBirthInteger value="2"/>
</Patient>"""


def test_spec_style_xml_reads_as_the_fhir_json_form():
    assert parse_xml(SPEC_STYLE_XML) == {
        "resourceType": "Patient",
        "id": "p1",
        "active": True,
        "name": [{
            "given": ["Jo", None, "Ann"],
            "_given": [None,
                       {"id": "g2", "extension": [{"url": "http://example.org/qualifier",
                                                   "valueCode": "CL"}]},
                       {"extension": [{"url": "http://example.org/note",
                                       "valueString": "second"}]}],
        }],
        "birthDate": "1980-05-01",
        "multipleBirthInteger": 2,
    }


def test_pretty_output_is_the_spec_layout():
    assert to_xml(parse_xml(SPEC_STYLE_XML), pretty=True) == SPEC_STYLE_XML


def test_primitive_arrays_without_any_extension_have_no_underscore_array():
    out = parse_xml(to_xml({"resourceType": "Patient", "name": [{"given": ["A", "B"]}]}))
    assert out == {"resourceType": "Patient", "name": [{"given": ["A", "B"]}]}


def test_primitive_with_only_an_extension_has_no_value_key():
    resource = {"resourceType": "Patient", "_birthDate": {"extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
         "valueCode": "unknown"}]}}
    xml = to_xml(resource)
    assert b'<birthDate><extension url="' in xml
    assert parse_xml(xml) == resource


@pytest.mark.parametrize("lexical, value", [
    ("4", 4), ("4.0", 4.0), ("3.5", 3.5), ("-0.25", -0.25), ("1e2", 100.0), ("1.5E-3", 0.0015),
])
def test_decimals_read_as_json_would_read_the_same_text(lexical, value):
    xml = ('<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="n"/>'
           f'<valueDecimal value="{lexical}"/></parameter></Parameters>').encode()
    got = parse_xml(xml)["parameter"][0]["valueDecimal"]
    assert got == value and type(got) is type(json.loads(lexical))


@pytest.mark.parametrize("value, lexical", [
    (3.5, "3.5"), (4, "4"), (4.0, "4.0"), (0.1, "0.1"), (1e-05, "1e-05"), (-12, "-12"),
])
def test_numbers_are_written_as_json_prints_them(value, lexical):
    xml = to_xml({"resourceType": "Parameters",
                  "parameter": [{"name": "n", "valueDecimal": value}]})
    assert f'<valueDecimal value="{lexical}"/>'.encode() in xml
    assert lexical == json.dumps(value)


def test_booleans_and_integers_are_typed():
    xml = (b'<Questionnaire xmlns="http://hl7.org/fhir"><status value="draft"/><item>'
           b'<linkId value="1"/><type value="string"/><required value="false"/>'
           b'<maxLength value="12"/></item></Questionnaire>')
    item = parse_xml(xml)["item"][0]
    assert item["required"] is False and item["maxLength"] == 12


def test_strings_keep_newlines_quotes_and_markup_characters():
    text = 'a < b & "c"\n\tnext line'
    resource = {"resourceType": "Organization", "name": text}
    assert parse_xml(to_xml(resource))["name"] == text


# ---------------------------------------------------------------- narrative

def test_narrative_div_keeps_nested_markup_and_escapes():
    xml = to_xml(ORGANIZATION)
    assert b'<div xmlns="http://www.w3.org/1999/xhtml"><h1>Example NHS Trust</h1>' in xml
    assert b"&amp; district" in xml
    assert parse_xml(xml)["text"]["div"] == ORGANIZATION["text"]["div"]


def test_narrative_div_is_read_with_its_own_default_namespace_only():
    xml = b"""<Organization xmlns="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"
        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <text><status value="generated"/><h:div><h:p>A &amp; <h:b>B</h:b></h:p></h:div></text>
    </Organization>"""
    div = parse_xml(xml)["text"]["div"]
    assert div == DIV + "<p>A &amp; <b>B</b></p></div>"


def test_pretty_printing_leaves_the_narrative_whitespace_alone():
    xml = to_xml(ORGANIZATION, pretty=True)
    assert ORGANIZATION["text"]["div"].encode() in xml


def test_a_div_in_another_spelling_comes_back_in_the_canonical_one():
    # Equivalent XHTML, but only the serialiser's own spelling survives a round trip exactly.
    div = DIV[:-1] + " ><br /><p class='a'>x > y &#160;</p></div>"
    resource = {"resourceType": "Organization", "text": {"status": "generated", "div": div}}
    assert parse_xml(to_xml(resource))["text"]["div"] == (
        DIV + '<br/><p class="a">x &gt; y \u00a0</p></div>')


@pytest.mark.parametrize("div", [
    "<div xmlns='http://www.w3.org/1999/xhtml'><p>unclosed</div>",
    "<div><p>no namespace</p></div>",
    '<p xmlns="http://www.w3.org/1999/xhtml">not a div</p>',
    "plain text",
    '<!DOCTYPE div [<!ENTITY e "x">]><div xmlns="http://www.w3.org/1999/xhtml">&e;</div>',
])
def test_a_div_that_is_not_well_formed_xhtml_is_refused(div):
    resource = {"resourceType": "Organization", "text": {"status": "generated", "div": div}}
    assert "Organization.text.div" in refused(to_xml, resource)


# ---------------------------------------------------------------- refusals

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Patient xmlns="http://hl7.org/fhir"><name><text value="&lol4;"/></name></Patient>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><name><text value="&xxe;"/></name></Patient>"""


@pytest.mark.parametrize("document", [BILLION_LAUGHS, EXTERNAL_ENTITY],
                         ids=["billion-laughs", "xxe"])
def test_documents_with_a_doctype_are_refused(document):
    with pytest.raises(OperationOutcomeError) as caught:
        parse_xml(document)
    assert caught.value.status == 400
    assert caught.value.issues[0].code == "structure"
    assert caught.value.issues[0].diagnostics == "DOCTYPE is not allowed"
    outcome = json.dumps(caught.value.outcome())
    assert "root:" not in outcome and "lollol" not in outcome


def test_a_doctype_in_another_encoding_is_refused_too():
    document = EXTERNAL_ENTITY.replace(b'<?xml version="1.0"?>',
                                       b'<?xml version="1.0" encoding="UTF-16"?>')
    encoded = document.decode().encode("utf-16")
    assert b"<!DOCTYPE" not in encoded
    assert refused(parse_xml, encoded) == "DOCTYPE is not allowed"


@pytest.mark.parametrize("document", [
    b"",
    b"not xml at all",
    b'<Patient xmlns="http://hl7.org/fhir"><id value="x"></Patient>',
    b'<Patient xmlns="http://hl7.org/fhir"><id value="x"/>',
    b'<Patient xmlns="http://hl7.org/fhir"><id value="x"/></Patient><Patient/>',
])
def test_malformed_xml_is_refused_with_the_parser_message(document):
    message = refused(parse_xml, document)
    assert message.startswith("Malformed XML")
    assert "Traceback" not in message


@pytest.mark.parametrize("document", [
    b'<Patient><id value="x"/></Patient>',
    b'<Patient xmlns="http://hl7.org/fhir/"><id value="x"/></Patient>',
    b'<f:Patient xmlns:f="urn:not-fhir"><f:id value="x"/></f:Patient>',
])
def test_a_root_outside_the_fhir_namespace_is_refused(document):
    assert "namespace" in refused(parse_xml, document)


def test_an_unknown_resource_type_is_refused():
    assert "Unknown resource type 'Spaceship'" in refused(
        parse_xml, b'<Spaceship xmlns="http://hl7.org/fhir"><id value="x"/></Spaceship>')


def test_an_unknown_contained_resource_type_is_refused():
    xml = (b'<Organization xmlns="http://hl7.org/fhir"><contained><Spaceship/></contained>'
           b"</Organization>")
    assert "Spaceship" in refused(parse_xml, xml)


@pytest.mark.parametrize("document, path", [
    (b'<Patient xmlns="http://hl7.org/fhir"><colour value="red"/></Patient>', "Patient.colour"),
    (b'<QuestionnaireResponse xmlns="http://hl7.org/fhir"><status value="completed"/>'
     b'<item><linkId value="1"/><item><linkId value="1.1"/><shoe value="x"/></item></item>'
     b"</QuestionnaireResponse>", "QuestionnaireResponse.item.item.shoe"),
    (b'<Patient xmlns="http://hl7.org/fhir"><name><_given value="x"/></name></Patient>',
     "Patient.name._given"),
    (b'<Organization xmlns="http://hl7.org/fhir"><contained><Practitioner><shoe value="x"/>'
     b"</Practitioner></contained></Organization>", "Organization.contained.Practitioner.shoe"),
    (b'<Organization xmlns="http://hl7.org/fhir"><text><status value="generated"/>'
     b"<div>not XHTML</div></text></Organization>", "Organization.text.div"),
])
def test_an_unknown_element_is_refused_naming_its_path(document, path):
    assert path in refused(parse_xml, document)


@pytest.mark.parametrize("document, words", [
    (b'<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>', "boolean"),
    (b'<Patient xmlns="http://hl7.org/fhir"><multipleBirthInteger value="2.0"/></Patient>',
     "integer"),
    (b'<Patient xmlns="http://hl7.org/fhir"><active/></Patient>', "neither"),
    (b'<Patient xmlns="http://hl7.org/fhir"><active value="true"/><active value="false"/>'
     b"</Patient>", "more than once"),
    (b'<Patient xmlns="http://hl7.org/fhir"><gender value="male" colour="red"/></Patient>',
     "colour"),
    (b'<Patient xmlns="http://hl7.org/fhir">text<id value="x"/></Patient>', "text content"),
])
def test_invalid_primitives_and_stray_content_are_refused(document, words):
    assert words in refused(parse_xml, document)


@pytest.mark.parametrize("resource, words", [
    ({"resourceType": "Patient", "colour": "red"}, "Patient.colour"),
    ({"resourceType": "Patient", "name": [{"text": "A", "nickname": "B"}]},
     "Patient.name.nickname"),
    ({"resourceType": "Patient", "_active": {"foo": 1}}, "foo"),
    ({"resourceType": "Spaceship"}, "Spaceship"),
    ({"resourceType": "Patient", "contained": [{"id": "x"}]}, "resource type"),
    ({"name": "no resourceType"}, "resource type"),
    ({"resourceType": "Patient", "active": "true"}, "boolean"),
    ({"resourceType": "Patient", "multipleBirthInteger": 2.0}, "integer"),
    ({"resourceType": "Patient", "multipleBirthInteger": True}, "integer"),
    ({"resourceType": "Parameters", "parameter": [{"name": "n", "valueDecimal": float("nan")}]},
     "decimal"),
    ({"resourceType": "Patient", "name": [{"given": ["A", "B"], "_given": [None]}]}, "same length"),
    ({"resourceType": "Patient", "name": [{"given": []}]}, "non-empty array"),
    ({"resourceType": "Patient", "name": {"text": "A"}}, "non-empty array"),
    ({"resourceType": "Patient", "gender": ""}, "string"),
    ({"resourceType": "Patient", "name": [{"given": None}]}, "neither a value nor extensions"),
    ({"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {
        "resourceType": "Organization", "nickname": "x"}}]},
     "Bundle.entry.resource.Organization.nickname"),
    ({"resourceType": "Patient", "name": [{"text": "bell \x07"}]}, "XML"),
])
def test_json_that_xml_cannot_carry_is_refused(resource, words):
    assert words in refused(to_xml, resource)


# ---------------------------------------------------------------- the element table

def test_json_nested_beyond_what_xml_parsers_accept_is_refused():
    item: dict = {"linkId": "leaf"}
    for _ in range(2000):
        item = {"linkId": "x", "item": [item]}
    resource = {"resourceType": "QuestionnaireResponse", "status": "completed", "item": [item]}
    assert "nested too deeply" in refused(to_xml, resource)


def test_the_element_table_follows_content_references_and_covers_contained_types():
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    types = table["types"]
    item = {row[0]: row for row in types["QuestionnaireResponse.item"]}
    assert item["item"] == ["item", "QuestionnaireResponse.item", 1]
    assert item["answer"][1] == "QuestionnaireResponse.item.answer"
    assert {r[0]: r for r in types["Questionnaire.item"]}["item"][1] == "Questionnaire.item"
    for name in ("Practitioner", "PractitionerRole", "Patient", "Device", "RelatedPerson",
                 "Endpoint", "Location", "HealthcareService"):
        assert name in table["resources"] and name in types
    assert table["primitives"]["positiveInt"] == "integer"
    referenced = {tp for rows in types.values() for _, tp, _ in rows}
    assert referenced <= set(types) | set(table["primitives"]) | {"Resource"}
    assert ["url", "uri", 2] in types["Extension"]


def test_the_committed_element_table_is_what_the_generator_builds():
    need_r4()
    from adapter.formats.generate_elements import build

    committed = TABLE.read_text(encoding="utf-8")
    assert "\n " not in committed, "keep the table compact"
    assert json.loads(committed) == build(SHARED)
