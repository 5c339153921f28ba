"""The one place interactions ask the policy (house style: the policy decides, the caller acts).

A `Gate` is made per request for its principal. Interactions use it to
- narrow SQL: `gate.sql(alias, resource_type)` (None = no narrowing),
- judge a resource before it leaves: `gate.serve(resource)` -> the caller's view, or None
  (the SQL-mirroring key check *and* the engine's can_see must both allow it),
- judge writes: `gate.write(before, after)` -> Verdict,
and the gate remembers what was served and refused, and which Consents decided, for the audit.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field

from mappings.names import V3_ACT_CODE

from ..policy import Verdict, can_see, can_write, will_see
from ..policy.codes import V3_OBSERVATION_VALUE
from ..policy.resources import GOVERNED, PUBLIC, owner
from .columns import access_columns
from .state import CallerPolicy, PolicyState

NOREUSE = {"system": V3_ACT_CODE, "code": "NOREUSE", "display": "no reuse beyond the purpose of use"}


@dataclass
class AuditNotes:
    """What a request touched, for its AuditEvent."""
    served: dict[str, str | None] = field(default_factory=dict)    # "Type/id" -> owner ODS
    refused: dict[str, str | None] = field(default_factory=dict)
    deciding: dict[str, None] = field(default_factory=dict)        # ordered set of Consent refs / rules
    reason: str | None = None


def organisations_of(notes: AuditNotes, hierarchy) -> tuple[str, ...]:
    """The organisations whose data the notes touched: each owner, with its PCN, ICB and
    federations, so that each of them can find the access in its audit trail."""
    owners = {o for o in (*notes.served.values(), *notes.refused.values()) if o}
    out: set[str] = set(owners)
    for ods in owners:
        practice = hierarchy.practice.get(ods) if hierarchy else None
        if practice:
            out |= {o for o in (practice.pcn, practice.icb, *practice.federations) if o}
    return tuple(sorted(out))


class Gate:
    def __init__(self, state: PolicyState | None, principal, repo):
        self.principal = principal
        self._repo = repo
        self._state = state
        self._policy: CallerPolicy | None = state.for_caller(principal) if state and principal else None
        self.notes = AuditNotes()
        self._lock = threading.Lock()

    # -- what the caller is ---------------------------------------------------------------------
    @property
    def unrestricted(self) -> bool:
        return self._policy is None or self._policy.access.unrestricted

    @property
    def grants(self):
        return self._policy.grants if self._policy else None

    def sql(self, alias, resource_type: str | None):
        return None if self._policy is None else self._policy.access.condition(alias, resource_type)

    def reuse_key(self) -> str:
        """Everything about the caller that decides what its searches match: two requests with the
        same key, parameters and store generation match the same rows (engine.first_page)."""
        p = self.principal
        if self._policy is None or p is None:
            return "internal"
        return f"{p.client_id}|{p.org}|{p.role}|{p.purpose}|{self._policy.grants.today.isoformat()}"

    def may_see_any(self, resource_type: str) -> bool:
        """False when no resource of the type could ever reach the caller (an empty search then
        says that aggregates are the way: conventions, 'Responses when nothing is granted')."""
        if self.unrestricted or resource_type not in GOVERNED:
            return True
        return self._policy.access.reaches(resource_type)

    # -- reads ----------------------------------------------------------------------------------
    def judge(self, resource: dict) -> Verdict | None:
        """The verdict for serving `resource`, or None when the SQL filter would not find it."""
        if self._policy is None:
            return Verdict(True, "internal call", "rule:internal")
        rtype, id_ = resource.get("resourceType"), resource.get("id")
        owner_org, key = access_columns(resource)
        if not self._policy.access.allows(rtype, id_, owner_org, key):
            return None
        return can_see(self.principal, self._policy.grants, resource, self._target_visible)

    def serve(self, resource: dict) -> dict | None:
        """The caller's view of a stored resource, or None: it must look as if it did not exist."""
        verdict = self.judge(resource)
        ref = f"{resource.get('resourceType')}/{resource.get('id')}"
        governed_owner = owner(resource) if resource.get("resourceType") in GOVERNED else None
        with self._lock:
            if verdict is None or not verdict.allowed:
                self.notes.refused[ref] = governed_owner
                if verdict is not None:
                    self.notes.deciding.setdefault(verdict.source)
                return None
            if resource.get("resourceType") not in PUBLIC:
                self.notes.served[ref] = governed_owner
                for source in verdict.sources:
                    self.notes.deciding.setdefault(source)
        if self._policy is None:
            return resource
        return self._view(resource, verdict)

    def record_served(self, ref: str, organisation: str | None, sources: tuple[str, ...]) -> None:
        """For data served without a stored resource (an aggregate): whose it is and who decided."""
        with self._lock:
            self.notes.served[ref] = organisation
            for source in sources:
                self.notes.deciding.setdefault(source)

    def visible(self, resource: dict) -> bool:
        verdict = self.judge(resource)
        return verdict is not None and verdict.allowed

    def _view(self, resource: dict, verdict: Verdict) -> dict:
        rtype = resource.get("resourceType")
        if self.principal.role == "service" and rtype != "AuditEvent":
            return resource
        view = will_see(self.principal, self._policy.grants, resource, verdict.masks) if verdict.masks else resource
        if rtype == "MeasureReport" and view.get("evaluatedResource"):
            view = self._evaluated(view)
        if rtype == "AuditEvent":
            view = self._audit_view(view)
        if rtype in GOVERNED:
            security = (view.get("meta") or {}).get("security") or []
            if not any(c.get("code") == NOREUSE["code"] and c.get("system") == V3_ACT_CODE for c in security):
                # A new top level and meta only: the stored body is shared, never changed.
                view = {**view, "meta": {**(view.get("meta") or {}), "security": [*security, dict(NOREUSE)]}}
        return view

    def _evaluated(self, report: dict) -> dict:
        """MeasureReport.evaluatedResource is a secondary channel: only references the caller could follow."""
        kept = [r for r in report["evaluatedResource"] if self._target_visible((r or {}).get("reference") or "")]
        if len(kept) == len(report["evaluatedResource"]):
            return report
        view = copy.deepcopy(report)
        if kept:
            view["evaluatedResource"] = kept
        else:
            view.pop("evaluatedResource")
        security = view.setdefault("meta", {}).setdefault("security", [])
        security.append({"system": V3_OBSERVATION_VALUE, "code": "MASKED", "display": "masked"})
        return view

    def _audit_view(self, event: dict) -> dict:
        """The organisation's view (adapter.audit.view), and of the resources it names only those
        the caller may read now: an AuditEvent must not reveal the id of anything else."""
        from ..audit.event import is_resource_entity, is_security_entity
        from ..audit.subscriptions import without_others_subscriptions
        from ..audit.view import audit_view

        event = without_others_subscriptions(event, self.principal.client_id)
        if self.unrestricted:
            return event
        grants = self._policy.grants
        own = frozenset({self.principal.org}) | grants.hierarchy.practices_of(self.principal.org) \
            if self.principal.org else frozenset()
        view = audit_view(self.principal, event, own)
        entities = view.get("entity") or []
        kept = [e for e in entities if not (is_resource_entity(e) or is_security_entity(e) and e.get("what"))
                or self._target_visible(((e.get("what") or {}).get("reference")) or "")]
        view = view if view is not event else copy.deepcopy(view)
        if view.get("outcomeDesc"):  # its wording may name what was asked for: only the decision stays
            view["outcomeDesc"] = "allowed" if view.get("outcome") == "0" else "refused or failed"
        if len(kept) != len(entities):
            view["entity"] = kept
            security = view.setdefault("meta", {}).setdefault("security", [])
            if not any(c.get("code") == "REDACTED" for c in security):
                security.append({"system": V3_OBSERVATION_VALUE, "code": "REDACTED", "display": "redacted"})
        return view

    def _target_visible(self, reference: str) -> bool:
        """Whether a reference (`Type/id`, `Type/id/_history/n`, or absolute) leads to a resource
        the caller may see; Provenance targets are not followed further."""
        parts = reference.split("/")
        if "_history" in parts:
            parts = parts[:parts.index("_history")]
        if len(parts) < 2:
            return False
        rtype, id_ = parts[-2], parts[-1]
        if rtype == "Provenance":
            return False
        stored = self._repo.read(rtype, id_)
        if stored is None or stored.deleted:
            return False
        resource = stored.resource()
        owner_org, key = access_columns(resource)
        if not self._policy.access.allows(rtype, id_, owner_org, key):
            return False
        return can_see(self.principal, self._policy.grants, resource).allowed

    # -- writes ---------------------------------------------------------------------------------
    def write(self, before: dict | None, after: dict | None) -> Verdict:
        if self._policy is None:
            return Verdict(True, "internal call", "rule:internal")
        verdict = can_write(self.principal, before, after, self._state.tiers)
        with self._lock:
            self.notes.deciding.setdefault(verdict.source)
            if not verdict.allowed:
                self.notes.reason = verdict.reason
            for body in (before, after):
                if body and body.get("resourceType") in GOVERNED:
                    ref = f"{body['resourceType']}/{body.get('id')}"
                    (self.notes.served if verdict.allowed else self.notes.refused)[ref] = owner(body)
        return verdict

    # -- for the audit record -------------------------------------------------------------------
    def take_notes(self) -> AuditNotes:
        """What was noted so far, leaving the gate with fresh notes: a bulk reader records one
        AuditEvent per part instead of holding all of England's references."""
        with self._lock:
            taken, self.notes = self.notes, AuditNotes()
        return taken

    def organisations(self) -> tuple[str, ...]:
        return organisations_of(self.notes, self._policy.grants.hierarchy if self._policy else None)

