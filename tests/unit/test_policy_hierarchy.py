"""The hierarchy read from mapper-emitted Organizations, and contracts read from their Consents."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.policy import ALL, Contract, Hierarchy, effective_grants, london_today, split_consents
from adapter.policy.hierarchy import Practice
from mappings.organisation import organisation_to_fhir
from mappings.schemas import load_record
from tests.policy_oracle import (CELLS, CONTRACTS, ORGANISATIONS, PRACTICES, PRACTICES_OF, TODAY, contract_consent,
                                 organization_resources)


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


def test_kinds_come_from_ods_roles_and_a_federation_has_none(hierarchy):
    assert {o["ods_code"]: o["kind"] for o in ORGANISATIONS} == dict(hierarchy.kinds)


def test_practices_of_each_organisation(hierarchy):
    assert hierarchy.practices == PRACTICES
    for ods, practices in PRACTICES_OF.items():
        assert hierarchy.practices_of(ods) == practices, ods
    assert hierarchy.practices_of("A00001") == {"A00001"}
    assert hierarchy.practices_of("NOPE") == frozenset()


def test_a_pcn_spanning_two_icbs_is_two_cells(hierarchy):
    assert dict(hierarchy.cells) == CELLS
    assert hierarchy.cells_of_pcn("U00001") == (("U00001", "QAA"), ("U00001", "QBB"))
    assert set(hierarchy.cells_of_icb("QBB")) == {("U00001", "QBB"), ("U00002", "QBB"), ("U00003", "QBB")}


def test_a_practice_belongs_to_the_icb_of_its_own_record(hierarchy):
    assert hierarchy.practice["A00003"].icb == "QBB" and hierarchy.pcn_lead_icb["U00001"] == "QAA"
    assert hierarchy.practice["C00001"].pcn is None and "C00001" in hierarchy.practices_of("QAA")
    assert hierarchy.practice["A00001"].federations == {"FED01"}


def test_closed_practices_are_known_but_inactive(hierarchy):
    assert "D00001" in hierarchy.practices_of("FED01")
    assert "D00001" not in hierarchy.active_practices_of("FED01")


def test_a_practice_without_its_own_icb_sits_in_its_pcns_lead_icb():
    record, _ = load_record("organisation", {"ods_code": "E00001", "kind": "practice", "name": "E",
                                             "parent": "U00009", "icb": "QCC"})
    practice = organisation_to_fhir(record, "t")
    practice["extension"] = []  # as the demo's minimal organisations are written
    pcn = organisation_to_fhir(load_record("organisation", {"ods_code": "U00009", "kind": "pcn", "name": "P",
                                                            "parent": "QCC"})[0], "t")
    hierarchy = Hierarchy.from_organizations([practice, pcn])
    assert hierarchy.practices_of("QCC") == {"E00001"} and dict(hierarchy.cells) == {("U00009", "QCC"): {"E00001"}}


@pytest.mark.parametrize("record, reach", CONTRACTS, ids=[c["id"] for c, _ in CONTRACTS])
def test_contract_from_its_consent_and_what_it_reaches_today(hierarchy, record, reach):
    contract = Contract.from_consent(contract_consent(record))
    assert (contract.id, contract.holder, contract.kind, contract.status) == (
        record["id"], record["holder"], record["kind"], record["status"])
    assert contract.covers == (None if record["covers"] is None else frozenset(record["covers"]))
    assert contract.reference == f"Consent/{record['id']}"
    in_force_and_reaching = contract.scope(hierarchy) if contract.in_force(TODAY) else None
    assert in_force_and_reaching == reach


def test_contracts_are_judged_against_the_current_hierarchy():
    """A practice joining a PCN whose contract does not list it ends that PCN's tier."""
    full = next(c for c, _ in CONTRACTS if c["id"] == "C-U1-ALL")
    contract = Contract.from_consent(contract_consent(full))
    joined = organization_resources() + [organisation_to_fhir(load_record("organisation", {
        "ods_code": "A00009", "kind": "practice", "name": "NEW", "parent": "U00001", "icb": "QAA"})[0], "t")]
    assert contract.scope(Hierarchy.from_organizations(organization_resources())) == PRACTICES_OF["U00001"]
    assert contract.scope(Hierarchy.from_organizations(joined)) is None


def test_contract_in_force_from_start_to_end_inclusive():
    record = next(c for c, _ in CONTRACTS if c["id"] == "C-U3")  # ends TODAY
    contract = Contract.from_consent(contract_consent(record))
    assert contract.in_force(TODAY) and contract.in_force(date(2026, 4, 1))
    assert not contract.in_force(TODAY + timedelta(days=1)) and not contract.in_force(date(2026, 3, 31))


def test_a_retired_contract_is_never_in_force():
    record = next(c for c, _ in CONTRACTS if c["id"] == "C-QAA")
    consent = {**contract_consent(record), "status": "entered-in-error"}
    assert not Contract.from_consent(consent).in_force(TODAY)


def test_a_pcn_contract_of_an_icb_holder_role_mismatch_grants_nothing(hierarchy):
    """The contract tier follows the client's role: a `pcn` client of an ICB holding an ICB contract gets none."""
    record = next(c for c, _ in CONTRACTS if c["id"] == "C-QAA")
    contract = Contract.from_consent(contract_consent(record))
    principal = Principal("x", "QAA", "pcn", ScopeSet(), "HOPERAT")
    grants = effective_grants(principal, hierarchy, [contract], (), TODAY)
    assert not grants.can_aggregate("actions", "pcn")


def test_split_consents_sorts_contracts_and_overrides_and_skips_tiers():
    consents = [contract_consent(c) for c, _ in CONTRACTS[:2]] + [{"resourceType": "Consent", "id": "policy-baseline"},
                                                                 {"resourceType": "Consent", "id": "other"}]
    contracts, overrides = split_consents(consents, ["policy-baseline"])
    assert [c.id for c in contracts] == [c["id"] for c, _ in CONTRACTS[:2]] and overrides == []


def test_london_today_is_the_london_calendar_date():
    from datetime import datetime, timezone
    # 23:30 UTC on a summer day is already the next day in London (BST).
    assert london_today(datetime(2026, 7, 1, 23, 30, tzinfo=timezone.utc)) == date(2026, 7, 2)
    assert london_today(datetime(2026, 12, 1, 23, 30, tzinfo=timezone.utc)) == date(2026, 12, 1)


def test_hierarchy_build_from_plain_values():
    hierarchy = Hierarchy.build([Practice("A00001", "U00001", None), Practice("B00001", None, "QBB")],
                                pcns={"U00001": "QAA"}, icbs=["QAA", "QBB"])
    assert hierarchy.practice["A00001"].icb == "QAA"
    assert hierarchy.practices_of("QAA") == {"A00001"} and hierarchy.practices_of("QBB") == {"B00001"}
    assert ALL & hierarchy.practices == hierarchy.practices and "X" in ALL and (ALL | frozenset()) is ALL
