"""$policy-matrix: one `grant` per data type x level with data-type, level, scope, source; valid R4."""
from __future__ import annotations

import functools

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.formats.xml import to_xml
from adapter.policy import Contract, Hierarchy, effective_grants, policy_matrix
from tests.conformance import assert_conformant
from tests.policy_oracle import (ALL, CALLERS, CONTRACTS, DATA_TYPES, LEVELS, PRACTICES, TODAY, contract_consent,
                                 expected_scope, organization_resources)


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


def matrix_of(role, org, purpose):
    principal = Principal(f"client-{role}", org, role, ScopeSet(), purpose)
    contracts = [Contract.from_consent(contract_consent(c)) for c, _ in CONTRACTS]
    return policy_matrix(principal, effective_grants(principal, hierarchy(), contracts, (), TODAY), hierarchy())


def parts(parameter: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for part in parameter["part"]:
        out.setdefault(part["name"], []).append(part)
    return out


@pytest.mark.parametrize("name, role, org", CALLERS, ids=[c[0] for c in CALLERS])
@pytest.mark.parametrize("purpose", ["HMARKT", "HOPERAT"])
def test_matrix_has_one_grant_per_data_type_and_level_as_the_policy_says(name, role, org, purpose):
    matrix = matrix_of(role, org, purpose)
    assert matrix["resourceType"] == "Parameters"
    grants = [p for p in matrix["parameter"] if p["name"] == "grant"]
    assert [(parts(g)["data-type"][0]["valueCoding"]["code"], parts(g)["level"][0]["valueCoding"]["code"])
            for g in grants] == [(d, level) for d in DATA_TYPES for level in LEVELS]
    all_contracts = [c for c, _ in CONTRACTS]
    for grant in grants:
        p = parts(grant)
        data_type, level = p["data-type"][0]["valueCoding"]["code"], p["level"][0]["valueCoding"]["code"]
        want = expected_scope(role, org, purpose, data_type, level, all_contracts)
        scope = parts(p["scope"][0])
        listed = frozenset(x["valueReference"]["identifier"]["value"] for x in scope.get("practice", []))
        if want == ALL:
            assert scope["all"][0]["valueBoolean"] is True and not listed
            assert scope["count"][0]["valueInteger"] == len(PRACTICES)
        else:
            assert "all" not in scope and listed == want and scope["count"][0]["valueInteger"] == len(want)
        sources = [s["valueReference"]["reference"] for s in p.get("source", [])]
        assert bool(sources) == bool(want) and all(s.startswith("Consent/") for s in sources)


@pytest.mark.parametrize("name, role, org", CALLERS, ids=[c[0] for c in CALLERS])
def test_matrix_is_valid_r4(name, role, org):
    matrix = matrix_of(role, org, "HOPERAT")
    assert_conformant(matrix, to_xml(matrix))


def test_matrix_names_the_caller_and_the_day():
    matrix = matrix_of("icb", "QAA", "HQUALIMP")
    head = {p["name"]: p for p in matrix["parameter"] if p["name"] != "grant"}
    assert head["client-id"]["valueString"] == "client-icb"
    assert head["role"]["valueCoding"]["code"] == "icb" and head["purpose"]["valueCoding"]["code"] == "HQUALIMP"
    assert head["organization"]["valueReference"]["reference"] == "Organization/QAA"
    assert head["date"]["valueDate"] == TODAY.isoformat()
    assert "organization" not in {p["name"] for p in matrix_of("service", None, "HOPERAT")["parameter"]}


def test_a_contract_grant_names_the_tier_and_the_contract():
    matrix = matrix_of("icb", "QBB", "HOPERAT")
    grant = next(g for g in matrix["parameter"] if g["name"] == "grant"
                 and parts(g)["data-type"][0]["valueCoding"]["code"] == "actions"
                 and parts(g)["level"][0]["valueCoding"]["code"] == "pcn")
    assert [s["valueReference"]["reference"] for s in parts(grant)["source"]] == [
        "Consent/policy-icb-contract", "Consent/C-QBB-LISTED"]
