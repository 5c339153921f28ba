"""The policy's inputs, read from the store, and each caller's grants.

The hierarchy and the Consents change only when an Organization or a Consent is written, so
they are read once per *generation* (the newest version sequence number of those two types, one
indexed lookup per request) and a change takes effect on the next request in every worker.
Grants are cached per generation, London date and caller (client, organisation, role, purpose).
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from ..policy import Grants, Hierarchy, Tiers, effective_grants, london_today, shipped_tiers, split_consents
from ..policy.contracts import Contract
from ..policy.overrides import Override
from ..storage import Repository
from .filters import CompiledAccess, compile_access

POLICY_TYPES = ("Organization", "Consent")
GRANTS_CACHE_SIZE = 512


@dataclass(frozen=True)
class PolicyInputs:
    generation: int
    hierarchy: Hierarchy
    contracts: tuple[Contract, ...]
    overrides: tuple[Override, ...]


@dataclass(frozen=True)
class CallerPolicy:
    """A caller's grants and their SQL form, judged on one date against one generation."""
    grants: Grants
    access: CompiledAccess


class PolicyState:
    def __init__(self, repo: Repository, *, today: str | None = None, tiers: Tiers | None = None):
        self._repo = repo
        self._fixed_today = date.fromisoformat(today) if today else None
        self.tiers = tiers or shipped_tiers()
        self._lock = threading.Lock()
        self._inputs: PolicyInputs | None = None
        self._callers: OrderedDict[tuple, CallerPolicy] = OrderedDict()

    def today(self) -> date:
        return self._fixed_today or london_today()

    def inputs(self) -> PolicyInputs:
        generation = self._repo.generation(POLICY_TYPES)
        current = self._inputs
        if current is not None and current.generation == generation:
            return current
        with self._lock:
            if self._inputs is not None and self._inputs.generation == generation:
                return self._inputs
            hierarchy = Hierarchy.from_organizations(v.resource() for v in self._repo.iter_current("Organization"))
            contracts, overrides = split_consents((v.resource() for v in self._repo.iter_current("Consent")),
                                                  self.tiers.ids)
            self._inputs = PolicyInputs(generation, hierarchy, tuple(contracts), tuple(overrides))
            self._callers.clear()
            return self._inputs

    def for_caller(self, principal) -> CallerPolicy:
        inputs = self.inputs()
        today = self.today()
        key = (inputs.generation, today, principal.client_id, principal.org, principal.role, principal.purpose)
        with self._lock:
            found = self._callers.get(key)
            if found is not None:
                self._callers.move_to_end(key)
                return found
        grants = effective_grants(principal, inputs.hierarchy, inputs.contracts, inputs.overrides, today, self.tiers)
        policy = CallerPolicy(grants, compile_access(principal, grants))
        with self._lock:
            self._callers[key] = policy
            while len(self._callers) > GRANTS_CACHE_SIZE:
                self._callers.popitem(last=False)
        return policy
