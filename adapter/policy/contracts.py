"""D&T Hub contracts, read from their Consents (`mappings/contract.py`), and what each reaches.

In force: Hub status `active` (the `contract-status` extension), Consent status `active`, and
`today` within start..end inclusive (hub-export.md). Judged on every request against the current
hierarchy, so a practice joining a PCN whose contract does not list it ends the PCN's tier at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mappings.names import first_extension, ref_ods

from .codes import EXT_AUDIENCE_ROLE, EXT_CONTRACT_STATUS, ID_CONTRACT, V3_ACT_REASON
from .hierarchy import Hierarchy
from .scope import Scope


def parse_date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Contract:
    id: str                          # the Consent id
    holder: str | None               # ODS code of the ICB, PCN or federation
    kind: str | None                 # icb | pcn | federation
    covers: frozenset[str] | None    # None = every practice beneath the holder, resolved per request
    start: date | None
    end: date | None
    status: str                      # the Hub's: active | suspended | ended (| entered-in-error)
    purposes: frozenset[str] | None = None  # the provision's purposes; None = not restricted

    @property
    def reference(self) -> str:
        return f"Consent/{self.id}"

    @classmethod
    def from_consent(cls, consent: dict) -> "Contract":
        provision = consent.get("provision") or {}
        holder = next((ref_ods(a.get("reference")) for a in provision.get("actor") or []), None)
        holder = holder or next((ref_ods(o) for o in consent.get("organization") or []), None)
        kind = (first_extension(provision, EXT_AUDIENCE_ROLE) or {}).get("valueCode")
        covers = None
        if "data" in provision:
            covers = frozenset(filter(None, (ref_ods(d.get("reference")) for d in provision["data"] or [])))
        hub_status = (first_extension(consent, EXT_CONTRACT_STATUS) or {}).get("valueCode")
        if consent.get("status") == "entered-in-error":
            hub_status = "entered-in-error"
        elif consent.get("status") != "active" and hub_status in (None, "active"):
            hub_status = "ended"  # an inactive Consent is never in force, whatever the extension says
        period = provision.get("period") or {}
        purposes = frozenset(c.get("code") for c in provision.get("purpose") or []
                             if c.get("system") == V3_ACT_REASON) or None
        return cls(str(consent.get("id")), holder, kind, covers, parse_date(period.get("start")),
                   parse_date(period.get("end")), hub_status or "active", purposes)

    def in_force(self, today: date) -> bool:
        return (self.status == "active" and self.start is not None and self.end is not None
                and self.start <= today <= self.end)

    def scope(self, hierarchy: Hierarchy) -> Scope | None:
        """The practices the contract's tier reaches today, or None when it reaches nothing
        beyond the baseline. Listed practices no longer beneath the holder are not reached:
        `covers` names practices of the holder (hub-export.md), and grants follow the tree."""
        beneath = hierarchy.practices_of(self.holder)
        covered = beneath if self.covers is None else beneath & self.covers
        if self.kind == "icb":
            return covered  # "grants its tier over the listed practices only"
        if self.kind in ("pcn", "federation"):
            # "covers every practice of the PCN (or every member practice of the federation)";
            # closed (inactive) practices need not be listed.
            return covered if hierarchy.active_practices_of(self.holder) <= covered else None
        return None


def is_contract_consent(consent: dict) -> bool:
    return any(i.get("system") == ID_CONTRACT for i in consent.get("identifier") or [])
