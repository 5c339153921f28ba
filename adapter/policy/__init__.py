"""The policy engine: the D&T Hub data-use policy (shared/policy/data-use-policy.md) as pure
functions over plain values. No Flask, no database: the caller builds the inputs from the store.

    tiers = load_tiers()                                   # the shipped tier Consents (data)
    hierarchy = Hierarchy.from_organizations(organizations)
    contracts = [Contract.from_consent(c) for c in contract_consents]
    overrides = [o for o in map(Override.from_consent, override_consents) if o]
    grants = effective_grants(principal, hierarchy, contracts, overrides, london_today(), tiers)
    grants.practice_scope("actions")                       # -> frozenset of ODS codes, or ALL
    verdict = can_see(principal, grants, resource)         # allowed, reason, source, masks
    view = will_see(principal, grants, resource, verdict.masks)
    policy_matrix(principal, grants, hierarchy)            # $policy-matrix Parameters
    start_check(principal, "create", "Task"); can_write(principal, before, after)
"""
from __future__ import annotations

from .codes import DATA_TYPES, ID_CLIENT, LEVELS, OPERATIONAL_PURPOSES, PURPOSES, ROLES
from .classify import split_consents
from .contracts import Contract, is_contract_consent
from .decisions import MASK_IMPACT, MASK_STAFF, Verdict, can_see, can_write, refrains_reuse, start_check
from .grants import Grant, Grants, effective_grants, london_today
from .hierarchy import Hierarchy, Practice
from .masking import will_see
from .matrix import policy_matrix
from .overrides import Override, Withdrawal, override_consent
from .resources import GOVERNED, PUBLIC, owner
from .scope import ALL, Scope, is_all
from .tiers import Tier, Tiers, load_tiers, shipped_tiers

__all__ = [
    "ALL", "Contract", "DATA_TYPES", "GOVERNED", "Grant", "Grants", "Hierarchy", "ID_CLIENT", "LEVELS",
    "MASK_IMPACT", "MASK_STAFF", "OPERATIONAL_PURPOSES", "Override", "PUBLIC", "PURPOSES", "Practice", "ROLES",
    "Scope", "Tier", "Tiers", "Verdict", "Withdrawal", "can_see", "can_write", "effective_grants", "is_all",
    "is_contract_consent", "load_tiers", "london_today", "override_consent", "owner", "policy_matrix", "refrains_reuse",
    "shipped_tiers",
    "split_consents", "start_check", "will_see",
]
