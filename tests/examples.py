"""Realistic resources of every writable type, as the adapter's clients would send them."""
from __future__ import annotations

from tests.helpers import ODS, organization, task

BASE = "https://fhir.dandthub.co.uk"
XHTML = "http://www.w3.org/1999/xhtml"


def questionnaire() -> dict:
    return {
        "resourceType": "Questionnaire", "id": "global-2026.1",
        "url": f"{BASE}/Questionnaire/global", "version": "2026.1", "name": "GlobalAssessment",
        "title": "Global Digital and Transformation Assessment", "status": "active",
        "subjectType": ["Organization"], "date": "2026-04-01",
        "item": [{
            "linkId": "leadership", "text": "Leadership and digital strategy", "type": "group",
            "item": [
                {"linkId": "LD1", "text": "Does the practice have a named digital lead?", "type": "choice",
                 "required": True,
                 "answerOption": [
                     {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 4}],
                      "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y", "display": "Yes"}},
                     {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 0}],
                      "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "N", "display": "No"}}]},
                {"linkId": "LD3", "text": "What are the main barriers?", "type": "text", "required": False,
                 "enableWhen": [{"question": "LD1", "operator": "=",
                                 "answerCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y"}}]},
            ]}],
    }


def questionnaire_response() -> dict:
    return {
        "resourceType": "QuestionnaireResponse", "id": "S-2026-000123",
        "text": {"status": "generated", "div": f'<div xmlns="{XHTML}"><p>Global assessment of <b>A81001</b> &amp; scores</p></div>'},
        "contained": [
            {"resourceType": "Practitioner", "id": "author", "name": [{"text": "Jo Bloggs"}],
             "telecom": [{"system": "email", "value": "jo.bloggs@nhs.net"}]},
            {"resourceType": "PractitionerRole", "id": "author-role", "practitioner": {"reference": "#author"},
             "organization": {"reference": "Organization/A81001", "identifier": {"system": ODS, "value": "A81001"}},
             "code": [{"text": "Practice Manager"}]}],
        "extension": [{"url": f"{BASE}/StructureDefinition/score", "extension": [
            {"url": "score", "valueDecimal": 4}, {"url": "maximum", "valueDecimal": 4}]}],
        "identifier": {"system": f"{BASE}/Id/submission", "value": "S-2026-000123"},
        # Not one of the Hub's forms, so only R4 and profile rules apply (see test_questionnaire_check).
        "questionnaire": "https://forms.example.org/Questionnaire/global|2026.1", "status": "completed",
        "subject": {"reference": "Organization/A81001", "identifier": {"system": ODS, "value": "A81001"}},
        "authored": "2026-05-10T10:22:00Z", "author": {"reference": "#author-role"},
        "item": [{"linkId": "leadership", "item": [
            {"linkId": "LD1", "answer": [{"valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0136", "code": "Y"}}]},
            {"linkId": "LD3", "answer": [{"valueString": "Time and money"}]}]}],
    }


def consent() -> dict:
    return {
        "resourceType": "Consent", "id": "C-QHM-2026", "status": "active",
        "scope": {"coding": [{"system": f"{BASE}/CodeSystem/consent-scope", "code": "data-use-agreement"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
        "dateTime": "2026-04-01T00:00:00Z",
        "organization": [{"reference": "Organization/QHM", "identifier": {"system": ODS, "value": "QHM"}}],
        "policyRule": {"coding": [{"system": f"{BASE}/CodeSystem/consent-policy", "code": "data-use-policy"}]},
        "provision": {"type": "permit", "period": {"start": "2026-04-01", "end": "2027-03-31"},
                      "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "GRANTEE"}]},
                                 "reference": {"reference": "Organization/QHM", "identifier": {"system": ODS, "value": "QHM"}}}],
                      "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HOPERAT"}]},
    }


def override() -> dict:
    """A Consent a service client may write: an override withdrawing part of a tier. (Contract
    Consents like `consent()` are written only by imports.)"""
    from adapter.policy import override_consent

    return override_consent("OVR-QHM-actions", "policy-icb-contract", orgs=["QHM"], data_types=["actions"],
                            levels=["practice"])


def measure() -> dict:
    return {
        "resourceType": "Measure", "id": "example-uptake", "url": f"{BASE}/Measure/example-uptake", "name": "ExampleUptake",
        "title": "Usage and uptake", "status": "active", "date": "2026-11-01",
        "scoring": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring", "code": "continuous-variable"}]},
        "group": [{"code": {"text": "logins"}, "population": [{"code": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "initial-population"}]},
            "criteria": {"language": "text/fhirpath", "expression": "%practices"}}]}],
    }


def measure_report() -> dict:
    return {
        "resourceType": "MeasureReport", "id": "usage-A81001-2026-10", "status": "complete", "type": "individual",
        "extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject",
                       "valueReference": {"reference": "Organization/A81001", "identifier": {"system": ODS, "value": "A81001"}}}],
        "measure": f"{BASE}/Measure/usage", "date": "2026-11-01T02:00:00Z",
        "period": {"start": "2026-10-01", "end": "2026-10-31"},
        "group": [{"code": {"text": "logins"}, "population": [{"code": {"coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/measure-population", "code": "initial-population"}]}, "count": 1}],
            "measureScore": {"value": 41}}],
    }


def audit_event() -> dict:
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
        "action": "R", "recorded": "2026-11-01T10:00:00Z", "outcome": "0",
        "agent": [{"requestor": True, "who": {"identifier": {"value": "client-1"}}}],
        "source": {"observer": {"display": "dthub"}},
        "entity": [{"what": {"reference": "Organization/A81001"}}],
    }


def provenance() -> dict:
    return {
        "resourceType": "Provenance", "id": "import-1",
        "target": [{"reference": "Organization/A81001/_history/1"}], "recorded": "2026-11-01T02:00:00Z",
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]},
        "agent": [{"who": {"display": "dthub import"}}],
    }


def writable_examples() -> dict[str, dict]:
    return {
        "Organization": organization(), "Questionnaire": questionnaire(),
        "QuestionnaireResponse": questionnaire_response(), "Task": task(), "Consent": override(),
        "Measure": measure(), "MeasureReport": measure_report(), "Provenance": provenance(),
    }
