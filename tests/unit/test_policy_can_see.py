"""can_see beyond the policy table: reference data, Consents, AuditEvents, Provenance, aggregates,
unlabelled data; and the shape of a Verdict."""
from __future__ import annotations

import dataclasses
import functools

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.policy import (PUBLIC, Contract, Hierarchy, Override, Verdict, can_see, effective_grants,
                            override_consent, shipped_tiers)
from tests.policy_oracle import (CALLERS, CONTRACTS, TODAY, contract_consent, organization_resources,
                                 practice_resources, usage_resource)

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PRINCIPALS = [Principal(f"client-{name}", org, role, ScopeSet(), purpose)
              for name, role, org in CALLERS for purpose in ("HMARKT", "HOPERAT")]


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


def grants(principal, *overrides):
    contracts = [Contract.from_consent(contract_consent(c)) for c, _ in CONTRACTS]
    return effective_grants(principal, hierarchy(), contracts, [Override.from_consent(o) for o in overrides], TODAY)


def by_name(name: str, purpose: str = "HOPERAT") -> Principal:
    return next(Principal(f"client-{n}", org, role, ScopeSet(), purpose) for n, role, org in CALLERS if n == name)


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: f"{p.client_id}-{p.purpose}")
def test_reference_data_and_tier_consents_are_visible_to_every_caller(principal):
    g = grants(principal)
    for rtype in PUBLIC:
        assert can_see(principal, g, {"resourceType": rtype, "id": "x"}).allowed, rtype
    for consent in shipped_tiers().consents():
        verdict = can_see(principal, g, consent)
        assert verdict.allowed and verdict.source == f"Consent/{consent['id']}"


def test_a_contract_consent_is_visible_to_its_holder_and_service_only():
    consent = contract_consent(CONTRACTS[0][0])  # C-QAA, held by QAA
    seen = {p.client_id for p in PRINCIPALS if can_see(p, grants(p), consent).allowed}
    assert seen == {"client-icb-QAA", "client-external-of-QAA", "client-service"}


def test_an_override_is_visible_to_the_client_it_names():
    consent = override_consent("o1", "policy-service", clients=["client-service"])
    partner = Principal("client-service", None, "service", ScopeSet(), "HOPERAT")
    other = by_name("external")
    assert can_see(partner, grants(partner), consent).allowed
    assert not can_see(other, grants(other), consent).allowed
    named = Principal("partner-z", None, "external", ScopeSet(), "HMARKT")
    assert can_see(named, grants(named), override_consent("o2", "policy-baseline", clients=["partner-z"])).allowed


def audit_event(*entities: dict) -> dict:
    return {"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-11-01T10:00:00Z",
            "agent": [{"requestor": True, "who": {"reference": "Organization/QAA",
                                                   "identifier": {"system": ODS, "value": "QAA"}}}],
            "source": {"observer": {"display": "dthub"}}, "entity": list(entities)}


def test_an_audit_event_is_visible_to_the_organisation_it_is_about_and_service():
    event = audit_event({"what": {"reference": "QuestionnaireResponse/S-1"}},
                        {"what": {"identifier": {"system": ODS, "value": "A00001"}}})
    seen = {p.client_id for p in PRINCIPALS if can_see(p, grants(p), event).allowed}
    assert seen == {"client-practice-A00001", "client-service"}
    literal = audit_event({"what": {"reference": "Organization/U00001"}})
    assert can_see(by_name("pcn-U00001"), grants(by_name("pcn-U00001")), literal).allowed


def test_the_requesting_agent_alone_does_not_see_the_audit_event():
    event = audit_event({"what": {"reference": "Organization/A00003"}})  # agent: QAA
    assert not can_see(by_name("icb-QAA"), grants(by_name("icb-QAA")), event).allowed


def test_provenance_is_visible_when_every_target_is():
    provenance = {"resourceType": "Provenance", "target": [{"reference": "Task/A-1/_history/1"},
                                                           {"reference": "Organization/A00001/_history/2"}]}
    p = by_name("pcn-U00003")
    g = grants(p)
    assert can_see(p, g, provenance, lambda ref: True).allowed
    assert not can_see(p, g, provenance, lambda ref: ref.startswith("Organization/")).allowed
    assert not can_see(p, g, provenance).allowed  # no resolver: cannot be judged
    service = by_name("service")
    assert can_see(service, grants(service), provenance).allowed


def test_a_stored_group_report_needs_the_level_and_practice_rights_over_all_of_the_group():
    """An ICB contract reaches one of the spanning PCN U00001's two cells: none of U00001's stored
    reports (its own monthly row, or a stored summary) is visible, as $evaluate-measure would not
    serve that month's aggregate unsuppressed; a PCN wholly in QAA's are. Without Practice-level
    rights (an override withdraws them) only the operation serves the ICB its aggregates."""
    principal = by_name("icb-QAA")
    g = grants(principal, override_consent("o1", "policy-baseline", orgs=["QAA"], data_types=["usage"]))
    for report in (usage_resource("U00001"), dict(usage_resource("U00001"), type="summary")):
        assert not can_see(principal, g, report).allowed
    for report in (usage_resource("U00004"), dict(usage_resource("U00004"), type="summary")):
        assert can_see(principal, g, report).allowed  # wholly in QAA
    aggregate_only = grants(principal, override_consent("o1", "policy-baseline", orgs=["QAA"], data_types=["usage"]),
                            override_consent("o2", "policy-icb-contract", orgs=["QAA"], data_types=["usage"],
                                             levels=["practice"]))
    assert aggregate_only.can_aggregate("usage", "pcn") and not aggregate_only.practice_scope("usage")
    verdict = can_see(principal, aggregate_only, usage_resource("U00004"))
    assert not verdict.allowed and verdict.source == "rule:aggregate-only"


def test_the_deciding_source_names_the_contract_and_its_tier():
    principal = by_name("icb-QAA")
    verdict = can_see(principal, grants(principal), practice_resources("A00001")["qr-global"])
    assert verdict.allowed and verdict.source == "Consent/C-QAA"
    assert verdict.sources == ("Consent/policy-icb-contract", "Consent/C-QAA")


def test_a_refusal_names_its_rule():
    principal = by_name("icb-QAA")
    verdict = can_see(principal, grants(principal), practice_resources("A00001")["task"])
    assert not verdict.allowed and verdict.source == "rule:no-grant" and "actions" in verdict.reason


def test_unlabelled_governed_data_is_for_service_delivery_only():
    qr = dict(practice_resources("A00001")["qr-global"])
    qr["meta"] = {"security": []}
    for principal in PRINCIPALS:
        want = principal.role == "service" and principal.purpose == "HOPERAT"
        assert can_see(principal, grants(principal), qr).allowed == want, principal


@pytest.mark.parametrize("junk", [None, {}, [], "Patient", {"resourceType": "Patient"},
                                  {"resourceType": "Task"}, {"resourceType": "Consent"},
                                  {"resourceType": "AuditEvent", "entity": "x"},
                                  {"resourceType": "Provenance", "target": [{}]}])
def test_can_see_never_raises_and_refuses_what_it_cannot_judge(junk):
    principal = by_name("pcn-U00003")
    verdict = can_see(principal, grants(principal), junk)
    assert isinstance(verdict, Verdict) and not verdict.allowed and verdict.reason


def test_a_verdict_is_immutable():
    principal = by_name("service")
    verdict = can_see(principal, grants(principal), {"resourceType": "Organization"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.allowed = False  # type: ignore[misc]


def test_service_sees_consents_audit_and_provenance_only_for_service_delivery():
    """For marketing a service client holds the baseline only, like any other client: no
    contract Consent, no AuditEvent and no Provenance beyond what its targets allow."""
    consent = contract_consent(CONTRACTS[0][0])
    event = audit_event({"what": {"reference": "Organization/A00001"}})
    provenance = {"resourceType": "Provenance", "target": [{"reference": "Task/A-1/_history/1"}]}
    for purpose, expected in (("HOPERAT", True), ("HQUALIMP", True), ("HMARKT", False)):
        service = by_name("service", purpose)
        g = grants(service)
        assert can_see(service, g, consent).allowed is expected, purpose
        assert can_see(service, g, event).allowed is expected, purpose
        assert can_see(service, g, provenance, lambda ref: False).allowed is expected, purpose
    marketing = by_name("service", "HMARKT")
    assert can_see(marketing, grants(marketing), provenance, lambda ref: True).allowed  # every target visible
