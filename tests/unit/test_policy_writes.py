"""start_check and can_write: only service clients, and practices for their own
QuestionnaireResponses and Tasks, write governed data; tier and contract Consents are not theirs."""
from __future__ import annotations

import copy

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.policy import can_write, override_consent, shipped_tiers, start_check
from tests.policy_oracle import CONTRACTS, ROLES, contract_consent, practice_resources

WRITABLE_BY_SERVICE = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "Consent", "Measure",
                       "MeasureReport", "Provenance")
READ_ONLY = ("CodeSystem", "ValueSet", "StructureDefinition", "OperationDefinition", "SearchParameter")
ORG_OF_ROLE = {"practice": "A00001", "pcn": "U00001", "federation": "FED01", "icb": "QAA", "external": None,
               "service": None}


def who(role: str, purpose: str = "HOPERAT") -> Principal:
    return Principal(f"client-{role}", ORG_OF_ROLE[role], role, ScopeSet(), purpose)


def expected_start(role: str, purpose: str, interaction: str, rtype: str) -> bool:
    """The rule, transcribed: reads always start; writes by service, or by a practice for QR/Task;
    for operational purposes only; never to shipped conformance resources; AuditEvent only grows."""
    if interaction in ("read", "search-type", "history-instance", "operation", "transaction"):
        return True
    if rtype in READ_ONLY or (rtype == "AuditEvent" and interaction != "create"):
        return False
    if purpose not in ("HOPERAT", "HQUALIMP"):
        return False
    if role == "service":
        return True
    return role == "practice" and rtype in ("QuestionnaireResponse", "Task")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("purpose", ["HMARKT", "HOPERAT", "HQUALIMP"])
def test_start_check_as_the_rule_says(role, purpose):
    for interaction in ("read", "search-type", "history-instance", "operation", "transaction", "create", "update",
                        "patch", "delete"):
        for rtype in WRITABLE_BY_SERVICE + READ_ONLY + ("AuditEvent",):
            verdict = start_check(who(role, purpose), interaction, rtype)
            assert verdict.allowed == expected_start(role, purpose, interaction, rtype), (interaction, rtype, verdict)


def test_an_unknown_interaction_is_refused():
    assert not start_check(who("service"), "frobnicate", "Task").allowed
    assert not start_check(who("service"), "create", None).allowed


@pytest.fixture(scope="module")
def own():
    return practice_resources("A00001")


def test_a_practice_writes_its_own_questionnaire_responses_and_tasks(own):
    practice = who("practice")
    for kind in ("qr-global", "task"):
        assert can_write(practice, None, own[kind]).allowed
        assert can_write(practice, own[kind], own[kind]).allowed
        assert can_write(practice, own[kind], None).allowed


def test_a_practice_cannot_write_another_practices_data_or_move_its_own_away(own):
    practice = who("practice")
    other = practice_resources("A00002")
    assert not can_write(practice, None, other["task"]).allowed
    assert not can_write(practice, other["task"], None).allowed
    moved = copy.deepcopy(own["task"])
    moved["for"] = other["task"]["for"]
    assert not can_write(practice, own["task"], moved).allowed
    assert not can_write(practice, None, own["usage"]).allowed  # MeasureReports are computed, not written


def test_a_practice_write_keeps_the_data_type_label(own):
    unlabelled = copy.deepcopy(own["qr-global"])
    unlabelled["meta"]["security"] = []
    verdict = can_write(who("practice"), None, unlabelled)
    assert not verdict.allowed and "label" in verdict.reason


def test_a_practice_writing_for_marketing_is_refused(own):
    assert not can_write(who("practice", "HMARKT"), None, own["task"]).allowed


@pytest.mark.parametrize("role", ["pcn", "federation", "icb", "external"])
def test_other_roles_write_nothing(own, role):
    assert not can_write(who(role), None, own["task"]).allowed


def test_service_writes_governed_data(own):
    assert can_write(who("service"), own["task"], own["task"]).allowed


def test_tier_consents_are_read_only_even_for_service():
    for tier in shipped_tiers().consents():
        verdict = can_write(who("service"), tier, tier)
        assert not verdict.allowed and verdict.source == f"Consent/{tier['id']}"
        assert not can_write(who("service"), None, tier).allowed


def test_contract_consents_belong_to_their_import():
    consent = contract_consent(CONTRACTS[0][0])
    assert not can_write(who("service"), None, consent).allowed
    assert not can_write(who("service"), consent, None).allowed


def test_service_writes_and_withdraws_overrides():
    override = override_consent("o1", "policy-service", clients=["partner-x"])
    assert can_write(who("service"), None, override).allowed
    assert can_write(who("service"), override, {**override, "status": "inactive"}).allowed
    assert not can_write(who("service"), None, {**override, "sourceReference": None}).allowed
    assert not can_write(who("practice"), None, override).allowed


def test_can_write_never_raises():
    for before, after in ((None, None), ("x", None), (None, {"resourceType": "Task", "meta": "x"}),
                          ({"resourceType": "Task"}, {"resourceType": "QuestionnaireResponse"})):
        assert not can_write(who("practice"), before, after).allowed
