"""A small, fully known dataset for search tests: every query's answer can be worked out by hand."""
from __future__ import annotations

from tests.helpers import ODS

B = "https://fhir.dandthub.co.uk"
ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"


def _ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def _org(ods, name, parent=None, postcode=None, active=True, kind="prov", **extra):
    org = {"resourceType": "Organization", "id": ods, "identifier": [{"system": ODS, "value": ods}],
           "active": active, "name": name,
           "type": [{"coding": [{"system": ORG_TYPE, "code": kind,
                                 "display": {"govt": "Government", "prov": "Healthcare Provider"}[kind]}]}]}
    if parent:
        org["partOf"] = _ref(parent)
    if postcode:
        org["address"] = [{"postalCode": postcode}]
    org.update(extra)
    return org


def _qr(id_, practice, status, authored, questionnaire):
    return {"resourceType": "QuestionnaireResponse", "id": id_,
            "identifier": {"system": f"{B}/Id/submission", "value": id_},
            "questionnaire": questionnaire, "status": status, "subject": _ref(practice), "authored": authored,
            "item": [{"linkId": "LD1", "answer": [{"valueBoolean": True}]}]}


def _task(id_, practice, focus, status, priority, authored, owner, business, **extra):
    task = {"resourceType": "Task", "id": id_, "identifier": [{"system": f"{B}/Id/action", "value": id_}],
            "status": status, "intent": "plan", "priority": priority,
            "businessStatus": {"coding": [{"system": f"{B}/CodeSystem/action-status", "code": business}]},
            "focus": {"reference": f"QuestionnaireResponse/{focus}"}, "for": _ref(practice),
            "authoredOn": authored, "owner": _ref(owner)}
    task.update(extra)
    return task


# Forms outside the Hub's canonical base: responses to them meet R4 rules only, not a Hub form's.
FORMS = "https://forms.example.org/Questionnaire"
GLOBAL = f"{FORMS}/global|2026.1"
TELEPHONY = f"{FORMS}/telephony|1.0"
FOCUS = {"system": "http://terminology.hl7.org/CodeSystem/usage-context-type", "code": "focus"}


def dataset() -> list[dict]:
    return [
        _org("QHM", "NHS North East and North Cumbria ICB", kind="govt"),
        _org("QOQ", "NHS Humber and North Yorkshire ICB", kind="govt"),
        _org("U89141", "Stockton PCN", "QHM"),
        _org("U07032", "North Stockton PCN", "QHM"),
        _org("U55555", "Hull PCN", "QOQ"),
        _org("A81001", "The Densham Surgery", "U89141", "TS18 1HU",
             meta={"profile": [f"{B}/StructureDefinition/dthub-organization"]}),
        _org("A81002", "Queens Park Medical Centre", "U07032", "TS18 2AW",
             meta={"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "N"}]}),
        _org("A81004", "Acklam Medical Centre", "U89141", "TS5 8SB", active=False),
        _org("B81001", "Élan Surgery", "U55555", "HU1 1AA"),
        _org("A81099", "Practice Without A PCN", None, "TS1 1AA",
             meta={"tag": [{"system": "http://example.org/tags", "code": "demo"}]}),
        {"resourceType": "Questionnaire", "id": "global-2026.1", "url": f"{B}/Questionnaire/global",
         "version": "2026.1", "name": "GlobalAssessment", "title": "Global Digital and Transformation Assessment",
         "status": "active", "subjectType": ["Organization"],
         "code": [{"system": f"{B}/CodeSystem/assessment-kind", "code": "global"}],
         "item": [{"linkId": "LD1", "text": "Named digital lead?", "type": "boolean"}]},
        {"resourceType": "Questionnaire", "id": "telephony-1.0", "url": f"{B}/Questionnaire/telephony",
         "version": "1.0", "name": "TelephonyAssessment", "title": "In-depth assessment: telephony",
         "status": "draft", "subjectType": ["Organization"],
         "code": [{"system": f"{B}/CodeSystem/assessment-kind", "code": "indepth"},
                  {"system": f"{B}/CodeSystem/assessment-theme", "code": "telephony"}],
         "useContext": [{"code": FOCUS, "valueCodeableConcept": {"coding": [
             {"system": f"{B}/CodeSystem/assessment-theme", "code": "telephony"}]}}],
         "item": [{"linkId": "T1", "text": "Cloud telephony?", "type": "boolean"}]},
        _qr("S1", "A81001", "completed", "2026-05-10T10:22:00Z", GLOBAL),
        _qr("S2", "A81002", "completed", "2026-07-01T09:00:00+01:00", GLOBAL) | {"author": _ref("A81002")},
        _qr("S3", "B81001", "in-progress", "2026-08-15", TELEPHONY),
        _qr("S4", "A81004", "amended", "2025-12-31T23:30:00Z", GLOBAL),
        _task("T1", "A81001", "S1", "in-progress", "routine", "2026-05-11T08:00:00Z", "A81001", "in-progress",
              lastModified="2026-06-01T12:00:00Z",
              code={"coding": [{"system": f"{B}/CodeSystem/assessment-section", "code": "leadership"}]}),
        _task("T2", "A81002", "S2", "completed", "urgent", "2026-07-02", "U07032", "completed",
              executionPeriod={"end": "2026-08-01"}),
        _task("T3", "B81001", "S3", "requested", "routine", "2026-08-16", "QOQ", "proposed"),
        {"resourceType": "Consent", "id": "C1", "status": "active",
         "scope": {"coding": [{"system": f"{B}/CodeSystem/consent-scope", "code": "data-use-agreement"}]},
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
         "organization": [_ref("QHM")],
         "policyRule": {"coding": [{"system": f"{B}/CodeSystem/consent-policy", "code": "data-use-policy"}]},
         "provision": {"period": {"start": "2026-04-01", "end": "2027-03-31"}, "actor": [{"role": {"coding": [
             {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "GRANTEE"}]}, "reference": _ref("QHM")}],
             "securityLabel": [{"system": f"{B}/CodeSystem/data-type", "code": "global-assessment"}],
             "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HOPERAT"}]}},
        {"resourceType": "Consent", "id": "C2", "status": "inactive",
         "scope": {"coding": [{"system": f"{B}/CodeSystem/consent-scope", "code": "data-use-agreement"}]},
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
         "organization": [_ref("U89141")],
         "policyRule": {"coding": [{"system": f"{B}/CodeSystem/consent-policy", "code": "data-use-policy"}]},
         "provision": {"period": {"start": "2025-04-01", "end": "2026-03-31"}, "actor": [{"role": {"coding": [
             {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "GRANTEE"}]}, "reference": _ref("U89141")}],
             "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HQUALIMP"}]}},
        {"resourceType": "Measure", "id": "example-usage", "url": f"{B}/Measure/example-usage", "name": "ExampleUsage",
         "status": "active"},
        {"resourceType": "Measure", "id": "example-actions", "url": f"{B}/Measure/example-actions", "name": "ExampleActions",
         "status": "draft"},
        *[{"resourceType": "MeasureReport", "id": f"MR-{ods}", "status": "complete", "type": "individual",
           "extension": [{"url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject",
                          "valueReference": _ref(ods)}],
           "measure": f"{B}/Measure/usage", "period": period}
          for ods, period in (("A81001", {"start": "2026-10-01", "end": "2026-10-31"}),
                              ("A81002", {"start": "2026-09-01", "end": "2026-09-30"}))],
        {"resourceType": "AuditEvent", "id": "AE1",
         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
         "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read"}],
         "recorded": "2026-11-01T10:00:00Z", "outcome": "0",
         "purposeOfEvent": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HOPERAT"}]}],
         "agent": [{"requestor": True, "who": _ref("QHM")}], "source": {"observer": {"display": "dthub"}},
         "entity": [{"what": {"reference": "QuestionnaireResponse/S1"}}]},
        {"resourceType": "AuditEvent", "id": "AE2",
         "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"},
         "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "search-type"}],
         "recorded": "2026-11-02T10:00:00Z", "outcome": "4",
         "agent": [{"requestor": True, "who": _ref("U89141"), "purposeOfUse": [{"coding": [
             {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HMARKT"}]}]}],
         "source": {"observer": {"display": "dthub"}}, "entity": [{"what": {"reference": "Task/T1"}}]},
        {"resourceType": "Provenance", "id": "P1", "target": [{"reference": "QuestionnaireResponse/S1/_history/1"}],
         "recorded": "2026-05-10T11:00:00Z", "agent": [{"who": _ref("QHM")}]},
        {"resourceType": "Provenance", "id": "P2", "target": [{"reference": "Task/T1"}],
         "recorded": "2026-06-01T12:00:00Z", "agent": [{"who": {"display": "dthub import"}}]},
    ]


ALL_ORGS = {"QHM", "QOQ", "U89141", "U07032", "U55555", "A81001", "A81002", "A81004", "B81001", "A81099"}
SYS = "https://fhir.nhs.uk/Id/ods-organization-code"
# (query, expected ids) — a set where order is unspecified, a list where the order is the point.
# The data-use policy's tiers ship as active Consents in every store (adapter/policy/consents).
TIER_CONSENTS = {"policy-baseline", "policy-icb-contract", "policy-pcn-contract", "policy-federation-contract",
                 "policy-service", "policy-own-practice"}
ORACLE = [
    ("Organization?_id=A81001", {"A81001"}),
    ("Organization?_id=A81001,A81002", {"A81001", "A81002"}),
    (f"Organization?identifier={SYS}|A81002", {"A81002"}),
    ("Organization?identifier=A81002", {"A81002"}),
    ("Organization?identifier=|A81002", set()),
    (f"Organization?identifier={SYS}|", ALL_ORGS),
    ("Organization?name=stock", {"U89141"}),
    ("Organization?name=STOCK", {"U89141"}),
    ("Organization?name:contains=stock", {"U89141", "U07032"}),
    ("Organization?name:exact=Stockton PCN", {"U89141"}),
    ("Organization?name:exact=stockton pcn", set()),
    ("Organization?name=elan", {"B81001"}),
    ("Organization?name=ÉLAN", {"B81001"}),
    ("Organization?name=stock,hull", {"U89141", "U55555"}),
    ("Organization?name=nhs&name:contains=humber", {"QOQ"}),
    ("Organization?active=false", {"A81004"}),
    ("Organization?active:not=false", ALL_ORGS - {"A81004"}),
    (f"Organization?type={'http://terminology.hl7.org/CodeSystem/organization-type'}|govt", {"QHM", "QOQ"}),
    ("Organization?type:text=govern", {"QHM", "QOQ"}),
    ("Organization?partof=Organization/U89141", {"A81001", "A81004"}),
    ("Organization?partof=U89141", {"A81001", "A81004"}),
    ("Organization?partof:Organization=U89141", {"A81001", "A81004"}),
    (f"Organization?partof:identifier={SYS}|U89141", {"A81001", "A81004"}),
    ("Organization?partof=http://fhir.test/fhir/Organization/U89141", {"A81001", "A81004"}),
    ("Organization?partof:below=QHM", {"U89141", "U07032", "A81001", "A81002", "A81004"}),
    ("Organization?partof:below=QOQ,U07032", {"U55555", "B81001", "A81002"}),
    ("Organization?partof:missing=true", {"QHM", "QOQ", "A81099"}),
    ("Organization?address-postalcode=TS18", {"A81001", "A81002"}),
    ("Organization?address-postalcode:missing=true", {"QHM", "QOQ", "U89141", "U07032", "U55555"}),
    ("Organization?partof.name=stockton", {"A81001", "A81004"}),
    ("Organization?partof:Organization.partof=QHM", {"A81001", "A81002", "A81004"}),
    ("Organization?_has:QuestionnaireResponse:subject:status=completed", {"A81001", "A81002"}),
    ("Organization?_has:Task:subject:priority=urgent", {"A81002"}),
    ("Organization?_lastUpdated=gt2000-01-01", ALL_ORGS),
    ("Organization?_lastUpdated=lt2000-01-01", set()),
    (f"Organization?_profile={B}/StructureDefinition/dthub-organization", {"A81001"}),
    ("Organization?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N", {"A81002"}),
    ("Organization?_tag=http://example.org/tags|demo", {"A81099"}),
    ("Organization?_sort=name&partof:below=QHM", ["A81004", "U07032", "A81002", "U89141", "A81001"]),
    ("Organization?_sort=-name&partof=U89141", ["A81001", "A81004"]),
    ("Organization?_sort=-_id&_id=A81001,A81002,A81004", ["A81004", "A81002", "A81001"]),
    ("QuestionnaireResponse?subject=Organization/A81001", {"S1"}),
    ("QuestionnaireResponse?subject.partof=U89141", {"S1", "S4"}),
    (f"QuestionnaireResponse?subject:Organization.identifier={SYS}|A81002", {"S2"}),
    (f"QuestionnaireResponse?subject:identifier={SYS}|A81002", {"S2"}),
    ("QuestionnaireResponse?status=completed,amended", {"S1", "S2", "S4"}),
    ("QuestionnaireResponse?status:not=completed", {"S3", "S4"}),
    ("QuestionnaireResponse?authored=2026-05-10", {"S1"}),
    ("QuestionnaireResponse?authored=ge2026-07-01", {"S2", "S3"}),
    ("QuestionnaireResponse?authored=lt2026-01-01", {"S4"}),
    ("QuestionnaireResponse?authored=2026", {"S1", "S2", "S3"}),
    ("QuestionnaireResponse?authored=ge2026-05-01&authored=le2026-07-31", {"S1", "S2"}),
    ("QuestionnaireResponse?authored=sa2026-07-01", {"S3"}),
    ("QuestionnaireResponse?authored=eb2026-05-10", {"S4"}),
    ("QuestionnaireResponse?authored=ne2026-05-10", {"S2", "S3", "S4"}),
    ("QuestionnaireResponse?authored=ap2026-05-10", {"S1"}),
    ("QuestionnaireResponse?authored=gt2026-07-01T07:59:00Z", {"S2", "S3"}),
    ("QuestionnaireResponse?authored=lt2026-07-01T08:00:00Z", {"S1", "S4"}),
    (f"QuestionnaireResponse?questionnaire={FORMS}/global|2026.1", {"S1", "S2", "S4"}),
    (f"QuestionnaireResponse?questionnaire={FORMS}/global", {"S1", "S2", "S4"}),
    (f"QuestionnaireResponse?identifier={B}/Id/submission|S2", {"S2"}),
    ("QuestionnaireResponse?_has:Task:focus:status=completed", {"S2"}),
    ("QuestionnaireResponse?author=Organization/A81002", {"S2"}),
    ("QuestionnaireResponse?author:missing=true", {"S1", "S3", "S4"}),
    ("QuestionnaireResponse?_sort=-authored", ["S3", "S2", "S1", "S4"]),
    ("QuestionnaireResponse?_sort=authored", ["S4", "S1", "S2", "S3"]),
    ("QuestionnaireResponse?_sort=status,-authored", ["S4", "S2", "S1", "S3"]),
    ("Task?status=in-progress", {"T1"}),
    ("Task?owner=Organization/U07032", {"T2"}),
    ("Task?subject=A81001", {"T1"}),
    (f"Task?subject:Organization.identifier={SYS}|B81001", {"T3"}),
    ("Task?focus=QuestionnaireResponse/S2", {"T2"}),
    ("Task?priority=urgent", {"T2"}),
    ("Task?authored-on=ge2026-07-01", {"T2", "T3"}),
    ("Task?modified=2026-06-01", {"T1"}),
    ("Task?period=le2026-08-01", {"T2"}),
    (f"Task?identifier={B}/Id/action|T3", {"T3"}),
    ("Task?code=leadership", {"T1"}),
    (f"Task?business-status={B}/CodeSystem/action-status|proposed", {"T3"}),
    ("Task?owner:missing=false", {"T1", "T2", "T3"}),
    ("Task?subject.partof=U89141&status=in-progress", {"T1"}),
    ("Task?subject.partof=U89141,U07032", {"T1", "T2"}),
    ("Consent?status=active", {"C1"} | TIER_CONSENTS),
    ("Consent?actor=Organization/QHM", {"C1"}),
    ("Consent?organization=U89141", {"C2"}),
    ("Consent?purpose=HOPERAT", {"C1"}),
    (f"Consent?security-label={B}/CodeSystem/data-type|global-assessment", {"C1"}),
    ("Consent?period=ge2027-01-01", {"C1"}),
    (f"Consent?scope={B}/CodeSystem/consent-scope|data-use-agreement", {"C1", "C2"} | TIER_CONSENTS),
    ("Consent?category=IDSCL", {"C1", "C2"} | TIER_CONSENTS),
    (f"Measure?url={B}/Measure/example-usage", {"example-usage"}),
    ("Measure?name=exampleus", {"example-usage"}),
    ("Measure?status=draft", {"example-actions"}),
    (f"MeasureReport?measure={B}/Measure/usage", {"MR-A81001", "MR-A81002"}),
    ("MeasureReport?organization=Organization/A81001", {"MR-A81001"}),
    (f"MeasureReport?organization:identifier={SYS}|A81002", {"MR-A81002"}),
    ("MeasureReport?period=2026-10", {"MR-A81001"}),
    ("MeasureReport?status=complete", {"MR-A81001", "MR-A81002"}),
    ("MeasureReport?subject=Organization/A81001", set()),
    ("AuditEvent?date=ge2026-11-02", {"AE2"}),
    ("AuditEvent?agent=Organization/QHM", {"AE1"}),
    ("AuditEvent?entity=QuestionnaireResponse/S1", {"AE1"}),
    ("AuditEvent?type=rest", {"AE1", "AE2"}),
    ("AuditEvent?subtype=read", {"AE1"}),
    ("AuditEvent?outcome=4", {"AE2"}),
    ("AuditEvent?purpose-of-use=HMARKT", {"AE2"}),
    ("AuditEvent?purpose-of-use=http://terminology.hl7.org/CodeSystem/v3-ActReason|HOPERAT", {"AE1"}),
    ("Provenance?target=QuestionnaireResponse/S1", {"P1"}),
    ("Provenance?agent=Organization/QHM", {"P1"}),
    ("Provenance?recorded=2026-06-01", {"P2"}),
    (f"Questionnaire?url={B}/Questionnaire/global", {"global-2026.1"}),
    ("Questionnaire?version=1.0", {"telephony-1.0"}),
    ("Questionnaire?status=active", {"global-2026.1"}),
    ("Questionnaire?name=global", {"global-2026.1"}),
    ("Questionnaire?title:contains=telephony", {"telephony-1.0"}),
    ("Questionnaire?code=global", {"global-2026.1"}),
    (f"Questionnaire?code={B}/CodeSystem/assessment-theme|telephony", {"telephony-1.0"}),
    ("Questionnaire?context=telephony", {"telephony-1.0"}),
    (f"CodeSystem?url={B}/CodeSystem/granularity", {"granularity"}),
]
