"""validate_profiles / validate_all: our six profiles, each constraint failing on its own."""
from __future__ import annotations

import copy

import pytest

from adapter.validation import validate_resource
from profiles.definitions import get_definitions
from profiles.invariants import _cached
from profiles.validate import validate_all, validate_profiles

B = "https://fhir.dandthub.co.uk"
SD = f"{B}/StructureDefinition/"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
V2_0136 = "http://terminology.hl7.org/CodeSystem/v2-0136"
R5_SUBJECT = "http://hl7.org/fhir/5.0/StructureDefinition/extension-MeasureReport.subject"
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"


def org_ref(ods: str) -> dict:
    return {"reference": f"Organization/{ods}", "identifier": {"system": ODS, "value": ods}}


def _meta(profile: str) -> dict:
    return {"profile": [SD + profile]}


# --- valid examples, as the mappers produce them ----------------------------------------

def organization(ods: str = "A81001") -> dict:
    return {
        "resourceType": "Organization", "id": ods, "meta": _meta("dthub-organization"),
        "extension": [{"url": SD + "practice-icb", "valueReference": org_ref("QHM")},
                      {"url": SD + "federation-membership", "valueReference": org_ref("FED01")},
                      {"url": SD + "federation-membership", "valueReference": org_ref("FED02")},
                      {"url": SD + "list-size", "valueInteger": 9120}],
        "identifier": [{"system": ODS, "value": ods}], "active": True,
        "type": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                              "code": "prov"}]}],
        "name": "THE DENSHAM SURGERY", "address": [{"postalCode": "TS18 1HU"}],
        "partOf": org_ref("U89141"),
    }


def questionnaire() -> dict:
    return {
        "resourceType": "Questionnaire", "id": "indepth-telephony-2026.1", "meta": _meta("dthub-questionnaire"),
        "url": f"{B}/Questionnaire/indepth-telephony", "version": "2026.1", "name": "InDepthTelephony",
        "title": "In-depth Assessment: telephony", "status": "active", "subjectType": ["Organization"],
        "date": "2026-04-01",
        "code": [{"system": f"{B}/CodeSystem/assessment-kind", "code": "indepth"},
                 {"system": f"{B}/CodeSystem/assessment-theme", "code": "telephony"}],
        "item": [{"linkId": "leadership", "text": "Leadership", "type": "group",
                  "code": [{"system": f"{B}/CodeSystem/assessment-section", "code": "leadership"}],
                  "item": [{"linkId": "LD1", "text": "Named digital lead?", "type": "choice", "required": True,
                            "answerOption": [{"valueCoding": {"system": V2_0136, "code": "Y"}},
                                             {"valueCoding": {"system": V2_0136, "code": "N"}}]}]}],
    }


def score(value: float, maximum: float) -> dict:
    return {"url": SD + "score", "extension": [{"url": "score", "valueDecimal": value},
                                               {"url": "maximum", "valueDecimal": maximum}]}


def questionnaire_response() -> dict:
    return {
        "resourceType": "QuestionnaireResponse", "id": "S-2026-000123",
        "meta": _meta("dthub-questionnaireresponse"), "extension": [score(4, 8)],
        "identifier": {"system": f"{B}/Id/submission", "value": "S-2026-000123"},
        "questionnaire": f"{B}/Questionnaire/global|2026.1", "status": "completed",
        "subject": org_ref("A81001"), "authored": "2026-05-10T10:22:00Z",
        "item": [{"linkId": "leadership", "extension": [score(4, 8)],
                  "item": [{"linkId": "LD1", "answer": [{"valueCoding": {"system": V2_0136, "code": "Y"}}]}]}],
    }


def task() -> dict:
    return {
        "resourceType": "Task", "id": "A-000981", "meta": _meta("dthub-task"),
        "identifier": [{"system": f"{B}/Id/action", "value": "A-000981"}],
        "status": "in-progress",
        "businessStatus": {"coding": [{"system": f"{B}/CodeSystem/action-status", "code": "in-progress"}]},
        "intent": "plan", "priority": "routine", "description": "Appoint a digital lead",
        "for": org_ref("A81001"), "authoredOn": "2026-05-11T08:00:00Z",
        "reasonReference": {"extension": [{"url": SD + "question-link-id", "valueString": "LD2"}],
                            "reference": "QuestionnaireResponse/S-2026-000123"},
        "output": [{"type": {"coding": [{"system": f"{B}/CodeSystem/impact-category", "code": "time-saved"}]},
                    "valueQuantity": {"value": 12.5, "unit": "hours/month"}}],
    }


def consent() -> dict:
    """A contract: the holder is the provision's actor."""
    return {
        "resourceType": "Consent", "id": "C-QHM-2026", "meta": _meta("dthub-consent"),
        "extension": [{"url": SD + "contract-status", "valueCode": "active"}],
        "status": "active",
        "scope": {"coding": [{"system": f"{B}/CodeSystem/consent-scope", "code": "data-use-agreement"}]},
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IDSCL"}]}],
        "dateTime": "2026-04-01T00:00:00Z", "organization": [org_ref("QHM")],
        "policyRule": {"coding": [{"system": f"{B}/CodeSystem/consent-policy", "code": "data-use-policy"}]},
        "provision": {"type": "permit", "period": {"start": "2026-04-01", "end": "2027-03-31"},
                      "actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                                      "code": "GRANTEE"}]}, "reference": org_ref("QHM")}],
                      "data": [{"meaning": "related", "reference": org_ref("A81001")}]},
    }


def consent_tier() -> dict:
    """A tier of the policy: no actor, the audience role instead."""
    body = consent()
    body["id"] = "tier-baseline"
    del body["extension"], body["organization"]
    body["provision"] = {"type": "permit", "extension": [{"url": SD + "audience-role", "valueCode": "external"}],
                         "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HMARKT"}]}
    return body


def measure_report() -> dict:
    def population(n: int) -> list:
        return [{"code": {"coding": [{"system": POPULATION, "code": "initial-population"}]}, "count": n}]
    return {
        "resourceType": "MeasureReport", "id": "global-assessment-U89141-2026-10",
        "meta": _meta("dthub-measurereport"),
        "extension": [{"url": R5_SUBJECT, "valueReference": org_ref("U89141")}],
        "status": "complete", "type": "summary", "measure": f"{B}/Measure/global-assessment",
        "date": "2026-11-01T02:00:00Z", "reporter": org_ref("DTHUB"),
        "period": {"start": "2026-10-01", "end": "2026-10-31"},
        "group": [{"code": {"coding": [{"system": f"{B}/CodeSystem/assessment-section", "code": "infrastructure"}]},
                   "population": population(7), "measureScore": {"value": 61.5}},
                  {"code": {"coding": [{"system": f"{B}/CodeSystem/assessment-section", "code": "leadership"}]},
                   "extension": [{"url": DAR, "valueCode": "masked"}], "population": population(2)}],
    }


EXAMPLES = {
    "dthub-organization": organization, "dthub-questionnaire": questionnaire,
    "dthub-questionnaireresponse": questionnaire_response, "dthub-task": task,
    "dthub-consent": consent, "dthub-consent (tier)": consent_tier, "dthub-measurereport": measure_report,
}


def errors(resource: dict) -> list[tuple[str, tuple[str, ...]]]:
    return [(i.code, i.expression) for i in validate_profiles(resource) if i.severity == "error"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_valid_example_passes_base_and_profile_validation(name):
    resource = EXAMPLES[name]()
    assert validate_all(resource) == []


def test_every_profile_of_ours_has_a_valid_example():
    profiles = {d.id for d in get_definitions().by_url.values() if d.kind == "resource"}
    assert profiles == {n.split(" ")[0] for n in EXAMPLES}


# --- each constraint, failing alone: (example, change, issue code, issue expression) ------

def _drop(*path):
    def change(r):
        target = r
        for p in path[:-1]:
            target = target[p]
        del target[path[-1]]
    return change


def _set(value, *path):
    def change(r):
        target = r
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = copy.deepcopy(value)
    return change


OTHER_ID = {"system": "urn:oid:2.16.840.1.113883.2.1.4.3", "value": "X"}

FAILURES = [
    # dthub-organization (and the UK Core slices under it)
    ("org: no identifier", organization, _drop("identifier"), "required", "Organization.identifier"),
    ("org: no ODS identifier", organization, _set([OTHER_ID], "identifier"), "required", "Organization.identifier"),
    ("org: two ODS identifiers", organization, _set([{"system": ODS, "value": "A81001"}, {"system": ODS, "value": "A81002"}], "identifier"),
     "invalid", "Organization.identifier"),
    ("org: ODS identifier without value (UK Core)", organization, _set([{"system": ODS}], "identifier"),
     "required", "Organization.identifier[0].value"),
    ("org: malformed ODS code (dthub-org-1)", organization, _set("a81-001", "identifier", 0, "value"),
     "invariant", "Organization.identifier[0].value"),
    ("org: two ODS site codes (UK Core)", organization,
     _set([{"system": ODS, "value": "A81001"}, {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "S1"},
           {"system": "https://fhir.nhs.uk/Id/ods-site-code", "value": "S2"}], "identifier"),
     "invalid", "Organization.identifier"),
    ("org: no name", organization, _drop("name"), "required", "Organization.name"),
    ("org: no active", organization, _drop("active"), "required", "Organization.active"),
    ("org: partOf without ODS identifier", organization, _drop("partOf", "identifier"), "required", "Organization.partOf.identifier"),
    ("org: partOf without reference", organization, _drop("partOf", "reference"), "required", "Organization.partOf.reference"),
    ("org: partOf identifier of another system", organization, _set("urn:x", "partOf", "identifier", "system"),
     "value", "Organization.partOf.identifier.system"),
    # dthub-questionnaire
    ("q: no url", questionnaire, _drop("url"), "required", "Questionnaire.url"),
    ("q: url not ours (dthub-q-1)", questionnaire, _set("http://example.org/Questionnaire/x", "url"), "invariant", "Questionnaire"),
    ("q: no version", questionnaire, _drop("version"), "required", "Questionnaire.version"),
    ("q: no subjectType", questionnaire, _drop("subjectType"), "required", "Questionnaire.subjectType"),
    ("q: subjectType Patient", questionnaire, _set(["Patient"], "subjectType"), "value", "Questionnaire.subjectType[0]"),
    ("q: two subjectTypes", questionnaire, _set(["Organization", "Organization"], "subjectType"), "invalid", "Questionnaire.subjectType"),
    ("q: no code", questionnaire, _drop("code"), "required", "Questionnaire.code"),
    ("q: no assessment-kind code", questionnaire, _set([{"system": "http://loinc.org", "code": "1-8"}], "code"),
     "required", "Questionnaire.code"),
    ("q: unknown assessment kind", questionnaire, _set("deep", "code", 0, "code"), "value", "Questionnaire.code[0]"),
    ("q: assessment-kind coding without code", questionnaire, _drop("code", 0, "code"), "required", "Questionnaire.code[0].code"),
    ("q: two themes", questionnaire, _set([{"system": f"{B}/CodeSystem/assessment-kind", "code": "indepth"},
                                           {"system": f"{B}/CodeSystem/assessment-theme", "code": "telephony"},
                                           {"system": f"{B}/CodeSystem/assessment-theme", "code": "innovation"}], "code"),
     "invalid", "Questionnaire.code"),
    # dthub-questionnaireresponse
    ("qr: no identifier", questionnaire_response, _drop("identifier"), "required", "QuestionnaireResponse.identifier"),
    ("qr: identifier of another system", questionnaire_response, _set("urn:x", "identifier", "system"),
     "value", "QuestionnaireResponse.identifier.system"),
    ("qr: no questionnaire", questionnaire_response, _drop("questionnaire"), "required", "QuestionnaireResponse.questionnaire"),
    ("qr: unversioned questionnaire (dthub-qr-1)", questionnaire_response, _set(f"{B}/Questionnaire/global", "questionnaire"),
     "invariant", "QuestionnaireResponse"),
    ("qr: no subject", questionnaire_response, _drop("subject"), "required", "QuestionnaireResponse.subject"),
    ("qr: subject is a Patient", questionnaire_response, _set("Patient/1", "subject", "reference"), "invalid", "QuestionnaireResponse.subject"),
    ("qr: subject without identifier", questionnaire_response, _drop("subject", "identifier"), "required",
     "QuestionnaireResponse.subject.identifier"),
    ("qr: subject identifier without value", questionnaire_response, _drop("subject", "identifier", "value"), "required",
     "QuestionnaireResponse.subject.identifier.value"),
    ("qr: no authored", questionnaire_response, _drop("authored"), "required", "QuestionnaireResponse.authored"),
    # dthub-task
    ("task: no identifier", task, _drop("identifier"), "required", "Task.identifier"),
    ("task: no action identifier", task, _set([OTHER_ID], "identifier"), "required", "Task.identifier"),
    ("task: no businessStatus", task, _drop("businessStatus"), "required", "Task.businessStatus"),
    ("task: businessStatus not an action status", task, _set({"text": "in-progress"}, "businessStatus"), "value", "Task.businessStatus"),
    ("task: intent order", task, _set("order", "intent"), "value", "Task.intent"),
    ("task: no for", task, _drop("for"), "required", "Task.for"),
    ("task: for a Patient", task, _set({"reference": "Patient/1", "identifier": {"system": ODS, "value": "X1"}}, "for"),
     "invalid", "Task.for"),
    ("task: for without ODS identifier", task, _drop("for", "identifier"), "required", "Task.for.identifier"),
    ("task: no authoredOn", task, _drop("authoredOn"), "required", "Task.authoredOn"),
    ("task: status does not follow businessStatus (dthub-task-1)", task, _set("completed", "status"), "invariant", "Task"),
    ("task: agreed but requested (dthub-task-1)", task,
     lambda r: r.update(status="requested", businessStatus={"coding": [{"system": f"{B}/CodeSystem/action-status", "code": "agreed"}]}),
     "invariant", "Task"),
    ("task: impact of an unknown category", task, _set("happiness", "output", 0, "type", "coding", 0, "code"),
     "value", "Task.output[0].type"),
    # dthub-consent
    ("consent: another scope", consent, _set({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                                          "code": "patient-privacy"}]}, "scope"), "value", "Consent.scope"),
    ("consent: category without IDSCL", consent, _set([{"text": "disclosure"}], "category"), "required", "Consent.category"),
    ("consent: no policyRule", consent, _drop("policyRule"), "required", "Consent.policyRule"),
    ("consent: another policyRule", consent, _set("other-policy", "policyRule", "coding", 0, "code"), "value", "Consent.policyRule"),
    ("consent: no provision", consent, _drop("provision"), "required", "Consent.provision"),
    ("consent: neither actor nor audience role (dthub-consent-1)", consent, _drop("provision", "actor"), "invariant", "Consent.provision"),
    ("consent: draft (dthub-consent-2)", consent_tier, _set("draft", "status"), "invariant", "Consent"),
    ("consent: ended contract still active (dthub-consent-3)", consent, _set("ended", "extension", 0, "valueCode"), "invariant", "Consent"),
    ("consent: active contract inactive (dthub-consent-3)", consent, _set("inactive", "status"), "invariant", "Consent"),
    # dthub-measurereport
    ("mr: no organisation subject", measure_report, _drop("extension"), "required", "MeasureReport.extension"),
    ("mr: two organisation subjects", measure_report,
     _set([{"url": R5_SUBJECT, "valueReference": org_ref("U89141")}, {"url": R5_SUBJECT, "valueReference": org_ref("QHM")}], "extension"),
     "invalid", "MeasureReport.extension"),
    ("mr: subject extension without value", measure_report, _set([{"url": R5_SUBJECT}], "extension"), "required",
     "MeasureReport.extension[0].value[x]"),
    ("mr: subject extension with a string", measure_report, _set([{"url": R5_SUBJECT, "valueString": "U89141"}], "extension"),
     "invalid", "MeasureReport.extension[0].valueString"),
    ("mr: subject is a Patient", measure_report, _set("Patient/1", "extension", 0, "valueReference", "reference"),
     "invalid", "MeasureReport.extension[0].valueReference"),
    ("mr: subject without ODS identifier", measure_report, _drop("extension", 0, "valueReference", "identifier"),
     "required", "MeasureReport.extension[0].valueReference.identifier"),
    ("mr: not one of our Measures (dthub-mr-1)", measure_report, _set("http://example.org/Measure/usage", "measure"),
     "invariant", "MeasureReport"),
    ("mr: suppressed group with a score (dthub-mr-2)", measure_report, _set({"value": 50}, "group", 1, "measureScore"),
     "invariant", "MeasureReport"),
]


@pytest.mark.parametrize("label,make,change,code,expression", FAILURES, ids=[f[0] for f in FAILURES])
def test_each_constraint_fails_alone(label, make, change, code, expression):
    resource = make()
    change(resource)
    assert errors(resource) == [(code, (expression,))]


@pytest.mark.parametrize("label,make,change,code,expression", FAILURES, ids=[f[0] for f in FAILURES])
def test_failures_carry_the_profile_in_their_diagnostics(label, make, change, code, expression):
    resource = make()
    change(resource)
    issue = validate_profiles(resource)[0]
    assert resource["meta"]["profile"][0].rsplit("/", 1)[-1] in issue.diagnostics


# --- what is not an error ----------------------------------------------------------------

@pytest.mark.parametrize("status,business", [("requested", "proposed"), ("accepted", "agreed"), ("on-hold", "on-hold"),
                                             ("completed", "completed"), ("cancelled", "cancelled"),
                                             ("entered-in-error", "agreed")])
def test_task_status_follows_every_action_status(status, business):
    resource = task()
    resource["status"] = status
    resource["businessStatus"]["coding"][0]["code"] = business
    assert errors(resource) == []


def test_retired_resources_stay_valid():
    t, c = task(), consent()
    t["status"] = c["status"] = "entered-in-error"
    c["extension"][0]["valueCode"] = "ended"
    assert errors(t) == [] and errors(c) == []


def test_contract_provision_may_also_name_the_tier_it_grants():
    resource = consent()
    resource["provision"]["extension"] = [{"url": SD + "audience-role", "valueCode": "icb"}]
    assert errors(resource) == []


def test_suspended_contract_is_an_inactive_consent():
    resource = consent()
    resource["status"] = "inactive"
    resource["extension"][0]["valueCode"] = "suspended"
    assert errors(resource) == []


def test_theme_outside_the_fragment_is_allowed():
    resource = questionnaire()
    resource["code"][1]["code"] = "robotics"  # assessment-theme is a fragment; its binding is extensible
    assert errors(resource) == []


def test_other_profiles_are_ignored():
    resource = {"resourceType": "Organization", "meta": {"profile": [
        "https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization",
        "http://hl7.org/fhir/StructureDefinition/Organization"]}}
    assert validate_profiles(resource) == []


def test_resource_without_our_profile_is_not_profiled():
    resource = organization()
    del resource["meta"], resource["name"], resource["identifier"]
    assert errors(resource) == []


def test_unknown_profile_of_ours_is_an_error():
    resource = organization()
    resource["meta"]["profile"] = ["http://hl7.org/fhir/StructureDefinition/Organization", SD + "dthub-practice"]
    assert errors(resource) == [("not-found", ("Organization.meta.profile[1]",))]


def test_extension_definition_is_not_a_profile():
    resource = organization()
    resource["meta"]["profile"] = [SD + "list-size"]
    assert errors(resource) == [("not-found", ("Organization.meta.profile[0]",))]


def test_profile_version_must_be_ours():
    resource = organization()
    resource["meta"]["profile"] = [SD + "dthub-organization|1.0.0"]
    assert errors(resource) == []
    resource["meta"]["profile"] = [SD + "dthub-organization|2.0.0"]
    assert errors(resource) == [("not-found", ("Organization.meta.profile[0]",))]


def test_profile_of_another_resource_type_is_an_error():
    resource = organization()
    resource["meta"]["profile"] = [SD + "dthub-task"]
    assert errors(resource) == [("invalid", ("Organization.meta.profile[0]",))]


def test_several_problems_are_all_reported():
    resource = task()
    del resource["for"], resource["authoredOn"]
    resource["intent"] = "order"
    assert sorted(errors(resource)) == [("required", ("Task.authoredOn",)), ("required", ("Task.for",)),
                                        ("value", ("Task.intent",))]


# --- validate_all -------------------------------------------------------------------------

def test_validate_all_adds_profile_issues_to_the_base_ones():
    resource = task()
    resource["intent"] = "wish"  # not an R4 intent, and not `plan`
    del resource["for"]
    base = {(i.code, i.expression) for i in validate_resource(resource)}
    assert ("value", ("Task.intent",)) in base
    assert {(i.code, i.expression) for i in validate_all(resource)} == base | {("required", ("Task.for",))}


def test_validate_all_reports_an_element_r4_and_a_profile_require_once():
    resource = questionnaire()
    del resource["status"]
    found = [(i.code, i.expression) for i in validate_all(resource)]
    assert found.count(("required", ("Questionnaire.status",))) == 1


@pytest.mark.parametrize("garbage", [
    None, [], "Organization", {"resourceType": 5},
    {"resourceType": "Organization", "meta": {"profile": SD + "dthub-organization"}},
    {"resourceType": "Organization", "meta": {"profile": [SD + "dthub-organization"]}, "identifier": "A81001",
     "name": ["x"], "active": "yes", "partOf": [], "extension": {"url": SD + "list-size"}},
    {"resourceType": "Task", "meta": {"profile": [SD + "dthub-task"]}, "status": ["x"], "businessStatus": [1],
     "for": "Organization/A", "identifier": [None, 3], "reasonReference": {"extension": [None, {"url": SD + "x"}]}},
    {"resourceType": "Organization", "meta": {"profile": [SD + "dthub-organization"]}, "identifier": [
        {"system": ODS, "value": 2 ** 70}], "extension": [{"url": SD + "list-size", "valueInteger": 2 ** 70}]},
    {"resourceType": "Consent", "meta": {"profile": [SD + "dthub-consent"]}, "provision": "all",
     "category": {"coding": []}, "extension": [{"url": SD + "contract-status", "valueCode": ["active"]}]},
])
def test_malformed_input_never_raises(garbage):
    validate_profiles(garbage)
    validate_all(garbage)


# --- invariants: the cached projection gives the answer of the whole resource ------------

def _root_invariants():
    for definition in get_definitions().by_url.values():
        for invariant in definition.root.invariants:
            yield definition.type, invariant


@pytest.mark.parametrize("label,make,change,code,expression",
                         [f for f in FAILURES if f[3] == "invariant"] + [("valid", m, lambda r: None, None, None)
                                                                       for m in EXAMPLES.values()])
def test_invariant_on_projection_equals_invariant_on_whole_resource(label, make, change, code, expression):
    resource = make()
    change(resource)
    for rtype, invariant in _root_invariants():
        if rtype == resource["resourceType"]:
            whole = invariant._fn(copy.deepcopy(resource), {"resource": resource, "rootResource": resource})
            _cached.cache_clear()
            assert invariant.evaluate(resource, resource) == list(whole), invariant.key
            assert invariant.evaluate(resource, resource) == list(whole), invariant.key  # from the cache


# --- number-blind invariants: reports that differ only in their figures are judged once -----

def _invariant(expression: str):
    from profiles.invariants import Invariant

    return Invariant("test-1", "error", "test", expression, "MeasureReport", True)


@pytest.mark.parametrize("expression,blind", [
    ("iif(group.extension.url contains 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', "
     "group.where(extension.url = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason')"
     ".all(measureScore.empty() and stratifier.empty()), true)", True),
    ("(type != 'data-collection') or group.exists().not()", True),
    ("group.measureScore.value = 2", False),           # a number literal
    ("group.measureScore.value = '2'", False),         # a string a number might be converted to
    ("group.measureScore.value > 1", False),           # ordering
    ("group.count() = 3", False),
    ("group.first() = %resource.group.first()", False),  # objects compared with each other
    ("group.measureScore.value.toString() = 'x'", False),
    ("measure.matches('^x')", False),                  # a function outside the list
])
def test_only_expressions_that_cannot_read_a_number_are_judged_with_numbers_zeroed(expression, blind):
    assert _invariant(expression).numbers_blind is blind


def test_usage_reports_that_differ_only_in_figures_share_one_evaluation():
    dar = next(i for _t, i in _root_invariants() if "data-absent-reason" in i.expression)
    assert dar.numbers_blind
    first, second = measure_report(), measure_report()
    second["group"][0]["measureScore"] = {"value": 12345.5}
    for group in second["group"]:
        for population in group.get("population", []):
            population["count"] = 99
    _cached.cache_clear()
    assert dar.evaluate(first, first) == dar.evaluate(second, second) == [True]
    assert _cached.cache_info().hits == 1 and _cached.cache_info().misses == 1
    suppressed = copy.deepcopy(second)  # figures changed and a score beside data-absent-reason: still caught
    suppressed["group"][1]["measureScore"] = {"value": 0}
    assert dar.evaluate(suppressed, suppressed) == [False]


def test_a_number_reading_invariant_still_sees_each_number():
    reads = _invariant("group.measureScore.value = 2")
    two, three = measure_report(), measure_report()
    two["group"][0]["measureScore"] = {"value": 2}
    three["group"][0]["measureScore"] = {"value": 3}
    assert reads.evaluate(two, two) != reads.evaluate(three, three)
