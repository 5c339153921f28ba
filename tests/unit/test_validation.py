"""validate_resource: R4 (4.0.1) validation of every resource written to the server."""
from __future__ import annotations

import copy

import pytest

from adapter.outcomes import Issue
from adapter.validation import validate_resource

LOINC = "http://loinc.org"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"


def organization() -> dict:
    return {
        "resourceType": "Organization",
        "id": "org-1",
        "meta": {"versionId": "3", "lastUpdated": "2024-03-01T10:00:00.000+01:00",
                 "profile": ["http://example.org/fhir/StructureDefinition/dthub-organization"]},
        "text": {"status": "generated",
                 "div": '<div xmlns="http://www.w3.org/1999/xhtml">Acme Health</div>'},
        "identifier": [{"use": "official", "system": "http://fhir.nl/fhir/NamingSystem/agb-z",
                        "value": "01234567"}],
        "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov", "display": "Healthcare Provider"}]}],
        "name": "Acme Health",
        "alias": ["Acme"],
        "telecom": [{"system": "phone", "value": "+31 20 123 4567", "use": "work", "rank": 1},
                    {"system": "email", "value": "info@acme.example"}],
        "address": [{"use": "work", "type": "both", "line": ["Hoofdstraat 1"], "city": "Amsterdam",
                     "postalCode": "1000 AA", "country": "NL"}],
        "partOf": {"reference": "Organization/acme-group", "display": "Acme Group"},
        "contact": [{"purpose": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/contactentity-type", "code": "ADMIN"}]},
            "name": {"use": "official", "family": "Jansen", "given": ["Piet"]}}],
    }


def _option(code: str, display: str, ordinal: float) -> dict:
    return {
        "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                       "valueDecimal": ordinal}],
        "valueCoding": {"system": LOINC, "code": code, "display": display},
    }


def questionnaire() -> dict:
    return {
        "resourceType": "Questionnaire",
        "id": "phq-2",
        "url": "http://example.org/fhir/Questionnaire/phq-2",
        "version": "1.0.0",
        "name": "PHQ2",
        "title": "Patient Health Questionnaire-2",
        "status": "active",
        "subjectType": ["Patient"],
        "date": "2024-01-15",
        "publisher": "D&T Hub",
        "code": [{"system": LOINC, "code": "55757-9"}],
        "item": [{
            "linkId": "g1",
            "text": "Over the last 2 weeks, how often have you been bothered by",
            "type": "group",
            "required": True,
            "item": [
                {"linkId": "q1", "code": [{"system": LOINC, "code": "44250-9"}],
                 "text": "Little interest or pleasure in doing things", "type": "choice",
                 "required": True,
                 "answerOption": [_option("LA6568-5", "Not at all", 0),
                                  _option("LA6569-3", "Several days", 1),
                                  _option("LA6570-1", "More than half the days", 2.5)]},
                {"linkId": "q2", "text": "Total score", "type": "integer", "readOnly": True,
                 "enableWhen": [{"question": "q1", "operator": "exists", "answerBoolean": True}],
                 "enableBehavior": "all"},
            ],
        }],
    }


def questionnaire_response() -> dict:
    return {
        "resourceType": "QuestionnaireResponse",
        "id": "qr-1",
        "contained": [{"resourceType": "Practitioner", "id": "p1",
                       "name": [{"family": "de Vries", "given": ["Anna"]}]}],
        "questionnaire": "http://example.org/fhir/Questionnaire/phq-2",
        "status": "completed",
        "subject": {"reference": "Patient/pat-1"},
        "authored": "2024-03-01T09:30:00+01:00",
        "author": {"reference": "#p1"},
        "item": [{"linkId": "g1", "item": [
            {"linkId": "q1", "answer": [{"valueCoding": {"system": LOINC, "code": "LA6569-3",
                                                         "display": "Several days"}}]},
            {"linkId": "q2", "answer": [{"valueInteger": 1}]},
        ]}],
    }


def task() -> dict:
    return {
        "resourceType": "Task",
        "id": "task-1",
        "identifier": [{"system": "http://example.org/task-ids", "value": "T-1"}],
        "basedOn": [{"reference": "ServiceRequest/sr-1"}],
        "status": "in-progress",
        "businessStatus": {"text": "waiting for patient"},
        "intent": "order",
        "priority": "routine",
        "code": {"coding": [{"system": "http://hl7.org/fhir/CodeSystem/task-code",
                             "code": "fulfill"}]},
        "description": "Complete the PHQ-2 questionnaire",
        "focus": {"reference": "Questionnaire/phq-2"},
        "for": {"reference": "Patient/pat-1"},
        "executionPeriod": {"start": "2024-03-01T09:00:00Z"},
        "authoredOn": "2024-03-01T08:00:00Z",
        "lastModified": "2024-03-01T09:00:00Z",
        "requester": {"reference": "Organization/org-1"},
        "owner": {"reference": "Practitioner/prac-1", "type": "Practitioner"},
        "restriction": {"repetitions": 1, "period": {"end": "2024-03-31"}},
        "input": [{"type": {"text": "questionnaire"},
                   "valueCanonical": "http://example.org/fhir/Questionnaire/phq-2"}],
        "output": [{"type": {"text": "response"},
                    "valueReference": {"reference": "QuestionnaireResponse/qr-1"}}],
    }


def consent() -> dict:
    return {
        "resourceType": "Consent",
        "id": "consent-1",
        "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        "patient": {"reference": "Patient/pat-1"},
        "dateTime": "2024-02-01T12:00:00Z",
        "organization": [{"reference": "Organization/org-1"}],
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                   "code": "OPTIN"}]},
        "provision": {
            "type": "permit",
            "period": {"start": "2024-02-01", "end": "2025-02-01"},
            "actor": [{"role": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "IRCP"}]},
                "reference": {"reference": "Organization/org-1"}}],
            "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction",
                                    "code": "access"}]}],
            "data": [{"meaning": "related",
                      "reference": {"reference": "QuestionnaireResponse/qr-1"}}],
        },
    }


def _population(code: str, **extra) -> dict:
    return {"code": {"coding": [{"system": MEASURE_POPULATION, "code": code}]}, **extra}


def measure() -> dict:
    return {
        "resourceType": "Measure",
        "id": "phq2-screening",
        "url": "http://example.org/fhir/Measure/phq2-screening",
        "version": "1",
        "name": "PHQ2Screening",
        "title": "PHQ-2 screening rate",
        "status": "active",
        "experimental": False,
        "date": "2024-01-01",
        "publisher": "D&T Hub",
        "description": "Share of patients screened with the PHQ-2.",
        "library": ["http://example.org/fhir/Library/phq2"],
        "scoring": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-scoring",
                                "code": "proportion"}]},
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-type",
                              "code": "process"}]}],
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": "increase"}]},
        "group": [{"population": [
            _population("initial-population",
                        criteria={"language": "text/cql", "expression": "Initial Population"}),
            _population("denominator",
                        criteria={"language": "text/cql", "expression": "Denominator"}),
            _population("numerator", criteria={"language": "text/cql", "expression": "Numerator"}),
        ]}],
    }


def measure_report() -> dict:
    return {
        "resourceType": "MeasureReport",
        "id": "mr-1",
        "status": "complete",
        "type": "summary",
        "measure": "http://example.org/fhir/Measure/phq2-screening",
        "date": "2024-04-01T00:00:00Z",
        "reporter": {"reference": "Organization/org-1"},
        "period": {"start": "2024-01-01", "end": "2024-03-31"},
        "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": "increase"}]},
        "group": [{
            "population": [_population("initial-population", count=120),
                           _population("denominator", count=100),
                           _population("numerator", count=80)],
            "measureScore": {"value": 0.8},
        }],
    }


def audit_event() -> dict:
    return {
        "resourceType": "AuditEvent",
        "id": "ae-1",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                 "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "create"}],
        "action": "C",
        "recorded": "2024-03-01T09:30:01.123Z",
        "outcome": "0",
        "agent": [{
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": "AUT"}]},
            "who": {"reference": "Practitioner/prac-1"},
            "requestor": True,
            "network": {"address": "10.0.0.1", "type": "2"},
        }],
        "source": {"site": "dthub", "observer": {"display": "D&T Hub FHIR adapter"},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                             "code": "4"}]},
        "entity": [{"what": {"reference": "QuestionnaireResponse/qr-1/_history/1"},
                    "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                             "code": "2"},
                    "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role",
                             "code": "4"}}],
    }


def provenance() -> dict:
    return {
        "resourceType": "Provenance",
        "id": "prov-1",
        "target": [{"reference": "QuestionnaireResponse/qr-1/_history/1"}],
        "recorded": "2024-03-01T09:30:01Z",
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                                 "code": "CREATE"}]},
        "agent": [{
            "type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "author"}]},
            "who": {"reference": "Practitioner/prac-1"},
            "onBehalfOf": {"reference": "Organization/org-1"},
        }],
        "entity": [{"role": "source", "what": {"reference": "Questionnaire/phq-2"}}],
        "signature": [{
            "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}],
            "when": "2024-03-01T09:30:01Z",
            "who": {"reference": "Practitioner/prac-1"},
            "sigFormat": "application/jose",
            "data": "ZXlKaGJHY2lPaUpTVXpJMU5pSjk=",
        }],
    }


def code_system() -> dict:
    return {
        "resourceType": "CodeSystem",
        "id": "dthub-task-codes",
        "url": "http://example.org/fhir/CodeSystem/dthub-task-codes",
        "version": "1.0.0",
        "name": "DthubTaskCodes",
        "status": "active",
        "content": "complete",
        "caseSensitive": True,
        "hierarchyMeaning": "is-a",
        "property": [{"code": "weight", "type": "decimal"}],
        "concept": [{"code": "screening", "display": "Screening",
                     "property": [{"code": "weight", "valueDecimal": 1.5}],
                     "concept": [{"code": "phq2", "display": "PHQ-2 screening"}]}],
    }


def value_set() -> dict:
    return {
        "resourceType": "ValueSet",
        "id": "dthub-task-codes",
        "url": "http://example.org/fhir/ValueSet/dthub-task-codes",
        "status": "active",
        "compose": {"include": [{"system": "http://example.org/fhir/CodeSystem/dthub-task-codes",
                                 "filter": [{"property": "concept", "op": "is-a",
                                             "value": "screening"}]}]},
        "expansion": {"identifier": "urn:uuid:2d0f4a4e-0c6c-4d4e-9d8b-2b1f1f0a9c11",
                      "timestamp": "2024-03-01T00:00:00Z",
                      "contains": [{"system": "http://example.org/fhir/CodeSystem/dthub-task-codes",
                                    "code": "phq2", "display": "PHQ-2 screening"}]},
    }


def search_parameter() -> dict:
    return {
        "resourceType": "SearchParameter",
        "id": "task-business-status",
        "url": "http://example.org/fhir/SearchParameter/task-business-status",
        "name": "business-status",
        "status": "active",
        "description": "Search Tasks by business status",
        "code": "business-status",
        "base": ["Task"],
        "type": "token",
        "expression": "Task.businessStatus",
        "xpath": "f:Task/f:businessStatus",
        "xpathUsage": "normal",
        "modifier": ["text"],
    }


VALID = [organization, questionnaire, questionnaire_response, task, consent, measure,
         measure_report, audit_event, provenance, code_system, value_set, search_parameter]


def errors(resource: object) -> list[Issue]:
    return [i for i in validate_resource(resource) if i.severity == "error"]


def only(resource: object) -> Issue:
    found = errors(resource)
    assert len(found) == 1, found
    return found[0]


def assert_issue(resource: object, code: str, expression: str) -> Issue:
    found = errors(resource)
    matching = [i for i in found if i.code == code and i.expression == (expression,)]
    assert matching, found
    return matching[0]


# --- valid resources --------------------------------------------------------------------------

@pytest.mark.parametrize("make", VALID, ids=lambda f: f.__name__)
def test_realistic_r4_resource_has_no_issues(make):
    assert validate_resource(make()) == []


def test_validation_does_not_modify_the_resource():
    resource = questionnaire_response()
    before = copy.deepcopy(resource)
    validate_resource(resource)
    assert resource == before


def test_primitive_extension_alone_satisfies_min_cardinality():
    resource = task()
    del resource["status"]
    resource["_status"] = {"extension": [{
        "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}
    assert errors(resource) == []


def test_null_in_primitive_array_is_allowed_where_the_extension_array_has_a_value():
    resource = organization()
    resource["alias"] = ["Acme", None]
    resource["_alias"] = [None, {"extension": [{"url": "http://example.org/alias-kind",
                                                "valueString": "legacy"}]}]
    assert errors(resource) == []


def test_r4_only_open_type_meta_is_accepted_in_extension_value():
    resource = task()
    resource["extension"] = [{"url": "http://example.org/snapshot", "valueMeta": {"versionId": "2"}}]
    assert errors(resource) == []


def test_bundle_entries_are_validated_with_their_own_contained_scope():
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "http://example.org/fhir/QuestionnaireResponse/qr-1",
         "resource": questionnaire_response()},
        {"fullUrl": "urn:uuid:5f6a1c9e-3f2b-4b1a-8f7e-1c2d3e4f5a6b", "resource": task()},
    ]}
    assert validate_resource(bundle) == []


def test_r4_resource_type_absent_from_r4b_is_checked_without_the_model():
    product = {"resourceType": "MedicinalProduct", "id": "mp-1",
               "name": [{"productName": "Paracetamol 500 mg"}]}
    assert validate_resource(product) == []
    product["name"][0]["productName"] = 5
    assert_issue(product, "invalid", "MedicinalProduct.name[0].productName")


# --- not a resource ---------------------------------------------------------------------------

@pytest.mark.parametrize("thing", [[], "Task", 5, None])
def test_non_object_is_a_structure_issue(thing):
    issue = only(thing)
    assert issue.code == "structure"


def test_missing_resource_type_is_invalid():
    resource = task()
    del resource["resourceType"]
    assert only(resource) == Issue("error", "invalid", "resourceType is missing", ("resourceType",))


@pytest.mark.parametrize("resource_type", ["Foo", "Citation", "SubscriptionTopic", "Resource"])
def test_resource_type_not_in_r4_is_invalid(resource_type):
    issue = only({"resourceType": resource_type, "id": "x"})
    assert (issue.code, issue.expression) == ("invalid", ("resourceType",))


# --- required elements (min cardinality) ------------------------------------------------------

@pytest.mark.parametrize("make,element", [
    (task, "intent"), (task, "status"), (questionnaire_response, "status"),
    (consent, "scope"), (measure_report, "period"), (audit_event, "source"),
    (provenance, "agent"), (search_parameter, "base"),
])
def test_missing_required_element_is_reported_as_required(make, element):
    resource = make()
    del resource[element]
    assert only(resource).code == "required"
    assert_issue(resource, "required", f"{resource['resourceType']}.{element}")


def test_missing_link_id_in_nested_questionnaire_response_item_is_required():
    resource = questionnaire_response()
    del resource["item"][0]["item"][1]["linkId"]
    assert only(resource).expression == ("QuestionnaireResponse.item[0].item[1].linkId",)


def test_missing_required_choice_is_reported_on_the_choice_element():
    resource = task()
    del resource["input"][0]["valueCanonical"]
    assert only(resource).expression == ("Task.input[0].value[x]",)


def test_missing_required_element_in_datatype_is_required():
    resource = organization()
    resource["extension"] = [{"valueString": "no url"}]
    assert_issue(resource, "required", "Organization.extension[0].url")


def test_missing_primitive_required_in_schema_only_type_comes_from_the_model():
    patient = {"resourceType": "Patient", "link": [{"other": {"reference": "Patient/2"}}]}
    issue = only(patient)
    assert (issue.code, issue.expression) == ("required", ("Patient.link[0].type",))


# --- required bindings ------------------------------------------------------------------------

@pytest.mark.parametrize("make,element,code", [
    (task, "status", "bogus"),
    (task, "intent", "directive"),              # request-intent code not in the R4 Task subset
    (questionnaire_response, "status", "done"),
    (consent, "status", "not-done"),            # R5-only Consent.status
    (measure_report, "status", "draft"),
    (search_parameter, "type", "resource"),      # R5-only search-param-type
])
def test_code_outside_the_r4_required_value_set_is_a_value_issue(make, element, code):
    resource = make()
    resource[element] = code
    issue = only(resource)
    assert (issue.code, issue.expression) == ("value", (f"{resource['resourceType']}.{element}",))


def test_r4b_only_resource_type_in_search_parameter_base_is_rejected():
    resource = search_parameter()
    resource["base"] = ["Task", "Citation"]
    assert only(resource).expression == ("SearchParameter.base[1]",)


def test_r4b_fhir_version_is_rejected_in_capability_statement():
    statement = {"resourceType": "CapabilityStatement", "status": "active", "date": "2024-01-01",
                 "kind": "instance", "fhirVersion": "4.3.0", "format": ["json"],
                 "implementation": {"description": "D&T Hub"}}
    assert only(statement).expression == ("CapabilityStatement.fhirVersion",)
    statement["fhirVersion"] = "4.0.1"
    assert errors(statement) == []


def test_abstract_questionnaire_item_type_is_rejected():
    resource = questionnaire()
    resource["item"][0]["item"][1]["type"] = "question"
    assert_issue(resource, "value", "Questionnaire.item[0].item[1].type")


def test_r5_only_questionnaire_item_type_is_rejected():
    resource = questionnaire()
    resource["item"][0]["item"][0]["type"] = "coding"
    assert only(resource).expression == ("Questionnaire.item[0].item[0].type",)


@pytest.mark.parametrize("path,value,expression", [
    (("group", 0, "measureScore", "comparator"), "<<", "MeasureReport.group[0].measureScore.comparator"),
    (("text",), {"status": "draft", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
     "MeasureReport.text.status"),
    (("identifier",), [{"use": "primary", "value": "1"}], "MeasureReport.identifier[0].use"),
])
def test_required_bindings_of_nested_datatypes_apply(path, value, expression):
    resource = measure_report()
    target = resource
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    issue = only(resource)
    assert (issue.code, issue.expression) == ("value", (expression,))


def test_datatype_bindings_in_organization_contact_and_address():
    resource = organization()
    resource["telecom"][0]["system"] = "telex"
    resource["address"][0]["use"] = "postal"
    resource["contact"][0]["name"]["use"] = "alias"
    found = {i.expression[0] for i in errors(resource) if i.code == "value"}
    assert found == {"Organization.telecom[0].system", "Organization.address[0].use",
                     "Organization.contact[0].name.use"}


def test_bad_coding_in_required_codeable_concept_binding_is_a_value_issue():
    resource = measure()
    resource["improvementNotation"] = {"coding": [{"system": IMPROVEMENT, "code": "better"}]}
    issue = only(resource)
    assert (issue.code, issue.expression) == ("value", ("Measure.improvementNotation",))


def test_required_codeable_concept_binding_needs_the_right_system():
    resource = measure_report()
    resource["improvementNotation"] = {"coding": [{"system": "http://example.org", "code": "increase"}]}
    assert_issue(resource, "value", "MeasureReport.improvementNotation")


def test_one_matching_coding_satisfies_a_required_codeable_concept_binding():
    resource = measure()
    resource["improvementNotation"]["coding"].insert(0, {"system": "http://example.org/local",
                                                         "code": "up"})
    assert errors(resource) == []


def test_schema_only_resource_type_still_checks_required_codes():
    practitioner = {"resourceType": "Practitioner", "gender": "f"}
    issue = only(practitioner)
    assert (issue.code, issue.expression) == ("value", ("Practitioner.gender",))


# --- primitive formats and JSON types ---------------------------------------------------------

def test_boolean_given_as_string_is_invalid():
    resource = organization()
    resource["active"] = "true"
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", ("Organization.active",))


def test_boolean_given_as_number_is_invalid():
    resource = questionnaire()
    resource["item"][0]["required"] = 1
    assert only(resource).expression == ("Questionnaire.item[0].required",)


def test_integer_given_as_string_is_invalid():
    resource = questionnaire_response()
    resource["item"][0]["item"][1]["answer"][0]["valueInteger"] = "1"
    issue = only(resource)
    assert (issue.code, issue.expression) == (
        "invalid", ("QuestionnaireResponse.item[0].item[1].answer[0].valueInteger",))


def test_integer_with_fraction_and_out_of_32_bit_range_are_value_issues():
    resource = measure_report()
    resource["group"][0]["population"][0]["count"] = 1.5
    resource["group"][0]["population"][1]["count"] = 2 ** 31
    found = {(i.code, i.expression[0]) for i in errors(resource)}
    assert found == {("value", "MeasureReport.group[0].population[0].count"),
                     ("value", "MeasureReport.group[0].population[1].count")}


def test_decimal_given_as_string_is_invalid():
    resource = measure_report()
    resource["group"][0]["measureScore"]["value"] = "0.8"
    assert_issue(resource, "invalid", "MeasureReport.group[0].measureScore.value")


def test_date_time_with_time_but_no_timezone_is_a_value_issue():
    resource = task()
    resource["authoredOn"] = "2024-03-01T08:00:00"
    issue = only(resource)
    assert (issue.code, issue.expression) == ("value", ("Task.authoredOn",))


@pytest.mark.parametrize("element,value", [
    ("authoredOn", "2024-02-30"), ("authoredOn", "2024-3-1"), ("lastModified", "yesterday"),
])
def test_impossible_or_malformed_dates_are_value_issues(element, value):
    resource = task()
    resource[element] = value
    assert only(resource).expression == (f"Task.{element}",)


def test_instant_needs_seconds_and_timezone():
    resource = audit_event()
    resource["recorded"] = "2024-03-01"
    assert_issue(resource, "value", "AuditEvent.recorded")


@pytest.mark.parametrize("bad_id", ["a_b", "x" * 65, "with space"])
def test_bad_resource_id_is_a_value_issue(bad_id):
    resource = organization()
    resource["id"] = bad_id
    issue = only(resource)
    assert (issue.code, issue.expression) == ("value", ("Organization.id",))


def test_id_of_64_characters_is_accepted():
    resource = organization()
    resource["id"] = "a" * 64
    assert errors(resource) == []


@pytest.mark.parametrize("element,value", [
    ("url", "http://example.org/with space"), ("status", "act ive"),
])
def test_uri_and_code_reject_whitespace(element, value):
    resource = value_set()
    resource[element] = value
    assert_issue(resource, "value", f"ValueSet.{element}")


def test_whitespace_only_string_is_a_value_issue():
    resource = organization()
    resource["name"] = "   "
    assert only(resource).expression == ("Organization.name",)


def test_bad_base64_is_a_value_issue():
    resource = provenance()
    resource["signature"][0]["data"] = "not base64!"
    assert_issue(resource, "value", "Provenance.signature[0].data")


def test_bad_uuid_and_oid_are_value_issues():
    resource = task()
    resource["extension"] = [
        {"url": "http://example.org/a", "valueUuid": "urn:uuid:2D0F4A4E-0C6C-4D4E-9D8B-2B1F1F0A9C11"},
        {"url": "http://example.org/b", "valueOid": "1.2.3"},
        {"url": "http://example.org/c", "valueOid": "urn:oid:2.16.840.1"},
    ]
    found = [(i.code, i.expression[0]) for i in errors(resource)]
    assert found == [("value", "Task.extension[0].valueUuid"), ("value", "Task.extension[1].valueOid")]


# --- empty values -----------------------------------------------------------------------------

@pytest.mark.parametrize("value,expression", [
    ("", "Organization.name"),
    (None, "Organization.name"),
    ({}, "Organization.partOf"),
    ([], "Organization.alias"),
])
def test_empty_string_null_empty_object_and_empty_array_are_invalid(value, expression):
    resource = organization()
    resource[expression.split(".")[1]] = value
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", (expression,))


def test_null_in_array_without_extension_is_invalid():
    resource = organization()
    resource["alias"] = ["Acme", None]
    assert only(resource).expression == ("Organization.alias[1]",)


def test_empty_object_in_array_is_invalid():
    resource = task()
    resource["note"] = [{}]
    assert only(resource).expression == ("Task.note[0]",)


# --- unknown elements and shapes --------------------------------------------------------------

def test_unknown_element_is_invalid():
    resource = task()
    resource["colour"] = "blue"
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", ("Task.colour",))


def test_unknown_element_deep_inside_is_reported_with_its_path():
    resource = questionnaire_response()
    resource["item"][0]["item"][0]["answer"][0]["valueCoding"]["weight"] = 1
    issue = only(resource)
    assert issue.expression == ("QuestionnaireResponse.item[0].item[0].answer[0].valueCoding.weight",)


def test_fhir_comments_accepted_by_r4b_models_is_unknown_in_r4():
    resource = task()
    resource["fhir_comments"] = ["legacy"]
    assert only(resource).expression == ("Task.fhir_comments",)


def test_r4b_only_open_type_is_unknown_in_r4():
    resource = task()
    resource["extension"] = [{"url": "http://example.org/x",
                              "valueRatioRange": {"denominator": {"value": 1}}}]
    assert only(resource).expression == ("Task.extension[0].valueRatioRange",)


def test_primitive_extension_for_non_primitive_is_unknown():
    resource = task()
    resource["_code"] = {"id": "x"}
    assert only(resource).expression == ("Task._code",)


def test_array_for_single_valued_element_is_invalid():
    resource = task()
    resource["priority"] = ["routine"]
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", ("Task.priority",))


def test_single_value_for_repeating_element_is_invalid():
    resource = organization()
    resource["alias"] = "Acme"
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", ("Organization.alias",))


def test_object_where_a_primitive_is_expected_is_invalid():
    resource = task()
    resource["status"] = {"value": "draft"}
    assert_issue(resource, "invalid", "Task.status")


def test_two_choice_variants_are_invalid():
    resource = questionnaire_response()
    resource["item"][0]["item"][1]["answer"][0]["valueString"] = "1"
    issue = only(resource)
    assert (issue.code, issue.expression) == (
        "invalid", ("QuestionnaireResponse.item[0].item[1].answer[0].value[x]",))


# --- references -------------------------------------------------------------------------------

@pytest.mark.parametrize("make,element,reference", [
    (organization, "partOf", "Patient/pat-1"),
    (task, "owner", "Location/loc-1"),
    (measure_report, "reporter", "Patient/pat-1"),
    (organization, "partOf", "https://other.example/fhir/Patient/pat-1/_history/2"),
])
def test_reference_to_a_type_not_allowed_is_invalid(make, element, reference):
    resource = make()
    resource[element] = {"reference": reference}
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", (f"{resource['resourceType']}.{element}",))


def test_reference_any_accepts_every_type():
    resource = questionnaire_response()
    resource["subject"] = {"reference": "Location/loc-1"}
    assert errors(resource) == []


def test_reference_forms_that_are_accepted():
    resource = organization()
    for ref in ["Organization/o1/_history/3", "https://fhir.example/r4/Organization/o1",
                "urn:uuid:9d1f6a3c-2b4e-4c7a-8f0e-1a2b3c4d5e6f", "Organization?identifier=x|1"]:
        resource["partOf"] = {"reference": ref}
        assert errors(resource) == [], ref


def test_reference_type_element_must_be_allowed_and_consistent():
    resource = task()
    resource["owner"] = {"reference": "Practitioner/prac-1", "type": "Organization"}
    assert only(resource).expression == ("Task.owner",)


def test_relative_reference_with_unknown_type_is_invalid():
    resource = task()
    resource["focus"] = {"reference": "Organisation/org-1"}
    assert only(resource).expression == ("Task.focus",)


def test_local_reference_to_missing_contained_resource_is_invalid():
    resource = questionnaire_response()
    resource["author"] = {"reference": "#missing"}
    issue = only(resource)
    assert (issue.code, issue.expression) == ("invalid", ("QuestionnaireResponse.author",))


def test_local_reference_to_contained_resource_of_wrong_type_is_invalid():
    resource = task()
    resource["contained"] = [{"resourceType": "Location", "id": "loc1", "name": "Ward 3"}]
    resource["owner"] = {"reference": "#loc1"}
    assert only(resource).expression == ("Task.owner",)


def test_contained_resources_are_validated_and_resolve_against_the_container():
    resource = questionnaire_response()
    resource["contained"][0]["gender"] = "f"
    resource["contained"][0]["telecom"] = [{"system": "phone", "value": "1"}]
    resource["contained"].append({"resourceType": "Organization", "id": "o1",
                                  "partOf": {"reference": "#p1"}})
    found = {(i.code, i.expression[0]) for i in errors(resource)}
    assert found == {("value", "QuestionnaireResponse.contained[0].gender"),
                     ("invalid", "QuestionnaireResponse.contained[1].partOf")}


def test_contained_resource_without_resource_type_is_invalid():
    resource = task()
    resource["contained"] = [{"id": "x"}]
    assert only(resource).expression == ("Task.contained[0]",)


def test_bundle_entry_issues_carry_the_entry_path():
    broken = task()
    del broken["intent"]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": broken, "request": {"method": "POST", "url": "Task"}}]}
    issue = only(bundle)
    assert (issue.code, issue.expression) == ("required", ("Bundle.entry[0].resource.intent",))


# --- every problem, never raising -------------------------------------------------------------

def test_all_problems_are_reported_not_just_the_first():
    resource = task()
    del resource["intent"]
    resource["status"] = "bogus"
    resource["priority"] = ["routine"]
    resource["owner"] = {"reference": "Location/1"}
    resource["colour"] = "blue"
    found = {(i.code, i.expression[0]) for i in errors(resource)}
    assert found == {("required", "Task.intent"), ("value", "Task.status"),
                     ("invalid", "Task.priority"), ("invalid", "Task.owner"),
                     ("invalid", "Task.colour")}


@pytest.mark.parametrize("garbage", [
    {"resourceType": "Task", "status": {"a": [None, {}]}, "intent": 5, "input": "x"},
    {"resourceType": "Task", "status": "draft", "intent": "order", 7: "x", "": 1},
    {"resourceType": "QuestionnaireResponse", "status": "completed",
     "item": [None, 3, {"linkId": ["x"], "answer": [{"valueCoding": "a"}]}]},
    {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": "Task"},
                                                              {"resource": {"resourceType": 5}}]},
    {"resourceType": "Task", "status": "draft", "intent": "order", "_status": [None],
     "contained": [{"resourceType": "Nope"}, "x"], "owner": {"reference": 5}},
    {"resourceType": 5},
])
def test_malformed_input_yields_issues_and_never_raises(garbage):
    issues = validate_resource(garbage)
    assert issues and all(isinstance(i, Issue) for i in issues)
    assert all(i.code in {"invalid", "value", "required", "structure"} for i in issues)


def test_expression_of_every_issue_is_a_single_fhirpath_like_string():
    resource = questionnaire_response()
    resource["status"] = "bogus"
    resource["item"][0]["item"][0]["answer"][0]["valueCoding"]["system"] = 3
    for issue in validate_resource(resource):
        assert len(issue.expression) == 1
        assert issue.expression[0].startswith("QuestionnaireResponse")
