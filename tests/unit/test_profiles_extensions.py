"""Our eight extensions: wherever an extension with our URL sits, it must match its definition."""
from __future__ import annotations

import pytest

from profiles.definitions import get_definitions
from profiles.validate import validate_all, validate_profiles
from tests.unit.test_profiles import (SD, consent, consent_tier, measure_report, organization, org_ref,
                                      questionnaire_response, score, task)


def errors(resource: dict) -> list[tuple[str, tuple[str, ...]]]:
    return [(i.code, i.expression) for i in validate_profiles(resource) if i.severity == "error"]


def bare(resource: dict) -> dict:
    """Without meta.profile: extensions are checked all the same."""
    resource.pop("meta", None)
    return resource


def cell_report() -> dict:
    """A summary MeasureReport of one cell of a PCN that spans ICBs (adapter/aggregates/report.py)."""
    report = measure_report()
    report["extension"] = list(report.get("extension", [])) + [{"url": SD + "cell-icb", "valueReference": org_ref("QHM")}]
    return report


VALID = {
    "score": questionnaire_response,
    "cell-icb": cell_report,
    "question-link-id": task,
    "practice-icb": organization,
    "federation-membership": organization,  # twice in the example: it repeats
    "list-size": organization,
    "contract-status": consent,
    "audience-role": consent_tier,
}


def test_every_extension_of_ours_has_a_valid_example():
    extensions = {d.id for d in get_definitions().by_url.values() if d.type == "Extension"}
    assert extensions == set(VALID)


@pytest.mark.parametrize("ext_id", VALID)
def test_valid_extension_passes_with_and_without_the_profile(ext_id):
    resource = VALID[ext_id]()
    assert any(e["url"] == SD + ext_id for e in _extensions(resource))
    assert validate_all(resource) == []
    assert validate_all(bare(resource)) == []


def _extensions(node):
    if isinstance(node, dict):
        yield from node.get("extension", ())
        for value in node.values():
            yield from _extensions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _extensions(item)


def _qr_with_root_score(*parts) -> dict:
    r = bare(questionnaire_response())
    r["extension"] = [{"url": SD + "score", "extension": list(parts)}]
    return r


def _org_with(*extensions) -> dict:
    r = bare(organization())
    r["extension"] = list(extensions)
    return r


def _task_with_link(ext: dict) -> dict:
    r = bare(task())
    r["reasonReference"]["extension"] = [ext]
    return r


def _consent_with(ext: dict) -> dict:
    r = bare(consent())
    r["extension"] = [ext]
    return r


def _tier_with(ext: dict) -> dict:
    r = bare(consent_tier())
    r["provision"]["extension"] = [ext]
    return r


S, M = {"url": "score", "valueDecimal": 3}, {"url": "maximum", "valueDecimal": 8}
QR_EXT = "QuestionnaireResponse.extension[0]"
LINK = "Task.reasonReference.extension[0]"
ICB = {"url": SD + "practice-icb", "valueReference": org_ref("QHM")}

FAILURES = [
    # score
    ("score: no maximum", lambda: _qr_with_root_score(S), "required", f"{QR_EXT}.extension"),
    ("score: two scores", lambda: _qr_with_root_score(S, S, M), "invalid", f"{QR_EXT}.extension"),
    ("score: unknown part (closed)", lambda: _qr_with_root_score(S, M, {"url": "weight", "valueDecimal": 1}),
     "invalid", f"{QR_EXT}.extension[2]"),
    ("score: part without value", lambda: _qr_with_root_score({"url": "score"}, M), "required", f"{QR_EXT}.extension[0].value[x]"),
    ("score: part not a decimal", lambda: _qr_with_root_score({"url": "score", "valueString": "3"}, M),
     "invalid", f"{QR_EXT}.extension[0].valueString"),
    ("score: negative", lambda: _qr_with_root_score({"url": "score", "valueDecimal": -1}, M), "value",
     f"{QR_EXT}.extension[0].valueDecimal"),
    ("score: a value of its own", lambda: _qr_with_root_score(S, M) | {"extension": [score(1, 2) | {"valueDecimal": 1}]},
     "invalid", f"{QR_EXT}.value[x]"),
    ("score: twice on one item", lambda: _qr_twice_on_item(), "invalid", "QuestionnaireResponse.item[0].extension"),
    ("score: on a Task (context)", lambda: bare(task()) | {"extension": [score(1, 2)]}, "invalid", "Task.extension[0]"),
    # question-link-id
    ("question-link-id: integer", lambda: _task_with_link({"url": SD + "question-link-id", "valueInteger": 2}),
     "invalid", f"{LINK}.valueInteger"),
    ("question-link-id: no value", lambda: _task_with_link({"url": SD + "question-link-id"}), "required", f"{LINK}.value[x]"),
    ("question-link-id: on the Task (context)", lambda: bare(task()) | {"extension": [{"url": SD + "question-link-id", "valueString": "LD2"}]},
     "invalid", "Task.extension[0]"),
    # practice-icb
    ("practice-icb: a Patient", lambda: _org_with({"url": SD + "practice-icb", "valueReference": {
        "reference": "Patient/1", "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "X"}}}),
     "invalid", "Organization.extension[0].valueReference"),
    ("practice-icb: no ODS identifier", lambda: _org_with({"url": SD + "practice-icb", "valueReference": {"reference": "Organization/QHM"}}),
     "required", "Organization.extension[0].valueReference.identifier"),
    ("practice-icb: twice", lambda: _org_with(ICB, ICB), "invalid", "Organization.extension"),
    ("practice-icb: a code", lambda: _org_with({"url": SD + "practice-icb", "valueCode": "QHM"}), "invalid",
     "Organization.extension[0].valueCode"),
    ("practice-icb: on a Task (context)", lambda: bare(task()) | {"extension": [ICB]}, "invalid", "Task.extension[0]"),
    # federation-membership
    ("federation-membership: no reference", lambda: _org_with({"url": SD + "federation-membership", "valueReference": {
        "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "FED01"}}}),
     "required", "Organization.extension[0].valueReference.reference"),
    ("federation-membership: sub-extensions", lambda: _org_with({"url": SD + "federation-membership", "extension": [
        {"url": "since", "valueDate": "2020-01-01"}], "valueReference": org_ref("FED01")}),
     "invalid", "Organization.extension[0].extension"),
    # list-size
    ("list-size: negative", lambda: _org_with({"url": SD + "list-size", "valueInteger": -5}), "value",
     "Organization.extension[0].valueInteger"),
    ("list-size: decimal", lambda: _org_with({"url": SD + "list-size", "valueDecimal": 9120.5}), "invalid",
     "Organization.extension[0].valueDecimal"),
    # contract-status
    ("contract-status: unknown code", lambda: _consent_with({"url": SD + "contract-status", "valueCode": "paused"}),
     "value", "Consent.extension[0].valueCode"),
    ("contract-status: on a provision (context)", lambda: _tier_with({"url": SD + "contract-status", "valueCode": "active"}),
     "invalid", "Consent.provision.extension[0]"),
    # audience-role
    ("audience-role: unknown code", lambda: _tier_with({"url": SD + "audience-role", "valueCode": "everyone"}),
     "value", "Consent.provision.extension[0].valueCode"),
    ("audience-role: a Coding", lambda: _tier_with({"url": SD + "audience-role", "valueCoding": {"code": "icb"}}),
     "invalid", "Consent.provision.extension[0].valueCoding"),
    # any URL of ours
    ("unknown extension of ours", lambda: _org_with({"url": SD + "practice-pcn", "valueString": "U1"}), "not-found",
     "Organization.extension[0].url"),
    ("ours as a modifier extension", lambda: bare(organization()) | {"modifierExtension": [{"url": SD + "list-size", "valueInteger": 1}]},
     "invalid", "Organization.modifierExtension[0]"),
]


def _qr_twice_on_item() -> dict:
    r = bare(questionnaire_response())
    r["item"][0]["extension"] = [score(1, 2), score(1, 2)]
    return r


@pytest.mark.parametrize("label,make,code,expression", FAILURES, ids=[f[0] for f in FAILURES])
def test_each_extension_constraint_fails_alone(label, make, code, expression):
    assert errors(make()) == [(code, (expression,))]


def test_score_on_a_nested_item_is_in_context():
    r = bare(questionnaire_response())
    r["item"][0]["item"][0]["extension"] = [score(4, 4)]
    assert errors(r) == []


def test_extensions_inside_contained_resources_are_checked_in_their_own_context():
    r = bare(task())
    r["contained"] = [{"resourceType": "Organization", "id": "o", "extension": [{"url": SD + "list-size", "valueInteger": -1}]}]
    assert errors(r) == [("value", ("Task.contained[0].extension[0].valueInteger",))]


def test_extensions_of_others_are_left_alone():
    r = _org_with({"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MainLocation", "valueString": "?"})
    assert errors(r) == []


def test_extension_issues_name_the_extension():
    issue = validate_profiles(_org_with({"url": SD + "list-size", "valueInteger": -5}))[0]
    assert "list-size" in issue.diagnostics


# --- data-driven: a new definition is a new file, no code ---------------------------------

def test_a_new_profile_and_extension_are_enforced_from_their_json_alone():
    from profiles.definitions import Definitions
    from profiles.extensions import check_extensions
    from profiles.walker import Walk

    core = "http://hl7.org/fhir/StructureDefinition/"
    ext = {"resourceType": "StructureDefinition", "id": "rating", "url": SD + "rating", "version": "1.0.0",
           "kind": "complex-type", "type": "Extension", "baseDefinition": core + "Extension",
           "context": [{"type": "element", "expression": "Provenance"}],
           "differential": {"element": [
               {"id": "Extension", "path": "Extension", "max": "1", "constraint": [
                   {"key": "r-1", "severity": "error", "human": "a rating is 1 to 5",
                    "expression": "value.ofType(integer) <= 5"}]},
               {"id": "Extension.url", "path": "Extension.url", "fixedUri": SD + "rating"},
               {"id": "Extension.value[x]", "path": "Extension.value[x]", "min": 1, "type": [{"code": "integer"}],
                "minValueInteger": 1}]}}
    prof = {"resourceType": "StructureDefinition", "id": "import-provenance", "url": SD + "import-provenance",
            "version": "1.0.0", "kind": "resource", "type": "Provenance", "baseDefinition": core + "Provenance",
            "differential": {"element": [
                {"id": "Provenance", "path": "Provenance", "constraint": [
                    {"key": "p-1", "severity": "error", "human": "one target", "expression": "target.count() = 1"}]},
                {"id": "Provenance.activity", "path": "Provenance.activity", "min": 1,
                 "binding": {"strength": "required", "valueSet": "https://fhir.dandthub.co.uk/ValueSet/data-type"}}]}}
    definitions = Definitions([ext, prof], [])
    resource = {"resourceType": "Provenance", "target": [{"reference": "Task/1"}, {"reference": "Task/2"}],
                "activity": {"coding": [{"system": "https://fhir.dandthub.co.uk/CodeSystem/data-type", "code": "usage"}]},
                "extension": [{"url": SD + "rating", "valueInteger": 9}]}
    issues = []
    Walk(definitions.get(SD + "import-provenance"), resource, issues).value(
        definitions.get(SD + "import-provenance").root, resource, "Provenance")
    check_extensions(resource, definitions, issues)
    assert [(i.code, i.expression, i.diagnostics.split(":")[0]) for i in issues] == [
        ("invariant", ("Provenance",), "p-1"), ("invariant", ("Provenance.extension[0]",), "r-1")]
    resource["activity"]["coding"][0]["code"] = "nonsense"
    resource["extension"][0]["valueInteger"] = 0
    del resource["target"][1]
    issues = []
    Walk(definitions.get(SD + "import-provenance"), resource, issues).value(
        definitions.get(SD + "import-provenance").root, resource, "Provenance")
    check_extensions(resource, definitions, issues)
    assert [(i.code, i.expression) for i in issues] == [("value", ("Provenance.activity",)),
                                                        ("value", ("Provenance.extension[0].valueInteger",))]
