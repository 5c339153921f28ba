"""A caller's grants as conditions over the access columns (columns.py), for SQL and in Python.

`CompiledAccess.condition(alias, types)` narrows any query over `resource` or `resource_version`
rows; `CompiledAccess.allows(...)` is the same rule over one row's values, so a resource that a
search would not find is not readable either. The engine (adapter.policy) still judges every
resource before it leaves (gate.py); these filters decide what is counted, paged and matched.

Governed keys are enumerated (data type x level x summary), each with the owners it reaches:
practice level, the practice scope; PCN or ICB level, the organisations all of whose practices
are in the level's scope and the Practice-level scope (a stored report of a group is served only
where the aggregate operation would serve it unsuppressed for any period) — the rules of
policy.decisions._practice_level and _group_level.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import and_, exists, false, not_, or_, select
from sqlalchemy.sql import ColumnElement

from ..policy import Grants, is_all
from ..policy.codes import DATA_TYPES
from ..policy.decisions import serving
from ..policy.resources import GOVERNED, PUBLIC
from ..policy.scope import ALL
from ..storage.members import one_of
from ..storage.schema import idx_reference, resource
from .columns import NAME_SEPARATOR

Owners = frozenset | type(ALL)
_UNBUILT = object()


@dataclass(frozen=True)
class CompiledAccess:
    unrestricted: bool                                   # sees every stored resource (service delivery)
    service: bool = False                                # every Consent, AuditEvent, Provenance (operational purposes)
    governed: dict[str, object] = field(default_factory=dict)   # access key -> ALL or frozenset of owners
    tier_ids: frozenset[str] = frozenset()
    org: str | None = None
    client_id: str | None = None

    # -- one row, in Python -------------------------------------------------------------------
    def allows(self, resource_type: str, id_: str, owner: str | None, key: str | None) -> bool:
        if resource_type == "Subscription":  # its creator's alone, even for unrestricted callers
            return self.client_id is not None and self._token("client", self.client_id) in (key or "")
        if self.unrestricted or resource_type in PUBLIC:
            return True
        if resource_type in GOVERNED:
            owners = self.governed.get(key or "")
            return owners is not None and (owners is ALL or owner in owners)
        if self.service:
            return resource_type in ("Consent", "AuditEvent", "Provenance")
        if resource_type == "Consent":
            return id_ in self.tier_ids or any(token in (key or "") for token in self._name_tokens())
        if resource_type == "AuditEvent":
            return self.org is not None and self._token("org", self.org) in (key or "")
        if resource_type == "Provenance":
            return key == "provenance"  # and every target visible: the engine checks that per resource
        return False

    # -- SQL ----------------------------------------------------------------------------------
    def condition(self, alias, resource_type: str | None) -> ColumnElement | None:
        """None = no narrowing. `resource_type` None: rows of any type (system history). Built
        once per alias and type (the search engine uses one alias for all its statements): an
        expression is immutable, and building it cost an ICB's small search ~0.1 ms a statement."""
        key = (alias, resource_type)
        built = self._conditions.get(key, _UNBUILT)
        if built is _UNBUILT:
            built = self._condition(alias, resource_type)
            if len(self._conditions) >= 64:  # fresh aliases (subqueries) must not grow it without end
                self._conditions.clear()
            self._conditions[key] = built
        return built

    @cached_property
    def _conditions(self) -> dict:
        return {}

    def _condition(self, alias, resource_type: str | None) -> ColumnElement | None:
        if resource_type == "Subscription":
            return self._own_subscriptions(alias)
        if self.unrestricted:
            if resource_type is None:
                return or_(alias.c.res_type != "Subscription", self._own_subscriptions(alias))
            return None
        if resource_type is not None:
            return self._type_condition(alias, resource_type)
        parts = [alias.c.res_type.in_(PUBLIC), and_(alias.c.res_type == "Subscription", self._own_subscriptions(alias))]
        for type_ in (*GOVERNED, "Consent", "AuditEvent", "Provenance"):
            cond = self._type_condition(alias, type_)
            parts.append(alias.c.res_type == type_ if cond is None else and_(alias.c.res_type == type_, cond))
        return or_(*parts)

    def _type_condition(self, alias, resource_type: str) -> ColumnElement | None:
        if resource_type in PUBLIC:
            return None
        if resource_type in GOVERNED:
            return self._governed(alias, resource_type)
        if self.service:
            return None if resource_type in ("Consent", "AuditEvent", "Provenance") else false()
        if resource_type == "Consent":
            return or_(alias.c.res_id.in_(self._tier_list),
                       *[alias.c.security.contains(t, autoescape=True) for t in self._name_tokens()])
        if resource_type == "AuditEvent":
            return alias.c.security.contains(self._token("org", self.org), autoescape=True) if self.org else false()
        if resource_type == "Provenance":
            return self._provenance(alias)
        return false()

    @cached_property
    def _plans(self) -> dict[str, tuple[tuple[tuple[str, ...], list[str] | None], ...]]:
        """Per governed type, the granted keys a row of that type can carry, grouped by the owners
        they reach: (keys, sorted owners or None for every owner). Built once per caller's grants,
        so a query only pays for the keys of the type it searches (a QuestionnaireResponse search
        never carries the caller's MeasureReport keys and their long owner lists)."""
        plans = {}
        for resource_type in GOVERNED:
            groups: dict[object, list[str]] = {}
            for key, owners in self.governed.items():
                if owners and key_fits(resource_type, key):
                    groups.setdefault(owners, []).append(key)
            plans[resource_type] = tuple((tuple(sorted(keys)), None if owners is ALL else sorted(owners))
                                         for owners, keys in groups.items())
        return plans

    def reaches(self, resource_type: str) -> bool:
        """Whether any row of a governed type could pass the filter."""
        return self.unrestricted or bool(self._plans[resource_type])

    def _governed(self, alias, resource_type: str) -> ColumnElement:
        parts = []
        for keys, owners in self._plans[resource_type]:
            match = alias.c.security == keys[0] if len(keys) == 1 else alias.c.security.in_(keys)
            parts.append(match if owners is None else and_(match, one_of(alias.c.owner_org, owners)))
        return or_(*parts) if parts else false()

    def _own_subscriptions(self, alias) -> ColumnElement:
        if self.client_id is None:
            return false()
        return alias.c.security.contains(self._token("client", self.client_id), autoescape=True)

    @cached_property
    def _tier_list(self) -> list[str]:
        return sorted(self.tier_ids)

    def _provenance(self, alias) -> ColumnElement:
        """Every target is a resource the caller may see (policy.decisions._provenance)."""
        ref = idx_reference.alias()
        target = resource.alias()
        own_targets = and_(ref.c.res_type == "Provenance", ref.c.res_id == alias.c.res_id, ref.c.param == "target")
        visible_target = [target.c.res_type == ref.c.target_type, target.c.res_id == ref.c.target_id,
                          target.c.deleted.is_(False)]
        type_conditions = [and_(target.c.res_type == t, c) if (c := self._type_condition(target, t)) is not None
                           else target.c.res_type == t
                           for t in (*PUBLIC, *GOVERNED, "Consent", "AuditEvent")]
        visible_target.append(or_(*type_conditions))
        hidden = select(ref.c.res_id).where(and_(own_targets, not_(exists(select(target.c.res_id).where(
            and_(*visible_target))))))
        return and_(alias.c.security == "provenance", exists(select(ref.c.res_id).where(own_targets)),
                    not_(exists(hidden)))

    def _name_tokens(self) -> list[str]:
        tokens = [self._token("org", self.org)] if self.org else []
        if self.client_id:
            tokens.append(self._token("client", self.client_id))
        return tokens

    @staticmethod
    def _token(kind: str, value: str) -> str:
        return f"{NAME_SEPARATOR}{kind}:{value}{NAME_SEPARATOR}"


def key_fits(resource_type: str, key: str) -> bool:
    """Whether a row of `resource_type` can carry access key `key` (columns.governed_key): a
    QuestionnaireResponse is one assessment kind at Practice level, a Task needs Action Data
    only (policy.resources.required_data_types); a MeasureReport may carry any key."""
    if resource_type == "QuestionnaireResponse":
        return key in ("global-assessment|practice", "indepth-assessment|practice")
    if resource_type == "Task":
        return key == "actions|practice"
    return True


def _group_owners(grants: Grants, data_type: str, level: str) -> object:
    """The PCNs/ICBs/federations whose stored reports the caller may see (decisions._group_level):
    the level and Practice-level rights over every one of their practices."""
    scope = grants.scope(data_type, level)
    practice = grants.scope(data_type, "practice")
    if is_all(scope) and is_all(practice):
        return ALL
    hierarchy = grants.hierarchy
    owners = set()
    for ods, kind in hierarchy.kinds.items():
        if kind == "practice":
            continue
        members = hierarchy.practices_of(ods)
        if members and (is_all(scope) or members <= scope) and (is_all(practice) or members <= practice):
            owners.add(ods)
    return frozenset(owners)


def compile_access(principal, grants: Grants) -> CompiledAccess:
    unrestricted = (serving(principal)
                    and all(is_all(grants.scope(d, lvl)) for d in DATA_TYPES for lvl in ("icb", "pcn", "practice")))
    if unrestricted:
        return CompiledAccess(True, True, client_id=principal.client_id)
    governed: dict[str, object] = {}
    for data_type in DATA_TYPES:
        practice = grants.practice_scope(data_type)
        if practice:
            governed[f"{data_type}|practice"] = ALL if is_all(practice) else frozenset(practice)
        for level in ("icb", "pcn"):
            owners = _group_owners(grants, data_type, level)
            if owners:
                for key in (f"{data_type}|{level}", f"{data_type}|{level}|summary"):
                    governed[key] = owners
    return CompiledAccess(False, serving(principal), governed, grants.tier_ids, principal.org,
                          principal.client_id)
