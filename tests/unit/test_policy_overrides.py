"""Override Consents: a service client withdraws what a named tier or contract grants."""
from __future__ import annotations

import functools
from datetime import date, timedelta

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.formats.xml import to_xml
from adapter.policy import (ALL, MASK_IMPACT, Contract, Hierarchy, Override, can_see, effective_grants,
                            override_consent, split_consents)
from profiles.validate import validate_all
from tests.conformance import assert_conformant
from tests.policy_oracle import CONTRACTS, DATA_TYPES, LEVELS, TODAY, contract_consent, organization_resources, \
    practice_resources

PARTNER = Principal("partner-x", None, "service", ScopeSet(), "HOPERAT")
ICB = Principal("icb-qaa", "QAA", "icb", ScopeSet(), "HOPERAT")
PCN = Principal("pcn-u3", "U00003", "pcn", ScopeSet(), "HOPERAT")


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


def contracts():
    return [Contract.from_consent(contract_consent(c)) for c, _ in CONTRACTS]


def grants(principal, *consents, today=TODAY):
    overrides = [Override.from_consent(c) for c in consents]
    assert None not in overrides
    return effective_grants(principal, hierarchy(), contracts(), overrides, today)


def test_override_consent_is_valid_r4_and_valid_by_our_profiles():
    consent = override_consent("withdraw-partner-x", "policy-service", clients=["partner-x"], orgs=["QAA"],
                               data_types=["actions"], levels=["practice"], purposes=["HOPERAT"],
                               start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert not [i for i in validate_all(consent) if i.severity in ("error", "fatal")]
    assert_conformant(consent, to_xml(consent))


def test_withdrawing_a_partners_service_tier_leaves_it_the_baseline():
    withdrawn = grants(PARTNER, override_consent("o1", "policy-service", clients=["partner-x"]))
    for data_type in DATA_TYPES:
        for level in LEVELS:
            assert withdrawn.sources(data_type, level) in ((), ("Consent/policy-baseline",)), (data_type, level)
    assert withdrawn.scope("usage", "practice") is ALL and not withdrawn.can_aggregate("actions", "icb")


def test_an_override_for_another_client_changes_nothing():
    other = grants(PARTNER, override_consent("o1", "policy-service", clients=["partner-y"]))
    assert other.scope("actions", "practice") is ALL


def test_an_override_does_not_remove_what_another_tier_grants():
    """Withdrawing usage at practice level from the service tier: the baseline still grants it."""
    g = grants(PARTNER, override_consent("o1", "policy-service", clients=["partner-x"], data_types=["usage"],
                                         levels=["practice"]))
    assert g.scope("usage", "practice") is ALL and g.sources("usage", "practice") == ("Consent/policy-baseline",)
    assert g.sources("usage", "pcn") == ("Consent/policy-baseline", "Consent/policy-service")


def test_an_override_naming_a_contract_removes_its_cells_only():
    g = grants(ICB, override_consent("o1", "C-QAA", orgs=["QAA"], data_types=["actions"], levels=["pcn"]))
    assert not g.can_aggregate("actions", "pcn") and g.can_aggregate("actions", "icb")
    assert g.sources("global-assessment", "practice") == ("Consent/policy-icb-contract", "Consent/C-QAA")


def test_an_override_naming_a_tier_applies_to_every_contract_under_it():
    g = grants(ICB, override_consent("o1", "policy-icb-contract", orgs=["QAA"], levels=["practice"]))
    assert not g.scope("global-assessment", "practice") and g.can_aggregate("global-assessment", "pcn")


@pytest.mark.parametrize("start, end, applies", [
    (TODAY + timedelta(days=1), None, False), (None, TODAY - timedelta(days=1), False),
    (TODAY, TODAY, True), (None, None, True)])
def test_an_override_is_in_force_within_its_period(start, end, applies):
    g = grants(PARTNER, override_consent("o1", "policy-service", clients=["partner-x"], start=start, end=end))
    assert g.can_aggregate("actions", "icb") is not applies


def test_an_override_for_one_purpose_leaves_the_others():
    consent = override_consent("o1", "policy-service", clients=["partner-x"], purposes=["HQUALIMP"])
    assert grants(PARTNER, consent).can_aggregate("actions", "icb")
    quality = Principal("partner-x", None, "service", ScopeSet(), "HQUALIMP")
    assert not grants(quality, consent).can_aggregate("actions", "icb")


def test_withdrawing_impact_summary_masks_task_output():
    g = grants(PCN, override_consent("o1", "C-U3", orgs=["U00003"], data_types=["impact-summary"]))
    task = practice_resources("B00002")["task"]
    verdict = can_see(PCN, g, task)
    assert verdict.allowed and MASK_IMPACT in verdict.masks


def test_an_inactive_override_is_no_override():
    consent = {**override_consent("o1", "policy-service", clients=["partner-x"]), "status": "inactive"}
    assert Override.from_consent(consent) is None
    assert split_consents([consent]) == ([], [])


@pytest.mark.parametrize("breakage", [
    lambda c: c.pop("sourceReference"),
    lambda c: c["provision"].update(type="deny"),
    lambda c: c["provision"].update(actor=[]),
    lambda c: c["provision"].update(actor=[{"role": {"text": "x"}, "reference": {"display": "someone"}}]),
    lambda c: c["provision"].update(provision=[]),
    lambda c: c["provision"]["provision"][0].update(type="permit"),
    lambda c: c["provision"]["provision"][0].update(securityLabel=[{"system": "urn:x", "code": "y"}]),
    lambda c: c["provision"]["provision"][0].update(data=[{"meaning": "related",
                                                           "reference": {"reference": "Organization/A00001"}}]),
    lambda c: c["provision"].update(period={"start": "soon"}),
], ids=["no-source", "root-type", "no-actor", "unmatchable-actor", "no-deny", "permit", "foreign-label",
        "practice-list", "bad-period"])
def test_a_malformed_override_is_no_override(breakage):
    consent = override_consent("o1", "policy-service", clients=["partner-x"], data_types=["usage"])
    breakage(consent)
    assert Override.from_consent(consent) is None


def test_split_consents_finds_overrides():
    consent = override_consent("o1", "policy-service", clients=["partner-x"])
    contracts_, overrides = split_consents([consent, contract_consent(CONTRACTS[0][0])])
    assert [o.id for o in overrides] == ["o1"] and [c.id for c in contracts_] == ["C-QAA"]
