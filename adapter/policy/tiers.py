"""The tiers of the policy, read from the shipped read-only Consents (`consents/Consent-policy-*.json`).

The tables are data: each tier Consent names its audience role (the `audience-role` extension on
the root provision) and lists, in nested `permit` provisions, the cells it allows: every
data-type label x every granularity label of one provision, for the provision's purposes.
Changing a file changes the policy; nothing here knows the tables.

The root provision has no `type`: R4 says "not permitted in root rule"; the base rule is the
policy's own (policyRule `data-use-policy`): nothing is allowed that no tier permits.
"""
from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from .codes import (CS_DATA_TYPE, CS_GRANULARITY, DATA_TYPES, EXT_AUDIENCE_ROLE, LEVELS,
                    PURPOSES, ROLES, V3_ACT_REASON)

CONSENTS_DIR = Path(__file__).resolve().parent / "consents"

Cell = tuple[str, str]  # (data type, level)


@dataclass(frozen=True, eq=False)
class Tier:
    id: str                                  # Consent id, e.g. policy-baseline
    role: str                                # audience role the tier applies to
    cells: Mapping[Cell, frozenset[str]]     # (data type, level) -> purposes it is granted for
    consent: Mapping                          # the Consent as shipped (read-only view)

    @property
    def reference(self) -> str:
        return f"Consent/{self.id}"

    def purposes(self, data_type: str, level: str) -> frozenset[str]:
        return self.cells.get((data_type, level), frozenset())


@dataclass(frozen=True, eq=False)
class Tiers:
    by_role: Mapping[str, Tier]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.by_role.values())

    def __iter__(self):
        return iter(self.by_role.values())

    def get(self, role: str) -> Tier | None:
        return self.by_role.get(role)

    def consents(self) -> list[dict]:
        """Deep copies of the tier Consents, to serve or store."""
        return [copy.deepcopy(dict(t.consent)) for t in self]


def _codes(codings: list, system: str) -> list[str]:
    return [c.get("code") for c in codings or [] if c.get("system") == system]


def tier_from_consent(consent: dict) -> Tier:
    """Raises ValueError on a malformed tier: shipped files fail at start-up, not per request."""
    cid = consent.get("id")
    root = consent.get("provision") or {}
    roles = [e.get("valueCode") for e in root.get("extension") or [] if e.get("url") == EXT_AUDIENCE_ROLE]
    if consent.get("resourceType") != "Consent" or len(roles) != 1 or roles[0] not in ROLES:
        raise ValueError(f"tier Consent {cid}: needs exactly one audience role on its root provision")
    if root.get("actor") or root.get("type"):
        raise ValueError(f"tier Consent {cid}: a tier's root provision has no actor and no type")
    cells: dict[Cell, frozenset[str]] = {}
    if consent.get("status") == "active":  # an inactive tier grants nothing
        for i, permit in enumerate(root.get("provision") or []):
            where = f"tier Consent {cid} provision[{i}]"
            if permit.get("type") != "permit" or permit.get("provision"):
                raise ValueError(f"{where}: tiers hold only flat permit provisions")
            labels = permit.get("securityLabel") or []
            data_types, levels = _codes(labels, CS_DATA_TYPE), _codes(labels, CS_GRANULARITY)
            purposes = _codes(permit.get("purpose"), V3_ACT_REASON)
            unknown = ((set(data_types) - set(DATA_TYPES)) | (set(levels) - set(LEVELS))
                       | (set(purposes) - set(PURPOSES)))
            if unknown or not data_types or not levels or not purposes or len(labels) != len(data_types) + len(levels):
                raise ValueError(f"{where}: needs data-type and granularity labels and purposes of the policy "
                                 f"(unknown: {sorted(map(str, unknown))})")
            for data_type in data_types:
                for level in levels:
                    cells[(data_type, level)] = cells.get((data_type, level), frozenset()) | frozenset(purposes)
    return Tier(cid, roles[0], MappingProxyType(cells), MappingProxyType(copy.deepcopy(consent)))


def load_tiers(directory: Path | str | None = None) -> Tiers:
    """The tiers shipped with the adapter (or those of `directory`); one tier per audience role."""
    folder = Path(directory) if directory is not None else CONSENTS_DIR
    by_role: dict[str, Tier] = {}
    for path in sorted(folder.glob("Consent-policy-*.json")):
        tier = tier_from_consent(json.loads(path.read_text(encoding="utf-8")))
        if path.name != f"Consent-{tier.id}.json":
            raise ValueError(f"{path.name}: the file of Consent {tier.id} is Consent-{tier.id}.json")
        if tier.role in by_role:
            raise ValueError(f"tiers {by_role[tier.role].id} and {tier.id} both apply to role {tier.role}")
        by_role[tier.role] = tier
    return Tiers(MappingProxyType(by_role))


@functools.lru_cache(maxsize=1)
def shipped_tiers() -> Tiers:
    """The shipped tiers, read once on first use (not at import)."""
    return load_tiers()
