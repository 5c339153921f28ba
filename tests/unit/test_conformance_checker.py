"""Tests of the FHIR R4 conformance checker (tests/conformance.py) itself.

A realistic, hand-built resource of every type the server emits must pass; each known kind of
violation (JSON schema, XSD, invariants of resources and of data types, narrative rules,
cardinality) must be caught.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import conformance  # noqa: E402
from tests.conformance import (  # noqa: E402
    FIXTURE_DIR,
    assert_conformant,
    cardinality_errors,
    invariant_results,
    json_schema_errors,
    xsd_errors,
)

XHTML = "http://www.w3.org/1999/xhtml"


def narrative(text: str) -> dict:
    return {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>{text}</p></div>'}


META = {"versionId": "3", "lastUpdated": "2024-05-02T09:30:00.000+02:00"}
BASE = "https://hub.example.org/fhir"


# ---------------------------------------------------------------------------------------
# Realistic resources, one per type the server emits
# ---------------------------------------------------------------------------------------


def organization() -> dict:
    return {
        "resourceType": "Organization",
        "id": "org-42",
        "meta": META,
        "text": narrative("Centre Hospitalier Exemple"),
        "contained": [
            {"resourceType": "Practitioner", "id": "contact-1", "name": [{"family": "Martin", "given": ["Anne"]}]}
        ],
        "extension": [
            {
                "url": "https://hub.example.org/fhir/StructureDefinition/main-contact",
                "valueReference": {"reference": "#contact-1", "display": "Anne Martin"},
            }
        ],
        "identifier": [
            {"use": "official", "system": "urn:oid:1.2.250.1.71.4.2.2", "value": "130000001"},
            {"system": "https://hub.example.org/fhir/sid/org", "value": "ORG-42", "period": {"start": "2020-01-01"}},
        ],
        "active": True,
        "type": [
            {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider"}
                ]
            }
        ],
        "name": "Centre Hospitalier Exemple",
        "alias": ["CHE"],
        "telecom": [
            {"system": "phone", "value": "+33 1 23 45 67 89", "use": "work", "rank": 1},
            {"system": "email", "value": "contact@che.example.org"},
        ],
        "address": [
            {"use": "work", "type": "both", "line": ["1 rue de l'Exemple", None], "_line": [None, {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}], "city": "Paris", "postalCode": "75001", "country": "FR"}
        ],
        "partOf": {"reference": "Organization/org-1", "type": "Organization"},
        "contact": [
            {
                "purpose": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/contactentity-type", "code": "ADMIN"}]},
                "name": {"use": "official", "family": "Durand", "given": ["Paul"]},
                "telecom": [{"system": "phone", "value": "+33 1 98 76 54 32"}],
            }
        ],
    }


def questionnaire() -> dict:
    return {
        "resourceType": "Questionnaire",
        "id": "q-intake",
        "meta": {**META, "profile": ["http://hl7.org/fhir/StructureDefinition/Questionnaire"]},
        "text": narrative("Intake questionnaire"),
        "contained": [
            {
                "resourceType": "ValueSet",
                "id": "yesno-unknown",
                "status": "active",
                "compose": {
                    "include": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "concept": [{"code": "Y"}, {"code": "N"}]}
                    ]
                },
            }
        ],
        "url": "https://hub.example.org/fhir/Questionnaire/q-intake",
        "identifier": [{"system": "https://hub.example.org/fhir/sid/questionnaire", "value": "INTAKE"}],
        "version": "2.1.0",
        "name": "IntakeQuestionnaire",
        "title": "Intake questionnaire",
        "status": "active",
        "experimental": False,
        "subjectType": ["Patient"],
        "date": "2024-04-30",
        "publisher": "D&T Hub",
        "contact": [{"name": "Hub team", "telecom": [{"system": "url", "value": "https://hub.example.org"}]}],
        "description": "Collects **intake** data.",
        "useContext": [
            {
                "code": {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "age"},
                "valueRange": {"low": {"value": 18, "unit": "a", "system": "http://unitsofmeasure.org", "code": "a"}},
            }
        ],
        "jurisdiction": [{"coding": [{"system": "urn:iso:std:iso:3166", "code": "FR"}]}],
        "effectivePeriod": {"start": "2024-01-01", "end": "2025-12-31T23:59:59+01:00"},
        "code": [{"system": "http://loinc.org", "code": "74465-6"}],
        "item": [
            {
                "linkId": "demographics",
                "type": "group",
                "text": "Demographics",
                "item": [
                    {"linkId": "birthdate", "type": "date", "text": "Date of birth", "required": True},
                    {
                        "linkId": "sex",
                        "type": "choice",
                        "text": "Sex",
                        "answerOption": [
                            {"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "female", "display": "Female"}},
                            {"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "male", "display": "Male"}, "initialSelected": True},
                        ],
                    },
                    {
                        "linkId": "height",
                        "type": "quantity",
                        "text": "Height",
                        "initial": [{"valueQuantity": {"value": 170, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}}],
                    },
                ],
            },
            {
                "linkId": "habits",
                "type": "group",
                "text": "Habits",
                "item": [
                    {"linkId": "smoker", "type": "boolean", "text": "Do you smoke?", "initial": [{"valueBoolean": False}]},
                    {
                        "linkId": "smoker-since",
                        "type": "integer",
                        "text": "Since how many years?",
                        "enableWhen": [{"question": "smoker", "operator": "=", "answerBoolean": True}],
                        "_text": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/rendering-style", "valueString": "font-weight:bold"}]},
                    },
                    {
                        "linkId": "smoker-kind",
                        "type": "open-choice",
                        "text": "What do you smoke?",
                        "repeats": True,
                        "enableWhen": [
                            {"question": "smoker", "operator": "exists", "answerBoolean": True},
                            {"question": "smoker-since", "operator": ">", "answerInteger": 0},
                            {"question": "smoker", "operator": "=", "answerBoolean": True},
                        ],
                        "enableBehavior": "all",
                        "answerOption": [{"valueString": "Cigarettes"}, {"valueString": "Cigars"}],
                    },
                    {"linkId": "alcohol", "type": "choice", "text": "Alcohol?", "answerValueSet": "#yesno-unknown"},
                    {"linkId": "free-text", "type": "text", "text": "Anything else?", "maxLength": 500},
                    {"linkId": "thanks", "type": "display", "text": "Thank you."},
                ],
            },
        ],
    }


def questionnaire_response() -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-1",
        "meta": META,
        "text": narrative("Intake answers"),
        "identifier": {"system": "https://hub.example.org/fhir/sid/qr", "value": "QR-1"},
        "questionnaire": "https://hub.example.org/fhir/Questionnaire/q-intake|2.1.0",
        "status": "completed",
        "subject": {"reference": "Patient/p-1"},
        "authored": "2024-05-01T10:15:00+02:00",
        "author": {"reference": "Organization/org-42"},
        "item": [
            {
                "linkId": "demographics",
                "text": "Demographics",
                "item": [
                    {"linkId": "birthdate", "answer": [{"valueDate": "1980-02-29"}]},
                    {"linkId": "sex", "answer": [{"valueCoding": {"system": "http://hl7.org/fhir/administrative-gender", "code": "female"}}]},
                    {"linkId": "height", "answer": [{"valueQuantity": {"value": 168.5, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}}]},
                ],
            },
            {
                "linkId": "habits",
                "item": [
                    {
                        "linkId": "smoker",
                        "answer": [{"valueBoolean": True, "item": [{"linkId": "smoker-since", "answer": [{"valueInteger": 12}]}]}],
                    },
                    {"linkId": "smoker-kind", "answer": [{"valueString": "Cigarettes"}, {"valueString": "Pipe"}]},
                ],
            },
        ],
    }


def task() -> dict:
    return {
        "resourceType": "Task",
        "id": "task-7",
        "meta": META,
        "text": narrative("Fill in the intake questionnaire"),
        "contained": [
            {
                "resourceType": "PractitionerRole",
                "id": "owner",
                "practitioner": {"display": "Dr Anne Martin"},
                "organization": {"reference": "Organization/org-42"},
            }
        ],
        "identifier": [{"system": "https://hub.example.org/fhir/sid/task", "value": "T-7"}],
        "instantiatesCanonical": "https://hub.example.org/fhir/ActivityDefinition/intake",
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
        "status": "in-progress",
        "businessStatus": {"text": "awaiting patient"},
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code", "code": "fulfill"}]},
        "description": "Please fill in the intake questionnaire",
        "focus": {"reference": "Questionnaire/q-intake"},
        "for": {"reference": "Patient/p-1"},
        "executionPeriod": {"start": "2024-05-01T08:00:00Z"},
        "authoredOn": "2024-05-01T08:00:00Z",
        "lastModified": "2024-05-02T09:30:00Z",
        "requester": {"reference": "Organization/org-42"},
        "owner": {"reference": "#owner"},
        "restriction": {"repetitions": 1, "period": {"end": "2024-06-01"}},
        "input": [
            {"type": {"text": "questionnaire"}, "valueCanonical": "https://hub.example.org/fhir/Questionnaire/q-intake"},
            {"type": {"text": "reminder count"}, "valueUnsignedInt": 2},
        ],
        "output": [{"type": {"text": "response"}, "valueReference": {"reference": "QuestionnaireResponse/qr-1"}}],
    }


def consent() -> dict:
    return {
        "resourceType": "Consent",
        "id": "consent-3",
        "meta": META,
        "text": narrative("Research consent"),
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": "Patient/p-1"},
        "dateTime": "2024-04-01T12:00:00+02:00",
        "organization": [{"reference": "Organization/org-42"}],
        "sourceAttachment": {"contentType": "application/pdf", "url": "https://hub.example.org/docs/consent-3.pdf", "title": "Signed form"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "verification": [{"verified": True, "verifiedWith": {"reference": "Patient/p-1"}, "verificationDate": "2024-04-01T12:05:00+02:00"}],
        "provision": {
            "type": "permit",
            "period": {"start": "2024-04-01", "end": "2029-04-01"},
            "actor": [
                {
                    "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
                    "reference": {"reference": "Organization/org-42"},
                }
            ],
            "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}]}],
            "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}],
            "provision": [{"type": "deny", "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}]}],
        },
    }


def measure() -> dict:
    return {
        "resourceType": "Measure",
        "id": "m-completion",
        "meta": META,
        "text": narrative("Questionnaire completion rate"),
        "url": "https://hub.example.org/fhir/Measure/m-completion",
        "version": "1.0.0",
        "name": "QuestionnaireCompletion",
        "title": "Questionnaire completion rate",
        "status": "active",
        "date": "2024-03-01",
        "publisher": "D&T Hub",
        "description": "Share of issued questionnaires that were completed.",
        "effectivePeriod": {"start": "2024-01-01"},
        "library": ["https://hub.example.org/fhir/Library/completion"],
        "scoring": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "proportion"}]},
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-type", "code": "process"}]}],
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "increase"}]},
        "group": [
            {
                "code": {"text": "completion"},
                "population": [
                    {
                        "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]},
                        "criteria": {"language": "text/cql", "expression": "Issued"},
                    },
                    {
                        "code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]},
                        "criteria": {"language": "text/cql", "expression": "Completed"},
                    },
                ],
                "stratifier": [
                    {"code": {"text": "organization"}, "criteria": {"language": "text/fhirpath", "expression": "Task.requester"}},
                    {
                        # mea-1: a stratifier with components has no code/description/criteria
                        "component": [
                            {"code": {"text": "age"}, "criteria": {"language": "text/cql", "expression": "AgeGroup"}},
                            {"code": {"text": "sex"}, "criteria": {"language": "text/cql", "expression": "Sex"}},
                        ],
                    },
                ],
            }
        ],
    }


def measure_report() -> dict:
    return {
        "resourceType": "MeasureReport",
        "id": "mr-2024-q1",
        "meta": META,
        "text": narrative("Completion rate, Q1 2024"),
        "status": "complete",
        "type": "summary",
        "measure": "https://hub.example.org/fhir/Measure/m-completion",
        "date": "2024-04-02T06:00:00Z",
        "reporter": {"reference": "Organization/org-42"},
        "period": {"start": "2024-01-01", "end": "2024-03-31"},
        "improvementNotation": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-improvement-notation", "code": "increase"}]},
        "group": [
            {
                "code": {"text": "completion"},
                "population": [
                    {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "denominator"}]}, "count": 120},
                    {"code": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "numerator"}]}, "count": 96},
                ],
                "measureScore": {"value": 0.8, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"},
                "stratifier": [
                    {
                        "code": [{"text": "organization"}],
                        "stratum": [
                            {
                                "value": {"text": "Organization/org-42"},
                                "population": [{"code": {"text": "denominator"}, "count": 70}, {"code": {"text": "numerator"}, "count": 60}],
                                "measureScore": {"value": 0.857},
                            }
                        ],
                    },
                    {
                        "code": [{"text": "age-and-sex"}],
                        "stratum": [
                            {
                                "component": [
                                    {"code": {"text": "age"}, "value": {"text": "18-40"}},
                                    {"code": {"text": "sex"}, "value": {"text": "female"}},
                                ],
                                "population": [{"code": {"text": "denominator"}, "count": 30}],
                            }
                        ],
                    },
                ],
            },
            {"code": {"text": "second group"}, "population": [{"count": 0}]},
        ],
    }


def audit_event() -> dict:
    return {
        "resourceType": "AuditEvent",
        "id": "ae-1",
        "meta": META,
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}],
        "action": "R",
        "period": {"start": "2024-05-02T09:30:00.120Z", "end": "2024-05-02T09:30:00.180Z"},
        "recorded": "2024-05-02T09:30:00.200Z",
        "outcome": "0",
        "purposeOfEvent": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HRESCH"}]}],
        "agent": [
            {
                "type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110153", "display": "Source Role ID"}]},
                "who": {"identifier": {"system": "https://hub.example.org/fhir/sid/client", "value": "portal"}},
                "altId": "portal-app",
                "requestor": True,
                "policy": ["https://hub.example.org/policies/access"],
                "network": {"address": "192.0.2.10", "type": "2"},
            }
        ],
        "source": {
            "site": "hub-fhir",
            "observer": {"display": "D&T Hub FHIR adapter"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "3"}],
        },
        "entity": [
            {
                "what": {"reference": "Questionnaire/q-intake/_history/3"},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"},
                "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "4"},
                "detail": [{"type": "request-id", "valueString": "b7c4a5e0"}, {"type": "raw", "valueBase64Binary": "R0VUIC9RdWVzdGlvbm5haXJl"}],
            },
            {"type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2"}, "query": "bmFtZT1pbnRha2U="},
        ],
    }


def provenance() -> dict:
    return {
        "resourceType": "Provenance",
        "id": "prov-1",
        "meta": META,
        "target": [{"reference": "QuestionnaireResponse/qr-1/_history/1"}],
        "occurredPeriod": {"start": "2024-05-01T10:00:00+02:00", "end": "2024-05-01T10:15:00+02:00"},
        "recorded": "2024-05-01T10:15:02.311+02:00",
        "policy": ["https://hub.example.org/policies/provenance"],
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]},
        "agent": [
            {
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author"}]},
                "who": {"reference": "Patient/p-1"},
                "onBehalfOf": {"reference": "Organization/org-42"},
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {"reference": "Questionnaire/q-intake"},
                "agent": [{"who": {"display": "Questionnaire author"}}],
            }
        ],
        "signature": [
            {
                "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
                "when": "2024-05-01T10:15:02+02:00",
                "who": {"reference": "Patient/p-1"},
                "sigFormat": "application/jose",
                "data": "ZXlKaGJHY2lPaUpTVXpJMU5pSjku",
            }
        ],
    }


def code_system() -> dict:
    return {
        "resourceType": "CodeSystem",
        "id": "granularity",
        "meta": META,
        "text": narrative("Granularity codes"),
        "url": "https://hub.example.org/fhir/CodeSystem/granularity",
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.4.5"}],
        "version": "1.0.0",
        "name": "Granularity",
        "title": "Granularity",
        "status": "active",
        "experimental": False,
        "date": "2024-01-15",
        "publisher": "D&T Hub",
        "caseSensitive": True,
        "valueSet": "https://hub.example.org/fhir/ValueSet/granularity",
        "hierarchyMeaning": "is-a",
        "content": "complete",
        "count": 4,
        "property": [{"code": "order", "uri": "https://hub.example.org/fhir/CodeSystem/granularity#order", "type": "integer"}],
        "concept": [
            {
                "code": "aggregate",
                "display": "Aggregate",
                "definition": "Aggregated data",
                "property": [{"code": "order", "valueInteger": 1}],
                "concept": [
                    {"code": "national", "display": "National", "property": [{"code": "order", "valueInteger": 2}]},
                    {"code": "regional", "display": "Regional", "designation": [{"language": "fr", "value": "Régional"}]},
                ],
            },
            {"code": "individual", "display": "Individual"},
        ],
    }


def value_set() -> dict:
    return {
        "resourceType": "ValueSet",
        "id": "granularity",
        "meta": META,
        "text": narrative("Granularity value set"),
        "url": "https://hub.example.org/fhir/ValueSet/granularity",
        "version": "1.0.0",
        "name": "Granularity",
        "status": "active",
        "date": "2024-01-15",
        "immutable": False,
        "compose": {
            "lockedDate": "2024-01-15",
            "include": [
                {"system": "https://hub.example.org/fhir/CodeSystem/granularity", "version": "1.0.0"},
                {"system": "http://snomed.info/sct", "filter": [{"property": "concept", "op": "is-a", "value": "404684003"}]},
                {"valueSet": ["https://hub.example.org/fhir/ValueSet/other"]},
            ],
            "exclude": [{"system": "https://hub.example.org/fhir/CodeSystem/granularity", "concept": [{"code": "individual"}]}],
        },
        "expansion": {
            "identifier": "urn:uuid:2f7d6c1a-1c39-4a43-9b89-6a1c8f43cf0e",
            "timestamp": "2024-05-02T09:30:00Z",
            "total": 3,
            "parameter": [{"name": "displayLanguage", "valueCode": "en"}],
            "contains": [
                {
                    "system": "https://hub.example.org/fhir/CodeSystem/granularity",
                    "abstract": True,
                    "display": "Aggregate levels",
                    "contains": [
                        {"system": "https://hub.example.org/fhir/CodeSystem/granularity", "code": "national", "display": "National"},
                        {"system": "https://hub.example.org/fhir/CodeSystem/granularity", "code": "regional", "display": "Regional"},
                    ],
                }
            ],
        },
    }


def structure_definition() -> dict:
    return {
        "resourceType": "StructureDefinition",
        "id": "hub-questionnaire",
        "meta": META,
        "text": narrative("Hub Questionnaire profile"),
        "url": "https://hub.example.org/fhir/StructureDefinition/hub-questionnaire",
        "version": "1.0.0",
        "name": "HubQuestionnaire",
        "title": "Hub Questionnaire",
        "status": "active",
        "date": "2024-02-01",
        "publisher": "D&T Hub",
        "fhirVersion": "4.0.1",
        "kind": "resource",
        "abstract": False,
        "type": "Questionnaire",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Questionnaire",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Questionnaire", "path": "Questionnaire"},
                {"id": "Questionnaire.url", "path": "Questionnaire.url", "min": 1},
                {
                    "id": "Questionnaire.status",
                    "path": "Questionnaire.status",
                    "binding": {"strength": "required", "valueSet": "http://hl7.org/fhir/ValueSet/publication-status|4.0.1"},
                },
                {
                    "id": "Questionnaire.item",
                    "path": "Questionnaire.item",
                    "min": 1,
                    "constraint": [
                        {
                            "key": "hub-1",
                            "severity": "error",
                            "human": "linkId has no spaces",
                            "expression": "linkId.contains(' ').not()",
                            "source": "https://hub.example.org/fhir/StructureDefinition/hub-questionnaire",
                        }
                    ],
                },
                {
                    "id": "Questionnaire.item.type",
                    "path": "Questionnaire.item.type",
                    "type": [{"code": "code"}],
                },
            ]
        },
    }


def operation_definition() -> dict:
    return {
        "resourceType": "OperationDefinition",
        "id": "Questionnaire-populate",
        "meta": META,
        "text": narrative("$populate"),
        "url": "https://hub.example.org/fhir/OperationDefinition/Questionnaire-populate",
        "version": "1.0.0",
        "name": "Populate",
        "title": "Populate a questionnaire",
        "status": "active",
        "kind": "operation",
        "date": "2024-02-01",
        "affectsState": False,
        "code": "populate",
        "resource": ["Questionnaire"],
        "system": False,
        "type": True,
        "instance": True,
        "inputProfile": "https://hub.example.org/fhir/StructureDefinition/populate-in",
        "parameter": [
            {"name": "subject", "use": "in", "min": 1, "max": "1", "type": "Reference", "targetProfile": ["http://hl7.org/fhir/StructureDefinition/Patient"]},
            {"name": "local", "use": "in", "min": 0, "max": "1", "type": "boolean", "documentation": "Use local data only"},
            {"name": "status", "use": "in", "min": 0, "max": "*", "type": "string", "searchType": "token"},
            {
                "name": "context",
                "use": "in",
                "min": 0,
                "max": "*",
                "part": [
                    {"name": "name", "use": "in", "min": 1, "max": "1", "type": "string"},
                    {"name": "content", "use": "in", "min": 1, "max": "*", "type": "Reference"},
                ],
            },
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "QuestionnaireResponse",
                "binding": {"strength": "extensible", "valueSet": "http://hl7.org/fhir/ValueSet/questionnaire-answers-status"},
            },
        ],
    }


def search_parameter() -> dict:
    return {
        "resourceType": "SearchParameter",
        "id": "Task-owner-organization",
        "meta": META,
        "text": narrative("Task owner organization"),
        "url": "https://hub.example.org/fhir/SearchParameter/Task-owner-organization",
        "version": "1.0.0",
        "name": "OwnerOrganization",
        "derivedFrom": "http://hl7.org/fhir/SearchParameter/Task-owner",
        "status": "active",
        "experimental": False,
        "date": "2024-02-01",
        "publisher": "D&T Hub",
        "description": "Organization of the task owner",
        "code": "owner-organization",
        "base": ["Task"],
        "type": "reference",
        "expression": "Task.owner.resolve().ofType(PractitionerRole).organization",
        "xpath": "f:Task/f:owner",
        "xpathUsage": "normal",
        "target": ["Organization"],
        "multipleOr": True,
        "comparator": ["eq"],
        "modifier": ["missing"],
        "chain": ["name", "identifier"],
    }


def capability_statement() -> dict:
    return {
        "resourceType": "CapabilityStatement",
        "id": "hub",
        "meta": META,
        "text": narrative("D&amp;T Hub FHIR adapter"),
        "url": "https://hub.example.org/fhir/metadata",
        "version": "0.1.0",
        "name": "DTHubFHIRAdapter",
        "title": "D&T Hub FHIR adapter",
        "status": "active",
        "experimental": False,
        "date": "2024-05-02T09:30:00Z",
        "publisher": "D&T Hub",
        "kind": "instance",
        "instantiates": ["http://hl7.org/fhir/CapabilityStatement/base2"],
        "software": {"name": "dthub-fhir-adapter", "version": "0.1.0", "releaseDate": "2024-05-01"},
        "implementation": {"description": "D&T Hub FHIR adapter", "url": BASE},
        "fhirVersion": "4.0.1",
        "format": ["json", "xml", "application/fhir+json", "application/fhir+xml"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Main endpoint",
                "security": {
                    "cors": True,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "OAuth"}]}],
                },
                "resource": [
                    {
                        "type": "Questionnaire",
                        "profile": "http://hl7.org/fhir/StructureDefinition/Questionnaire",
                        "supportedProfile": ["https://hub.example.org/fhir/StructureDefinition/hub-questionnaire"],
                        "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}, {"code": "create"}, {"code": "update"}],
                        "versioning": "versioned",
                        "readHistory": True,
                        "updateCreate": False,
                        "conditionalCreate": True,
                        "conditionalRead": "full-support",
                        "conditionalUpdate": False,
                        "conditionalDelete": "not-supported",
                        "referencePolicy": ["literal", "local"],
                        "searchInclude": ["Questionnaire:derived-from"],
                        "searchParam": [
                            {"name": "url", "definition": "http://hl7.org/fhir/SearchParameter/Questionnaire-url", "type": "uri"},
                            {"name": "status", "definition": "http://hl7.org/fhir/SearchParameter/Questionnaire-status", "type": "token"},
                        ],
                        "operation": [
                            {"name": "populate", "definition": "https://hub.example.org/fhir/OperationDefinition/Questionnaire-populate"}
                        ],
                    },
                    {"type": "Organization", "interaction": [{"code": "read"}, {"code": "search-type"}]},
                ],
                "interaction": [{"code": "transaction"}, {"code": "search-system"}],
                "searchParam": [{"name": "_lastUpdated", "type": "date"}],
                "operation": [{"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}],
            }
        ],
    }


def bundle() -> dict:
    return {
        "resourceType": "Bundle",
        "id": "b5b6f3a2-0d68-4d39-8d7e-3f0b2f3f9b11",
        "meta": {"lastUpdated": "2024-05-02T09:30:00Z"},
        "type": "searchset",
        "timestamp": "2024-05-02T09:30:00Z",
        "total": 3,
        "link": [
            {"relation": "self", "url": f"{BASE}/Organization?name=exemple&_count=2"},
            {"relation": "next", "url": f"{BASE}/Organization?name=exemple&_count=2&_offset=2"},
        ],
        "entry": [
            {"fullUrl": f"{BASE}/Organization/org-42", "resource": organization(), "search": {"mode": "match", "score": 1}},
            {
                "fullUrl": f"{BASE}/Organization/org-1",
                "resource": {"resourceType": "Organization", "id": "org-1", "name": "Groupe Exemple", "text": narrative("Groupe Exemple")},
                "search": {"mode": "match"},
            },
            {
                "fullUrl": f"{BASE}/Practitioner/pr-9",
                "resource": {"resourceType": "Practitioner", "id": "pr-9", "name": [{"family": "Martin"}]},
                "search": {"mode": "include"},
            },
            {
                "fullUrl": "urn:uuid:4a3e6d7c-3b1f-4c63-9e44-6b77c1a0c0d1",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "information", "code": "informational", "diagnostics": "2 more matches"}],
                },
                "search": {"mode": "outcome"},
            },
        ],
    }


def parameters() -> dict:
    return {
        "resourceType": "Parameters",
        "id": "validate-result",
        "parameter": [
            {"name": "result", "valueBoolean": True},
            {"name": "message", "valueString": "Valid"},
            {"name": "display", "valueString": "Aggregate", "_valueString": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/translation", "extension": [{"url": "lang", "valueCode": "fr"}, {"url": "content", "valueString": "Agrégé"}]}]}},
            {
                "name": "designation",
                "part": [
                    {"name": "language", "valueCode": "fr"},
                    {"name": "use", "valueCoding": {"system": "http://snomed.info/sct", "code": "900000000000013009"}},
                    {"name": "value", "valueString": "Agrégé"},
                ],
            },
            {"name": "return", "resource": organization()},
            {"name": "period", "valuePeriod": {"start": "2024-01-01", "end": "2024-12-31"}},
        ],
    }


def operation_outcome() -> dict:
    return {
        "resourceType": "OperationOutcome",
        "id": "oo-1",
        "text": narrative("Questionnaire.status: missing"),
        "issue": [
            {
                "severity": "error",
                "code": "required",
                "details": {
                    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/operation-outcome", "code": "MSG_RESOURCE_REQUIRED"}],
                    "text": "Questionnaire.status is required",
                },
                "diagnostics": "missing element",
                "expression": ["Questionnaire.status"],
                "location": ["/f:Questionnaire"],
            },
            {"severity": "warning", "code": "business-rule", "diagnostics": "No narrative"},
        ],
    }


def subscription() -> dict:
    return {
        "resourceType": "Subscription",
        "id": "sub-1",
        "meta": META,
        "text": narrative("Completed questionnaire responses"),
        "status": "active",
        "contact": [{"system": "email", "value": "ops@hub.example.org"}],
        "end": "2025-01-01T00:00:00Z",
        "reason": "Notify the reporting service of completed responses",
        "criteria": "QuestionnaireResponse?status=completed",
        "channel": {
            "type": "rest-hook",
            "endpoint": "https://reporting.example.org/notify",
            "payload": "application/fhir+json",
            "header": ["Authorization: Bearer secret-token"],
        },
    }


BUILDERS = {
    "Organization": organization,
    "Questionnaire": questionnaire,
    "QuestionnaireResponse": questionnaire_response,
    "Task": task,
    "Consent": consent,
    "Measure": measure,
    "MeasureReport": measure_report,
    "AuditEvent": audit_event,
    "Provenance": provenance,
    "CodeSystem": code_system,
    "ValueSet": value_set,
    "StructureDefinition": structure_definition,
    "OperationDefinition": operation_definition,
    "SearchParameter": search_parameter,
    "CapabilityStatement": capability_statement,
    "Bundle": bundle,
    "Parameters": parameters,
    "OperationOutcome": operation_outcome,
    "Subscription": subscription,
}


def keys(messages: list[str]) -> set[str]:
    return {m.split(":", 1)[0] for m in messages}


def not_evaluated(warnings: list[str]) -> list[str]:
    return [w for w in warnings if "could not evaluate" in w]


# ---------------------------------------------------------------------------------------
# Valid resources pass
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("resource_type", sorted(BUILDERS))
def test_realistic_resource_is_conformant(resource_type):
    resource = BUILDERS[resource_type]()
    assert resource["resourceType"] == resource_type
    warnings = assert_conformant(resource)
    # every invariant on these resources was actually evaluated
    assert not_evaluated(warnings) == []


def test_every_emitted_type_has_its_definition_in_the_fixtures():
    definitions = conformance._definitions()
    for resource_type in BUILDERS:
        assert definitions[resource_type].kind == "resource"


def test_contained_and_bundled_types_without_definition_are_skipped_with_a_warning():
    _, warnings = invariant_results(organization())
    assert any(w.startswith("no-definition:") and "'Practitioner'" in w and "Organization.contained[0]" in w for w in warnings)
    _, warnings = invariant_results(task())
    assert any("'PractitionerRole'" in w for w in warnings)
    errors, warnings = invariant_results(bundle())
    assert errors == []
    assert any("'Practitioner'" in w and "Bundle.entry[2].resource" in w for w in warnings)


def test_every_official_expression_parses():
    for definition in conformance._definitions().values():
        for element in definition.elements.values():
            for constraint in element.constraints:
                parsed = conformance._parsed(constraint.expression)
                assert not isinstance(parsed, Exception), (constraint.key, constraint.expression, parsed)


def test_nested_resources_are_evaluated_against_their_own_definition():
    b = bundle()
    b["entry"][1]["resource"]["telecom"] = [{"value": "+33 1 00 00 00 00"}]  # cpt-2, 2 levels down
    errors, _ = invariant_results(b)
    assert any(e.startswith("cpt-2:") and "Bundle.entry[1].resource.telecom[0]" in e for e in errors)

    p = parameters()
    p["parameter"][4]["resource"]["name"] = None
    del p["parameter"][4]["resource"]["name"]
    del p["parameter"][4]["resource"]["identifier"]
    errors, _ = invariant_results(p)
    assert any(e.startswith("org-1:") and "Parameters.parameter[4].resource" in e for e in errors)


# ---------------------------------------------------------------------------------------
# Known violations are caught
# ---------------------------------------------------------------------------------------


def assert_invariant_error(resource: dict, key: str, where: str | None = None) -> str:
    errors, _ = invariant_results(resource)
    hits = [e for e in errors if e.startswith(f"{key}:")]
    assert hits, f"{key} not reported; errors: {errors}"
    if where is not None:
        assert any(h.endswith(f"@ {where}") for h in hits), hits
    with pytest.raises(AssertionError) as failure:
        assert_conformant(resource)
    assert f"{key}:" in str(failure.value)
    return hits[0]


def test_que5_answer_option_on_a_boolean_item():
    q = questionnaire()
    q["item"][1]["item"][0]["answerOption"] = [{"valueString": "yes"}]
    del q["item"][1]["item"][0]["initial"]  # que-11 would also fire
    assert_invariant_error(q, "que-5", "Questionnaire.item[1].item[0]")


def test_que6_required_display_item_in_a_nested_item():
    q = questionnaire()
    q["item"][1]["item"][5]["required"] = True
    message = assert_invariant_error(q, "que-6", "Questionnaire.item[1].item[5]")
    assert "display" in message


def test_que7_exists_operator_needs_a_boolean_answer():
    q = questionnaire()
    q["item"][1]["item"][2]["enableWhen"][0] = {"question": "smoker", "operator": "exists", "answerString": "yes"}
    assert_invariant_error(q, "que-7", "Questionnaire.item[1].item[2].enableWhen[0]")


def test_que2_duplicate_link_ids_across_nesting_levels():
    q = questionnaire()
    q["item"][1]["item"][4]["linkId"] = "birthdate"
    assert_invariant_error(q, "que-2", "Questionnaire")


def test_ppc1_consent_without_policy_or_policy_rule():
    c = consent()
    del c["policyRule"]
    assert_invariant_error(c, "ppc-1", "Consent")


def test_per1_period_ending_before_it_starts():
    c = consent()
    c["provision"]["period"] = {"start": "2024-04-01", "end": "2023-04-01"}
    assert_invariant_error(c, "per-1", "Consent.provision.period")


def test_ext1_extension_with_both_value_and_extensions():
    o = organization()
    o["extension"].append(
        {"url": "https://hub.example.org/fhir/StructureDefinition/x", "valueString": "a", "extension": [{"url": "part", "valueString": "b"}]}
    )
    assert_invariant_error(o, "ext-1", "Organization.extension[1]")


def test_ext1_on_an_extension_of_a_primitive():
    q = questionnaire()
    q["_name"] = {"extension": [{"url": "https://hub.example.org/x"}]}  # neither value nor extension
    assert_invariant_error(q, "ext-1", "Questionnaire.name.extension[0]")


def test_txt1_narrative_with_a_script():
    o = organization()
    o["text"]["div"] = f'<div xmlns="{XHTML}"><p>Hello</p><script>alert(1)</script></div>'
    message = assert_invariant_error(o, "txt-1", "Organization.text.div")
    assert "<script>" in message


@pytest.mark.parametrize(
    "div, problem",
    [
        (f'<div xmlns="{XHTML}"><p onclick="steal()">Hi</p></div>', "event attribute onclick"),
        (f'<div xmlns="{XHTML}"><a href="javascript:steal()">Hi</a></div>', "script URL"),
        (f'<div xmlns="{XHTML}"><body>Hi</body></div>', "<body>"),
        (f'<div xmlns="{XHTML}"><form>Hi</form></div>', "<form>"),
        (f'<div xmlns="{XHTML}"><p>a<div>b</div></p></div>', "block element <div> inside a paragraph"),
        ('<div><p>no namespace</p></div>', "XHTML namespace"),
        (f'<span xmlns="{XHTML}">not a div</span>', "root element"),
        (f'<div xmlns="{XHTML}"><p>unclosed</div>', "not well-formed"),
    ],
)
def test_txt1_html_checks_rules(div, problem):
    structure, _ = conformance.html_problems(div)
    assert any(problem in p for p in structure), structure


def test_html_checks_accepts_the_allowed_xhtml():
    div = (
        f'<div xmlns="{XHTML}" xml:lang="fr" lang="fr"><h1 class="t">Title</h1><p style="color:red">a <b>b</b> '
        '<a href="https://example.org" title="x">link</a> <a name="anchor">n</a></p>'
        '<table border="1" cellpadding="2"><thead><tr><th scope="col">h</th></tr></thead>'
        '<tbody><tr><td colspan="1">c</td></tr></tbody></table>'
        '<ul><li>x</li></ul><img src="#logo" alt="logo"/><br/><!-- comment --></div>'
    )
    assert conformance.html_problems(div) == ([], [])


def test_txt2_narrative_without_content():
    o = organization()
    o["text"]["div"] = f'<div xmlns="{XHTML}">  <p> </p>\n</div>'
    assert_invariant_error(o, "txt-2", "Organization.text.div")
    errors, _ = invariant_results(o)
    assert "txt-1" not in keys(errors)
    o["text"]["div"] = f'<div xmlns="{XHTML}"><img src="#logo" alt=""/></div>'  # an image is content
    assert invariant_results(o)[0] == []


def test_ele1_empty_complex_element():
    q = questionnaire()
    q["effectivePeriod"] = {}
    assert_invariant_error(q, "ele-1", "Questionnaire.effectivePeriod")


def test_ele1_on_primitives_with_json_underscore_form():
    q = questionnaire()
    dar = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}

    # a primitive with an extension instead of a value: valid
    del q["publisher"]
    q["_publisher"] = {"extension": [dar]}
    errors, warnings = invariant_results(q)
    assert errors == []

    # a primitive with only an id: no value, no children but id -> ele-1
    q["_publisher"] = {"id": "p1"}
    assert_invariant_error(q, "ele-1", "Questionnaire.publisher")

    # an empty primitive object
    q["_publisher"] = {}
    assert_invariant_error(q, "ele-1", "Questionnaire.publisher")

    # value plus extension: valid, and the value stays usable by other invariants
    q = questionnaire()
    q["_name"] = {"extension": [{"url": "https://hub.example.org/x", "valueString": "y"}]}
    errors, warnings = invariant_results(q)
    assert errors == [] and not_evaluated(warnings) == []

    # repeating primitive with nulls and "_x" arrays
    q["subjectType"] = ["Patient", None]
    q["_subjectType"] = [None, {"extension": [dar]}]
    errors, warnings = invariant_results(q)
    assert errors == [] and not_evaluated(warnings) == []
    q["_subjectType"] = [None, {}]
    assert_invariant_error(q, "ele-1", "Questionnaire.subjectType[1]")


def test_ele1_complex_element_whose_only_content_is_an_underscore_primitive():
    q = questionnaire()
    q["effectivePeriod"] = {"_start": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}}
    assert invariant_results(q)[0] == []


def test_bdl15_searchset_entry_without_full_url():
    b = bundle()
    del b["entry"][1]["fullUrl"]
    message = assert_invariant_error(b, "bdl-15", "Bundle")
    assert "fullUrl" in message
    # transactions may omit it for POSTs
    t = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": organization(), "request": {"method": "POST", "url": "Organization"}}],
    }
    assert "bdl-15" not in keys(invariant_results(t)[0])


def test_bdl7_duplicate_full_url_in_searchset():
    b = bundle()
    b["entry"][1] = copy.deepcopy(b["entry"][0])
    assert_invariant_error(b, "bdl-7", "Bundle")
    b["entry"][1]["resource"]["meta"] = {"versionId": "4"}  # other version: allowed
    assert "bdl-7" not in keys(invariant_results(b)[0])


def test_bdl_rules_on_bundle_type():
    b = bundle()
    b["type"] = "collection"  # total and entry.search only in searchset/history
    errors, _ = invariant_results(b)
    assert {"bdl-1", "bdl-2"} <= keys(errors)
    b = bundle()
    b["entry"][0]["fullUrl"] = f"{BASE}/Organization/org-42/_history/3"
    assert_invariant_error(b, "bdl-8", "Bundle.entry[0]")


def test_ref1_local_reference_without_contained_resource():
    t = task()
    t["owner"] = {"reference": "#nobody"}
    assert_invariant_error(t, "ref-1", "Task.owner")


def test_dom3_contained_resource_not_referenced():
    q = questionnaire()
    q["item"][1]["item"][3]["answerValueSet"] = "https://hub.example.org/fhir/ValueSet/yesno"
    assert_invariant_error(q, "dom-3", "Questionnaire")


def test_resource_level_and_datatype_invariants_of_other_types():
    m = measure()
    m["group"][0]["stratifier"][0]["component"] = [{"code": {"text": "x"}, "criteria": {"language": "text/fhirpath", "expression": "x"}}]
    assert_invariant_error(m, "mea-1", "Measure")

    r = measure_report()
    r["type"] = "data-collection"
    assert_invariant_error(r, "mrp-1", "MeasureReport")

    r = measure_report()
    r["group"][0]["stratifier"][0]["stratum"][0]["component"] = [{"code": {"text": "c"}, "value": {"text": "v"}}]
    assert_invariant_error(r, "mrp-2", "MeasureReport")

    qr = questionnaire_response()
    qr["item"][1]["item"][0]["item"] = [{"linkId": "x"}]
    assert_invariant_error(qr, "qrs-1", "QuestionnaireResponse.item[1].item[0]")

    a = audit_event()
    a["entity"][1]["name"] = "both name and query"
    assert_invariant_error(a, "sev-1", "AuditEvent.entity[1]")

    c = capability_statement()
    c["rest"][0]["resource"].append({"type": "Questionnaire"})
    assert_invariant_error(c, "cpb-9", "CapabilityStatement.rest[0]")

    cs = code_system()
    cs["concept"][1]["code"] = "national"  # duplicated in a nested concept
    assert_invariant_error(cs, "csd-1", "CodeSystem")

    vs = value_set()
    vs["compose"]["include"][1]["concept"] = [{"code": "1"}]
    assert_invariant_error(vs, "vsd-3", "ValueSet.compose.include[1]")

    od = operation_definition()
    del od["parameter"][0]["type"]
    assert_invariant_error(od, "opd-1", "OperationDefinition.parameter[0]")

    sp = search_parameter()
    sp["type"] = "token"
    assert_invariant_error(sp, "spd-2", "SearchParameter")

    sd = structure_definition()
    sd["differential"]["element"][2]["path"] = "Patient.status"
    assert_invariant_error(sd, "sdf-8a", "StructureDefinition.differential")

    p = parameters()
    p["parameter"][0]["part"] = [{"name": "detail", "valueString": "x"}]  # value and part
    assert_invariant_error(p, "inv-1", "Parameters.parameter[0]")

    o = organization()
    o["address"][0]["use"] = "home"
    assert_invariant_error(o, "org-2", "Organization.address[0]")

    q = questionnaire()
    q["item"][0]["item"][2]["initial"][0]["valueQuantity"] = {"value": 170, "code": "cm"}
    assert_invariant_error(q, "qty-3", "Questionnaire.item[0].item[2].initial[0].valueQuantity")


def test_warning_invariants_are_returned_not_asserted():
    q = questionnaire()
    q["name"] = "not a machine name"
    warnings = assert_conformant(q)
    assert any(w.startswith("que-0:") for w in warnings)
    o = operation_outcome()
    del o["text"]
    assert any(w.startswith("dom-6:") for w in assert_conformant(o))


def test_two_values_for_one_choice_element_are_reported():
    p = parameters()
    p["parameter"][0]["valueString"] = "also a string"  # valueBoolean and valueString
    assert json_schema_errors(p) == []  # the R4 JSON schema does not see it
    assert any(
        "Parameters.parameter.value[x] allows at most 1, found 2 @ Parameters.parameter[0]" in e
        for e in cardinality_errors(p)
    )


def test_null_in_repeating_primitive_needs_its_extension():
    o = organization()  # address[0].line = ["...", None] with _line = [None, {extension}]
    assert json_schema_errors(o) == []
    o["address"][0]["_line"] = [None, None]
    assert any(e.startswith("Organization.address[0].line[1]:") for e in json_schema_errors(o))


def test_missing_required_element_is_reported():
    q = questionnaire()
    del q["status"]  # a primitive: the R4 JSON schema does not require it
    assert json_schema_errors(q) == []
    assert any("Questionnaire.status is required" in e for e in cardinality_errors(q))
    with pytest.raises(AssertionError, match="Questionnaire.status is required"):
        assert_conformant(q)
    q = questionnaire()
    del q["item"][1]["item"][0]["linkId"]
    assert any(e.endswith("@ Questionnaire.item[1].item[0]") and "linkId" in e for e in cardinality_errors(q))


# ---------------------------------------------------------------------------------------
# Invariants that cannot be evaluated must not pass silently
# ---------------------------------------------------------------------------------------


def test_unevaluable_expression_is_a_warning_not_a_pass():
    constraint = conformance._Constraint("tst-1", "error", "test", "name.(((")
    out = conformance._Results()
    node = conformance._fhirpath()[2].create_node({"name": "x"}, "Organization")
    conformance._check([constraint], node, {"resource": {}, "rootResource": {}}, "Organization", out)
    assert out.errors == []
    assert out.warnings and out.warnings[0].startswith("tst-1: could not evaluate")

    constraint = conformance._Constraint("tst-2", "error", "test", "name.unknownFunction()")
    out = conformance._Results()
    conformance._check([constraint], node, {"resource": {}, "rootResource": {}}, "Organization", out)
    assert out.warnings and "could not evaluate" in out.warnings[0]


def test_primitive_with_extension_but_no_value_is_reported_as_not_evaluated():
    q = questionnaire()
    del q["name"]
    q["_name"] = {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    errors, warnings = invariant_results(q)
    assert errors == []
    assert any(w.startswith("que-0: could not evaluate") for w in warnings)


def test_rng2_range_bounds_rewritten_comparison():
    ucum = "http://unitsofmeasure.org"
    q = questionnaire()
    use = q["useContext"][0]
    use["valueRange"] = {"low": {"value": 65, "unit": "a", "system": ucum, "code": "a"}, "high": {"value": 18, "unit": "years", "system": ucum, "code": "a"}}
    assert_invariant_error(q, "rng-2", "Questionnaire.useContext[0].valueRange")
    use["valueRange"]["high"]["value"] = 99
    errors, warnings = invariant_results(q)
    assert errors == [] and not_evaluated(warnings) == []
    # different units cannot be compared without UCUM conversion: a warning, not a pass
    use["valueRange"]["high"] = {"value": 1200, "system": ucum, "code": "mo"}
    errors, warnings = invariant_results(q)
    assert errors == []
    assert any(w.startswith("rng-2: could not be determined") for w in warnings)


def test_rewritten_invariants_still_catch_their_violation_and_accept_valid_data():
    assert ("que-7", "operator = 'exists' implies (answer is Boolean)") in conformance.UNEVALUABLE_REWRITES
    assert any(k == "dom-3" for k, _ in conformance.UNEVALUABLE_REWRITES)
    q = questionnaire()  # enableWhen exists + answerBoolean, #yesno-unknown referenced
    errors, warnings = invariant_results(q)
    assert errors == [] and not_evaluated(warnings) == []


# ---------------------------------------------------------------------------------------
# JSON schema
# ---------------------------------------------------------------------------------------


def test_json_schema_wrong_type():
    q = questionnaire()
    q["item"][0]["item"][0]["required"] = "yes"
    errors = json_schema_errors(q)
    assert any(e.startswith("Questionnaire.item[0].item[0].required:") and "boolean" in e for e in errors), errors
    with pytest.raises(AssertionError, match=r"\[json-schema\]"):
        assert_conformant(q)


def test_json_schema_unknown_element_bad_code_and_bad_date():
    o = organization()
    o["nickname"] = "CHE"
    o["telecom"][0]["system"] = "pager-ish"
    o["identifier"][1]["period"]["start"] = "2020-13-01"
    errors = json_schema_errors(o)
    assert any(e.startswith("Organization:") and "nickname" in e for e in errors), errors
    assert any(e.startswith("Organization.telecom[0].system:") for e in errors), errors
    assert any(e.startswith("Organization.identifier[1].period.start:") for e in errors), errors


def test_json_schema_checks_nested_resources_against_their_own_definition():
    b = bundle()
    b["entry"][0]["resource"]["active"] = "true"
    b["entry"][3]["resource"]["issue"][0]["severity"] = "fatal-ish"
    errors = json_schema_errors(b)
    assert any(e.startswith("Bundle.entry[0].resource.active:") for e in errors), errors
    assert any(e.startswith("Bundle.entry[3].resource.issue[0].severity:") for e in errors), errors
    b["entry"][1]["resource"]["resourceType"] = "NotAResource"
    assert any("NotAResource" in e for e in json_schema_errors(b))


def test_json_schema_errata_are_applied():
    # R4 4.0.1 itself and extensions on canonical elements are valid FHIR R4
    c = capability_statement()
    assert c["fhirVersion"] == "4.0.1"
    assert json_schema_errors(c) == []
    q = questionnaire()
    q["_url"] = {"extension": [{"url": "https://hub.example.org/x", "valueString": "y"}]}
    q["item"][1]["item"][3]["_answerValueSet"] = {"extension": [{"url": "https://hub.example.org/x", "valueString": "y"}]}
    assert json_schema_errors(q) == []
    c["fhirVersion"] = "4.0.2"
    assert any(e.startswith("CapabilityStatement.fhirVersion:") for e in json_schema_errors(c))


# ---------------------------------------------------------------------------------------
# XML schema (hand-written XML)
# ---------------------------------------------------------------------------------------

ORGANIZATION_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Organization xmlns="http://hl7.org/fhir">
  <id value="org-42"/>
  <meta>
    <versionId value="3"/>
    <lastUpdated value="2024-05-02T09:30:00.000+02:00"/>
  </meta>
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Centre Hospitalier Exemple</p></div>
  </text>
  <identifier>
    <use value="official"/>
    <system value="urn:oid:1.2.250.1.71.4.2.2"/>
    <value value="130000001"/>
  </identifier>
  <active value="true"/>
  <name value="Centre Hospitalier Exemple"/>
  <telecom>
    <system value="phone"/>
    <value value="+33 1 23 45 67 89"/>
    <use value="work"/>
  </telecom>
  <address>
    <line value="1 rue de l'Exemple"/>
    <city value="Paris"/>
    <postalCode value="75001"/>
    <country value="FR"/>
  </address>
  <partOf>
    <reference value="Organization/org-1"/>
  </partOf>
</Organization>
"""

ORGANIZATION_JSON = {
    "resourceType": "Organization",
    "id": "org-42",
    "meta": {"versionId": "3", "lastUpdated": "2024-05-02T09:30:00.000+02:00"},
    "text": narrative("Centre Hospitalier Exemple"),
    "identifier": [{"use": "official", "system": "urn:oid:1.2.250.1.71.4.2.2", "value": "130000001"}],
    "active": True,
    "name": "Centre Hospitalier Exemple",
    "telecom": [{"system": "phone", "value": "+33 1 23 45 67 89", "use": "work"}],
    "address": [{"line": ["1 rue de l'Exemple"], "city": "Paris", "postalCode": "75001", "country": "FR"}],
    "partOf": {"reference": "Organization/org-1"},
}

QUESTIONNAIRE_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Questionnaire xmlns="http://hl7.org/fhir">
  <id value="q-intake"/>
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Intake</p></div>
  </text>
  <url value="https://hub.example.org/fhir/Questionnaire/q-intake"/>
  <name value="IntakeQuestionnaire"/>
  <status value="active"/>
  <item>
    <linkId value="habits"/>
    <text value="Habits"/>
    <type value="group"/>
    <item>
      <linkId value="smoker"/>
      <text value="Do you smoke?"/>
      <type value="boolean"/>
    </item>
    <item>
      <linkId value="kind"/>
      <text value="What?"/>
      <type value="choice"/>
      <enableWhen>
        <question value="smoker"/>
        <operator value="="/>
        <answerBoolean value="true"/>
      </enableWhen>
      <answerOption>
        <valueString value="Cigarettes"/>
      </answerOption>
    </item>
  </item>
</Questionnaire>
"""


def test_xsd_accepts_valid_hand_written_xml():
    assert xsd_errors(ORGANIZATION_XML) == []
    assert xsd_errors(QUESTIONNAIRE_XML) == []
    assert assert_conformant(ORGANIZATION_JSON, ORGANIZATION_XML) == []


def test_xsd_elements_out_of_order():
    xml = ORGANIZATION_XML.replace(b'  <active value="true"/>\n', b"").replace(
        b"  <partOf>", b'  <active value="true"/>\n  <partOf>'
    )
    errors = xsd_errors(xml)
    assert errors and any("active" in e for e in errors), errors
    with pytest.raises(AssertionError, match=r"\[xsd\]"):
        assert_conformant(ORGANIZATION_JSON, xml)


def test_xsd_other_errors():
    # nested item out of order (type before text), bad boolean, unknown element, script in narrative
    bad = QUESTIONNAIRE_XML.replace(b'<text value="Do you smoke?"/>\n      <type value="boolean"/>', b'<type value="boolean"/>\n      <text value="Do you smoke?"/>')
    assert any("text" in e for e in xsd_errors(bad))
    assert xsd_errors(ORGANIZATION_XML.replace(b'<active value="true"/>', b'<active value="yes"/>'))
    assert xsd_errors(ORGANIZATION_XML.replace(b"<city ", b"<town "))
    assert xsd_errors(ORGANIZATION_XML.replace(b"<p>Centre", b"<script>x</script><p>Centre"))
    assert xsd_errors(b"<Organization xmlns='http://hl7.org/fhir'><id value='x'/>")[0].startswith("not well-formed")


# ---------------------------------------------------------------------------------------
# Fixtures and speed
# ---------------------------------------------------------------------------------------


def test_fixtures_are_the_official_artefacts_and_are_documented():
    assert (FIXTURE_DIR / "ORIGIN.md").is_file()
    for name in ("fhir.schema.json", "xsd/fhir-single.xsd", "xsd/fhir-xhtml.xsd", "xsd/xml.xsd"):
        assert (FIXTURE_DIR / name).is_file(), name
    definitions = sorted((FIXTURE_DIR / "definitions").glob("StructureDefinition-*.json"))
    assert len(definitions) == 85
    sd = json.loads((FIXTURE_DIR / "definitions" / "StructureDefinition-Questionnaire.json").read_text())
    assert sd["fhirVersion"] == "4.0.1"
    shared = ROOT.parent / "shared" / "fhir-r4"
    if shared.is_dir():  # identical to the shared copy where it exists
        for path in [FIXTURE_DIR / "fhir.schema.json", *definitions, *(FIXTURE_DIR / "xsd").glob("*.xsd")]:
            original = shared / path.relative_to(FIXTURE_DIR)
            assert path.read_bytes() == original.read_bytes(), path

