"""The engine's grants and can_see against the oracle (tests/policy_oracle.py), for every caller x
contract world x purpose x data type x level, and each governed resource of every practice."""
from __future__ import annotations

import functools

import pytest

from adapter.auth.principal import Principal
from adapter.auth.scopes import ScopeSet
from adapter.policy import (MASK_IMPACT, MASK_STAFF, Contract, Hierarchy, can_see, effective_grants, is_all)
from tests.policy_oracle import (ALL, CALLERS, DATA_TYPES, LEVELS, NEEDS, PRACTICES, PRACTICES_OF, PURPOSES, TODAY,
                                 contract_consent, contract_sets, expected_scope, organization_resources,
                                 practice_resources, sees, sees_staff, usage_resource)

CASES = [pytest.param(role, org, world, purpose, id=f"{name}-{world}-{purpose}")
         for name, role, org in CALLERS for world in contract_sets(org) for purpose in PURPOSES]


@functools.lru_cache(maxsize=None)
def hierarchy() -> Hierarchy:
    return Hierarchy.from_organizations(organization_resources())


@functools.lru_cache(maxsize=None)
def resources() -> dict[str, dict[str, dict]]:
    return {p: practice_resources(p) for p in sorted(PRACTICES)}


def grants_for(role, org, world, purpose):
    principal = Principal(f"client-{role}-{org}", org, role, ScopeSet(), purpose)
    contracts = [Contract.from_consent(contract_consent(c)) for c in contract_sets(org)[world]]
    return principal, effective_grants(principal, hierarchy(), contracts, (), TODAY)


def _show(scope) -> object:
    return ALL if is_all(scope) else frozenset(scope)


@pytest.mark.parametrize("role, org, world, purpose", CASES)
def test_scope_of_every_data_type_and_level_is_the_policy_table(role, org, world, purpose):
    _, grants = grants_for(role, org, world, purpose)
    contracts = contract_sets(org)[world]
    wrong = []
    for data_type in DATA_TYPES:
        for level in LEVELS:
            want = expected_scope(role, org, purpose, data_type, level, contracts)
            got = _show(grants.scope(data_type, level))
            if got != want:
                wrong.append(f"{data_type}@{level}: engine {sorted(got) if got != ALL else ALL}, "
                             f"policy {sorted(want) if want != ALL else ALL}")
            if bool(want) != bool(grants.sources(data_type, level)):
                wrong.append(f"{data_type}@{level}: sources {grants.sources(data_type, level)} for scope {want}")
            if (level == "practice") and _show(grants.practice_scope(data_type)) != want:
                wrong.append(f"{data_type}: practice_scope disagrees with scope(practice)")
            if grants.can_aggregate(data_type, level) != bool(want):
                wrong.append(f"{data_type}@{level}: can_aggregate {grants.can_aggregate(data_type, level)}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role, org, world, purpose", CASES)
def test_can_see_each_practice_resource_as_the_policy_table_says(role, org, world, purpose):
    principal, grants = grants_for(role, org, world, purpose)
    contracts = contract_sets(org)[world]
    wrong = []
    for practice, by_kind in resources().items():
        for kind, resource in by_kind.items():
            want = sees(expected_scope(role, org, purpose, NEEDS[kind], "practice", contracts), practice)
            verdict = can_see(principal, grants, resource)
            if verdict.allowed != want:
                wrong.append(f"{kind} of {practice}: engine {verdict.allowed} ({verdict.reason}), policy {want}")
                continue
            if not want:
                continue
            staff_hidden = kind in ("qr-global", "qr-indepth", "task") and not sees_staff(role, org, purpose, practice)
            if (MASK_STAFF in verdict.masks) != staff_hidden:
                wrong.append(f"{kind} of {practice}: staff mask {verdict.masks}, policy hides staff: {staff_hidden}")
            impact_hidden = kind == "task" and not sees(
                expected_scope(role, org, purpose, "impact-summary", "practice", contracts), practice)
            if (MASK_IMPACT in verdict.masks) != impact_hidden:
                wrong.append(f"{kind} of {practice}: impact mask {verdict.masks}, policy hides impact: {impact_hidden}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role, org, world, purpose", CASES)
def test_usage_rows_of_pcns_and_icbs_need_that_level_over_all_their_practices(role, org, world, purpose):
    principal, grants = grants_for(role, org, world, purpose)
    contracts = contract_sets(org)[world]
    for organisation, level in (("U00001", "pcn"), ("U00003", "pcn"), ("QAA", "icb"), ("QBB", "icb")):
        scope = expected_scope(role, org, purpose, "usage", level, contracts)
        want = scope == ALL or PRACTICES_OF[organisation] <= scope
        assert can_see(principal, grants, usage_resource(organisation)).allowed == want, organisation
