"""Our terminology: the agreed code lists, and $lookup / $validate-code / $expand over them."""
from __future__ import annotations

import pytest

from adapter.outcomes import OperationOutcomeError
from adapter.validation import validate_resource
from terminology.operations import expand, lookup, validate_code
from terminology.registry import Registry, get_registry
from tests.conformance import assert_conformant

B = "https://fhir.dandthub.co.uk"
CS, VS = f"{B}/CodeSystem/", f"{B}/ValueSet/"

AGREED = {
    "assessment-kind": ["global", "indepth"],
    "assessment-theme": ["telephony", "online-consultation", "cyber-security", "leadership", "infrastructure",
                         "workforce-skills", "patient-access", "digital-inclusion", "care-navigation",
                         "data-interoperability", "innovation"],
    "assessment-section": ["leadership", "infrastructure", "cyber-security", "workforce", "patient-access",
                           "care-navigation", "data-interoperability", "innovation"],
    "action-status": ["proposed", "agreed", "in-progress", "on-hold", "completed", "cancelled"],
    "impact-category": ["time-saved", "patient-access", "patient-safety", "cost", "staff-experience", "other"],
    "usage-metric": ["active_users", "logins", "assessments_started", "assessments_completed", "actions_created",
                     "actions_completed"],
    "consent-policy": ["data-use-policy"],
    "contract-status": ["active", "suspended", "ended"],
    "data-type": ["global-assessment", "indepth-assessment", "actions", "impact-summary", "indepth-action-summary", "usage"],
    "granularity": ["icb", "pcn", "practice"],
    "audience-role": ["practice", "pcn", "federation", "icb", "external", "service"],
    "consent-scope": ["data-use-agreement"],
}


def values(params: dict) -> dict:
    return {p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in params["parameter"] if "part" not in p}


def properties(params: dict) -> dict:
    out = {}
    for p in params["parameter"]:
        if p["name"] == "property":
            parts = {q["name"]: next(v for k, v in q.items() if k.startswith("value")) for q in p["part"]}
            out[parts["code"]] = parts["value"]
    return out


def raised(call) -> tuple[int, str, tuple]:
    with pytest.raises(OperationOutcomeError) as info:
        call()
    issue = info.value.issues[0]
    return info.value.status, issue.code, issue.expression


# --- the content -------------------------------------------------------------------------

@pytest.mark.parametrize("id_", AGREED)
def test_code_system_has_the_agreed_codes_and_a_value_set_of_all_of_them(id_):
    cs = get_registry().code_system(CS + id_)
    assert list(cs.concepts) == AGREED[id_]
    assert all(c.display and c.definition for c in cs.concepts.values())
    assert cs.resource["valueSet"] == VS + id_
    expanded = expand(VS + id_)
    assert [c["code"] for c in expanded["expansion"]["contains"]] == AGREED[id_]
    assert expanded["expansion"]["total"] == len(AGREED[id_])


def test_fragments_are_the_growing_lists():
    contents = {id_: get_registry().code_system(CS + id_).content for id_ in AGREED}
    assert {k for k, v in contents.items() if v == "fragment"} == {"assessment-theme", "assessment-section"}


@pytest.mark.parametrize("hub,task_status", [("proposed", "requested"), ("agreed", "accepted"),
                                             ("in-progress", "in-progress"), ("on-hold", "on-hold"),
                                             ("completed", "completed"), ("cancelled", "cancelled")])
def test_action_status_carries_the_task_status_it_maps_to(hub, task_status):
    assert properties(lookup(CS + "action-status", hub))["task-status"] == task_status


# --- $lookup ------------------------------------------------------------------------------

def test_lookup_returns_name_version_display_and_properties():
    out = lookup(CS + "impact-category", "time-saved")
    assert values(out) == {"name": "D&T Hub impact category", "version": "1.0.0", "display": "Time saved"}
    assert properties(out) == {"definition": "Staff time saved, e.g. hours per month."}
    assert_conformant(out)


def test_lookup_by_coding_and_with_chosen_properties():
    out = lookup(coding={"system": CS + "action-status", "code": "agreed"}, properties=["task-status"])
    assert values(out)["display"] == "Agreed"
    assert properties(out) == {"task-status": "accepted"}


def test_lookup_accepts_our_version():
    assert values(lookup(CS + "granularity", "pcn", version="1.0.0"))["display"] == "PCN level"


@pytest.mark.parametrize("call,status,code,where", [
    (lambda: lookup(CS + "nope", "x"), 404, "not-found", ("system",)),
    (lambda: lookup("http://terminology.hl7.org/CodeSystem/v3-ActCode", "IDSCL"), 404, "not-found", ("system",)),
    (lambda: lookup(CS + "granularity", "ward"), 404, "not-found", ("code",)),
    (lambda: lookup(CS + "granularity", "pcn", version="0.9"), 404, "not-found", ("version",)),
    (lambda: lookup(CS + "granularity"), 400, "required", ("code",)),
    (lambda: lookup(None, "pcn"), 400, "required", ("system",)),
])
def test_lookup_errors(call, status, code, where):
    assert raised(call) == (status, code, where)


# --- $validate-code -----------------------------------------------------------------------

def test_validate_code_in_a_value_set():
    out = validate_code(VS + "action-status", system=CS + "action-status", code="on-hold")
    assert values(out) == {"result": True, "display": "On hold"}
    assert_conformant(out)


def test_validate_code_infers_the_only_system_of_a_value_set():
    assert values(validate_code(VS + "data-type", code="usage"))["result"] is True


def test_validate_code_in_a_code_system_by_url_or_system():
    assert values(validate_code(CS + "contract-status", code="ended"))["result"] is True
    assert values(validate_code(system=CS + "contract-status", code="ended"))["result"] is True


def test_unknown_code_is_false_with_a_message():
    out = values(validate_code(VS + "contract-status", code="paused"))
    assert out["result"] is False and "paused" in out["message"]


def test_code_of_another_system_is_not_in_the_value_set():
    out = values(validate_code(VS + "granularity", system=CS + "audience-role", code="icb"))
    assert out["result"] is False


def test_wrong_display_is_false_and_names_the_right_one():
    out = values(validate_code(VS + "audience-role", system=CS + "audience-role", code="icb", display="Board"))
    assert out["result"] is False and out["display"] == "ICB" and "Board" in out["message"]


def test_codeable_concept_is_valid_when_one_coding_is():
    concept = {"coding": [{"system": "http://snomed.info/sct", "code": "1"},
                          {"system": CS + "impact-category", "code": "cost"}]}
    assert values(validate_code(VS + "impact-category", codeable_concept=concept)) == {"result": True, "display": "Cost"}
    concept["coding"].pop()
    assert values(validate_code(VS + "impact-category", codeable_concept=concept))["result"] is False


def test_coding_input():
    coding = {"system": CS + "usage-metric", "code": "logins", "version": "1.0.0"}
    assert values(validate_code(VS + "usage-metric", coding=coding))["result"] is True
    coding["version"] = "3.0.0"
    assert values(validate_code(VS + "usage-metric", coding=coding))["result"] is False


def test_code_outside_a_fragment_may_be_valid():
    """As the HL7 validator does: a fragment cannot prove a code wrong, so true with a caveat."""
    out = values(validate_code(VS + "assessment-theme", code="robotics"))
    assert out["result"] is True and "fragment" in out["message"]


@pytest.mark.parametrize("call,status,code,where", [
    (lambda: validate_code(VS + "nope", code="x"), 404, "not-found", ("url",)),
    (lambda: validate_code(CS + "nope", code="x"), 404, "not-found", ("url",)),
    (lambda: validate_code(system=CS + "nope", code="x"), 404, "not-found", ("system",)),
    (lambda: validate_code("http://hl7.org/fhir/ValueSet/task-status", code="ready"), 404, "not-found", ("url",)),
    (lambda: validate_code(VS + "granularity"), 400, "required", ("code",)),
    (lambda: validate_code(code="pcn"), 400, "required", ("url",)),
    (lambda: validate_code(VS + "granularity", codeable_concept={"text": "x"}), 400, "required", ("codeableConcept",)),
])
def test_validate_code_errors(call, status, code, where):
    assert raised(call) == (status, code, where)


# --- $expand ------------------------------------------------------------------------------

def test_expansion_is_a_conformant_value_set():
    out = expand(VS + "impact-category")
    exp = out["expansion"]
    assert exp["identifier"].startswith("urn:uuid:") and exp["timestamp"].endswith("Z")
    assert (exp["total"], exp["offset"]) == (6, 0)
    assert exp["contains"][0] == {"system": CS + "impact-category", "version": "1.0.0", "code": "time-saved",
                                  "display": "Time saved"}
    assert [i for i in validate_resource(out) if i.severity == "error"] == []
    assert_conformant(out)


def test_filter_matches_code_or_display_ignoring_case():
    assert [c["code"] for c in expand(VS + "usage-metric", filter="ASSESSMENTS")["expansion"]["contains"]] == \
        ["assessments_started", "assessments_completed"]
    assert [c["code"] for c in expand(VS + "granularity", filter="level")["expansion"]["contains"]] == ["icb", "pcn", "practice"]
    empty = expand(VS + "granularity", filter="ward")["expansion"]
    assert empty["total"] == 0 and "contains" not in empty


def test_paging_keeps_the_total_of_all_matches():
    page = expand(VS + "assessment-theme", offset=2, count=3)["expansion"]
    assert (page["total"], page["offset"]) == (11, 2)
    assert [c["code"] for c in page["contains"]] == ["cyber-security", "leadership", "infrastructure"]
    last = expand(VS + "assessment-theme", offset="10", count="5")["expansion"]  # query strings
    assert [c["code"] for c in last["contains"]] == ["innovation"]
    assert "contains" not in expand(VS + "assessment-theme", count=0)["expansion"]
    assert "contains" not in expand(VS + "assessment-theme", offset=50)["expansion"]


def test_paging_and_filter_together():
    page = expand(VS + "action-status", filter="o", offset=1, count=2)["expansion"]
    assert page["total"] == 4  # proposed, in-progress, on-hold, completed
    assert [c["code"] for c in page["contains"]] == ["in-progress", "on-hold"]


def test_same_request_same_identifier():
    one, two = expand(VS + "granularity"), expand(VS + "granularity")
    assert one["expansion"]["identifier"] == two["expansion"]["identifier"]
    assert expand(VS + "granularity", count=1)["expansion"]["identifier"] != one["expansion"]["identifier"]


def test_expansion_leaves_the_shipped_value_set_untouched():
    expand(VS + "granularity")
    assert "expansion" not in get_registry().value_set(VS + "granularity").resource


def test_versioned_url():
    assert expand(VS + "granularity|1.0.0")["expansion"]["total"] == 3


@pytest.mark.parametrize("call,status,code,where", [
    (lambda: expand(VS + "nope"), 404, "not-found", ("url",)),
    (lambda: expand(VS + "granularity|2.0.0"), 404, "not-found", ("url",)),
    (lambda: expand("http://hl7.org/fhir/ValueSet/task-status"), 404, "not-found", ("url",)),
    (lambda: expand(None), 400, "required", ("url",)),
    (lambda: expand(VS + "granularity", offset=-1), 400, "invalid", ("offset",)),
    (lambda: expand(VS + "granularity", count="ten"), 400, "invalid", ("count",)),
])
def test_expand_errors(call, status, code, where):
    assert raised(call) == (status, code, where)


# --- the registry's ValueSet composition ---------------------------------------------------

def _cs(id_, codes, content="complete"):
    return {"resourceType": "CodeSystem", "url": CS + id_, "version": "1", "content": content,
            "concept": [{"code": c, "display": c.upper()} for c in codes]}


def test_registry_composes_concept_lists_exclusions_and_imports():
    registry = Registry(
        [_cs("a", ["x", "y", "z"]), _cs("b", ["p", "q"])],
        [{"url": VS + "some", "compose": {"include": [{"system": CS + "a", "concept": [{"code": "y"}, {"code": "x"}]}]}},
         {"url": VS + "most", "compose": {"include": [{"system": CS + "a"}, {"system": CS + "b"}],
                                          "exclude": [{"system": CS + "a", "concept": [{"code": "z"}]}]}},
         {"url": VS + "imported", "compose": {"include": [{"valueSet": [VS + "some"]}]}}])
    assert [m.code for m in registry.value_set(VS + "some").members] == ["y", "x"]
    assert [m.code for m in registry.value_set(VS + "most").members] == ["x", "y", "p", "q"]
    assert registry.value_set(VS + "imported").pairs == {(CS + "a", "x"), (CS + "a", "y")}


def test_registry_refuses_a_value_set_it_cannot_expand():
    with pytest.raises(ValueError):
        Registry([_cs("a", ["x"])], [{"url": VS + "v", "compose": {"include": [{"system": CS + "a", "concept": [{"code": "w"}]}]}}])
    with pytest.raises(ValueError):
        Registry([], [{"url": VS + "v", "compose": {"include": [{"valueSet": [VS + "v"]}]}}])
