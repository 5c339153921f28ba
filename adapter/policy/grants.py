"""What a caller may see: per data type x level, the practices reached and the Consents that decide.

A caller's grants are the union of the tiers that apply to it (data-use-policy.md "Audiences"):
the baseline (`external` tier) for every client; the `service` and `practice` (own practice)
tiers by role; the `icb`, `pcn` and `federation` tiers through each contract in force held by
the caller's organisation. A tier cell counts only for the purposes it lists. An override
removes the cells it names from the source (tier or contract) it names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

from .codes import BASELINE_ROLE, CONTRACT_ROLES, DATA_TYPES, LEVELS
from .contracts import Contract
from .hierarchy import Hierarchy
from .overrides import Override
from .scope import ALL, Scope, union
from .tiers import Tiers, shipped_tiers

LONDON = ZoneInfo("Europe/London")
# Tiers whose holders see practice staff's personal data (policy "Personal data"): the vendor and
# the practice itself.
STAFF_ROLES = frozenset({"service", "practice"})


def london_today(now: datetime | None = None) -> date:
    """The calendar date in Europe/London (contract dates are London dates)."""
    return (now or datetime.now(LONDON)).astimezone(LONDON).date()


@dataclass(frozen=True)
class Grant:
    """One source's contribution to one cell."""
    tier: str                 # "Consent/policy-..."
    tier_role: str            # the tier's audience role
    contract: str | None      # "Consent/<contract id>" for contract tiers
    scope: Scope

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.tier,) if self.contract is None else (self.tier, self.contract)


@dataclass(frozen=True, eq=False)
class Grants:
    client_id: str
    role: str
    org: str | None
    purpose: str
    today: date
    hierarchy: Hierarchy
    cells: Mapping[tuple[str, str], tuple[Grant, ...]]   # (data type, level) -> grants
    tier_ids: frozenset[str] = frozenset()                # the tier Consents the grants were read from

    def grants(self, data_type: str, level: str) -> tuple[Grant, ...]:
        return self.cells.get((data_type, level), ())

    def scope(self, data_type: str, level: str) -> Scope:
        """The practices whose data the caller may see (or aggregate over) at this level."""
        return union(g.scope for g in self.grants(data_type, level))

    def practice_scope(self, data_type: str) -> Scope:
        """For the SQL filter on practice-level rows: owner practice IN this (ALL = no filter)."""
        return self.scope(data_type, "practice")

    def covers(self, data_type: str, level: str, ods: str | None) -> bool:
        return ods is not None and ods in self.scope(data_type, level)

    def can_aggregate(self, data_type: str, level: str) -> bool:
        return bool(self.scope(data_type, level))

    def sources(self, data_type: str, level: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for g in self.grants(data_type, level) for s in g.sources))

    def deciding(self, data_type: str, level: str, ods: str | None) -> Grant | None:
        """The first grant (in tier order) that reaches `ods`."""
        return next((g for g in self.grants(data_type, level) if ods is not None and ods in g.scope), None)

    def aggregate_practices(self, data_type: str, level: str, group: Iterable[str]) -> frozenset[str]:
        """The members of a group (a cell's or an ICB's practices) an aggregate may cover."""
        return frozenset(group) & self.scope(data_type, level)

    def hidden(self, data_type: str, practices: Iterable[str]) -> frozenset[str]:
        """Contributors the caller may not see at Practice level (small-number suppression)."""
        scope = self.practice_scope(data_type)
        return frozenset(p for p in practices if p not in scope)

    def sees_staff(self, data_type: str, ods: str | None) -> bool:
        """Practice staff's personal data: only through the service or own-practice tier."""
        return any(g.tier_role in STAFF_ROLES and ods is not None and ods in g.scope
                   for g in self.grants(data_type, "practice"))


def _tier_scopes(tier_role: str, principal, hierarchy: Hierarchy, contracts: Iterable[Contract],
                 today: date) -> list[tuple[Scope, str | None]]:
    """(scope, contract reference) for each way the tier of `tier_role` applies to the caller."""
    if tier_role == BASELINE_ROLE:
        return [(ALL, None)]  # "Every registered client has it, whatever its role or contract"
    if tier_role != principal.role:
        return []
    if tier_role == "service":
        return [(ALL, None)]
    if tier_role == "practice":
        return [(frozenset({principal.org}), None)] if principal.org else []
    if tier_role in CONTRACT_ROLES:
        out = []
        for contract in contracts:
            held = principal.org is not None and contract.holder == principal.org and contract.kind == tier_role
            purpose_ok = contract.purposes is None or principal.purpose in contract.purposes
            if held and purpose_ok and contract.in_force(today):
                scope = contract.scope(hierarchy)
                if scope:
                    out.append((scope, contract.reference))
        return out
    return []


def effective_grants(principal, hierarchy: Hierarchy, contracts: Iterable[Contract] = (),
                     overrides: Iterable[Override] = (), today: date | None = None,
                     tiers: Tiers | None = None) -> Grants:
    """`principal`: anything with client_id, org, role, purpose (adapter.auth.principal.Principal)."""
    tiers = shipped_tiers() if tiers is None else tiers
    today = london_today() if today is None else today
    contracts = tuple(contracts)
    mine = [o for o in overrides if o.applies_to(principal.client_id, principal.org, today)]
    cells: dict[tuple[str, str], list[Grant]] = {}
    for tier in tiers:
        applications = _tier_scopes(tier.role, principal, hierarchy, contracts, today)
        for data_type in DATA_TYPES:
            for level in LEVELS:
                if principal.purpose not in tier.purposes(data_type, level):
                    continue
                for scope, contract in applications:
                    grant = Grant(tier.reference, tier.role, contract, scope)
                    withdrawn = any(o.withdraws(source, data_type, level, principal.purpose)
                                    for o in mine for source in grant.sources)
                    if not withdrawn:
                        cells.setdefault((data_type, level), []).append(grant)
    frozen = MappingProxyType({k: tuple(v) for k, v in cells.items()})
    return Grants(principal.client_id, principal.role, principal.org, principal.purpose, today, hierarchy, frozen,
                  tiers.ids)

