"""will_see: staff personal data removed (REDACTED) for everyone but the practice itself and service
clients; Task.output removed (MASKED) without Impact Summary; the input never changes."""
from __future__ import annotations

import copy
import functools
import json

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.formats.xml import to_xml
from adapter.policy import (MASK_IMPACT, MASK_STAFF, Contract, Hierarchy, Override, can_see, effective_grants,
                            override_consent, will_see)
from profiles.validate import validate_all
from tests.conformance import assert_conformant
from tests.policy_oracle import (CONTRACTS, STAFF_NAME, TODAY, contract_consent, organization_resources,
                                 practice_resources)

V3_OBS = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
OWN = Principal("practice-b2", "B00002", "practice", ScopeSet(), "HOPERAT")
SERVICE = Principal("service", None, "service", ScopeSet(), "HQUALIMP")
PCN = Principal("pcn-u3", "U00003", "pcn", ScopeSet(), "HOPERAT")
ICB = Principal("icb-qbb", "QBB", "icb", ScopeSet(), "HOPERAT")


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


def grants(principal, *overrides):
    contracts = [Contract.from_consent(contract_consent(c)) for c, _ in CONTRACTS]
    return effective_grants(principal, hierarchy(), contracts, [Override.from_consent(o) for o in overrides], TODAY)


def labels(resource) -> set[str]:
    return {c["code"] for c in resource["meta"]["security"] if c["system"] == V3_OBS}


def names_staff(resource) -> bool:
    return STAFF_NAME in json.dumps(resource) or "jo.bloggs" in json.dumps(resource) \
        or "Practice Manager" in json.dumps(resource)


@pytest.fixture
def b2():
    return practice_resources("B00002")


@pytest.mark.parametrize("principal", [OWN, SERVICE], ids=["own-practice", "service"])
def test_the_practice_itself_and_service_see_staff(b2, principal):
    g = grants(principal)
    for kind in ("qr-global", "qr-indepth", "task"):
        verdict = can_see(principal, g, b2[kind])
        assert verdict.allowed and verdict.masks == ()
        assert will_see(principal, g, b2[kind], verdict.masks) == b2[kind]


def test_a_pcn_with_contract_sees_the_task_without_staff(b2):
    task = b2["task"]
    original = copy.deepcopy(task)
    view = will_see(PCN, grants(PCN), task)
    assert task == original  # never mutates its input
    assert not names_staff(view) and "contained" not in view and "note" not in view
    assert view["owner"] == {"reference": "Organization/B00002",
                             "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "B00002"}}
    assert view["output"] == task["output"]  # PCN-c has Impact Summary at practice level
    assert labels(view) == {"REDACTED"}
    assert {k for k in task if k not in view} == {"contained", "note"}


def test_an_icb_with_contract_sees_global_assessments_without_their_author():
    qr = practice_resources("B00001")["qr-global"]  # C-QBB-LISTED covers B00001
    verdict = can_see(ICB, grants(ICB), qr)
    assert verdict.allowed and verdict.masks == (MASK_STAFF,)
    view = will_see(ICB, grants(ICB), qr, verdict.masks)
    assert not names_staff(view) and view["author"]["reference"] == "Organization/B00001"
    assert view["item"] == qr["item"] and labels(view) == {"REDACTED"}


def test_without_impact_summary_the_task_output_is_masked(b2):
    g = grants(PCN, override_consent("o1", "C-U3", orgs=["U00003"], data_types=["impact-summary"]))
    verdict = can_see(PCN, g, b2["task"])
    assert verdict.masks == (MASK_STAFF, MASK_IMPACT)
    view = will_see(PCN, g, b2["task"])
    assert "output" not in view and labels(view) == {"REDACTED", "MASKED"}


def test_the_label_is_added_even_when_nothing_named_staff(b2):
    """Otherwise the label's absence would tell that the action had no named owner."""
    task = copy.deepcopy(b2["task"])
    for key in ("contained", "note"):
        task.pop(key)
    task["owner"] = {"reference": "Organization/B00002"}
    assert labels(will_see(PCN, grants(PCN), task)) == {"REDACTED"}


def test_an_owner_from_the_pcn_becomes_the_pcn(b2):
    task = copy.deepcopy(b2["task"])
    role = next(c for c in task["contained"] if c["resourceType"] == "PractitionerRole")
    role["organization"] = {"reference": "Organization/U00003",
                            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "U00003"}}
    assert will_see(PCN, grants(PCN), task)["owner"]["reference"] == "Organization/U00003"


def test_narrative_is_removed_with_staff(b2):
    qr = dict(b2["qr-global"], text={"status": "generated",
                                     "div": f'<div xmlns="http://www.w3.org/1999/xhtml">By {STAFF_NAME}</div>'})
    assert "text" not in will_see(PCN, grants(PCN), qr)


@pytest.mark.parametrize("kind", ["qr-global", "qr-indepth", "task"])
def test_masked_views_are_valid_r4_and_valid_by_our_profiles(b2, kind):
    g = grants(PCN, override_consent("o1", "C-U3", orgs=["U00003"], data_types=["impact-summary"]))
    view = will_see(PCN, g, b2[kind])
    assert not [i for i in validate_all(view) if i.severity in ("error", "fatal")]
    assert_conformant(view, to_xml(view))


def test_summaries_and_usage_are_served_unchanged(b2):
    g = grants(PCN)
    for kind in ("impact-summary", "indepth-action-summary", "usage"):
        assert will_see(PCN, g, b2[kind]) == b2[kind]


def test_a_deep_staff_reference_is_replaced_in_the_view_and_never_in_the_input(b2):
    """The view is copied on write: the nodes on the way to a replaced reference are the view's own,
    the input (and its meta) stay as they were, whatever the depth."""
    qr = copy.deepcopy(b2["qr-global"])
    role = next(c for c in qr.get("contained", []) if c["resourceType"] == "PractitionerRole")
    deep = {"linkId": "deep", "answer": [{"valueReference": {"reference": f"#{role['id']}"}}]}
    qr["item"] = [{"linkId": "outer", "item": [deep]}] + list(qr.get("item") or [])
    original = copy.deepcopy(qr)
    view = will_see(PCN, grants(PCN), qr)
    assert qr == original
    assert view["item"][0]["item"][0]["answer"][0]["valueReference"]["reference"] == "Organization/B00002"
    assert view["item"][1:] == qr["item"][1:] and labels(view) == {"REDACTED"} and not names_staff(view)


def _references(node) -> list[str]:
    if isinstance(node, dict):
        own = [node["reference"]] if isinstance(node.get("reference"), str) else []
        return own + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


@pytest.mark.parametrize("organisation", [None, "B00002"], ids=["references-go", "references-become-the-org"])
def test_every_staff_reference_goes_wherever_and_however_often_it_appears(organisation):
    """The walk stops once every occurrence of a local reference's text has been replaced: a
    reference at the top and the same one deeper, the same text outside a reference (a display,
    an answer), and a removed list entry before one that holds another must all come out right."""
    role = {"resourceType": "PractitionerRole", "id": "r1"}
    if organisation:
        role["organization"] = {"reference": f"Organization/{organisation}"}
    qr = {"resourceType": "QuestionnaireResponse", "id": "x", "status": "completed",
          "contained": [role, {"resourceType": "Organization", "id": "o1", "name": "kept"}],
          "author": {"reference": "#r1"},
          "basedOn": [{"reference": "#r1"},
                      {"reference": "#o1", "extension": [{"url": "https://example.org/x",
                                                          "valueReference": {"reference": "#r1"}}]}],
          "item": [{"linkId": "a", "answer": [{"valueString": "#r1"},
                                              {"valueReference": {"reference": "#r1", "display": "#r1"}}]}]}
    original = copy.deepcopy(qr)
    view = will_see(ICB, None, qr, (MASK_STAFF,))
    assert qr == original
    expected_org = [f"Organization/{organisation}"] if organisation else []
    assert "#r1" not in _references(view) and "#o1" in _references(view)
    assert _references(view).count(f"Organization/{organisation}") == (4 if organisation else 0)
    assert [c["id"] for c in view["contained"]] == ["o1"]
    assert view["item"][0]["answer"][0] == {"valueString": "#r1"}  # text, not a reference: kept
    assert ("author" in view) == bool(organisation) and _references(view.get("author")) == expected_org
    assert len(view["basedOn"]) == (2 if organisation else 1)
