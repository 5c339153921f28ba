"""SMART on FHIR system scopes (v2 `.cruds`, v1 `.read`/`.write`/`.*` as aliases): parse, intersect, check."""
from __future__ import annotations

import re
from dataclasses import dataclass

_SCOPE = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|[cruds]+)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
ORDER = "cruds"

# The permission an interaction needs (SMART v2: c create, r read, u update, d delete, s search).
INTERACTION_PERMISSION = {
    "read": "r", "vread": "r", "history-instance": "r", "history-type": "r", "history-system": "r",
    "search-type": "s", "search-system": "s", "create": "c", "update": "u", "patch": "u", "delete": "d",
    "operation": "r",
}


@dataclass(frozen=True)
class ScopeSet:
    """Permissions per resource type; `*` stands for every type."""

    grants: tuple[tuple[str, frozenset[str]], ...] = ()

    @classmethod
    def parse(cls, text: str | None, *, strict: bool = False) -> "ScopeSet":
        merged: dict[str, set[str]] = {}
        for word in (text or "").split():
            match = _SCOPE.match(word)
            if not match:
                if strict:
                    raise ValueError(f"{word!r} is not a SMART system scope (e.g. system/Task.rs)")
                continue  # other scopes (openid, launch...) grant nothing here
            resource_type, perms = match.groups()
            letters = _V1.get(perms, perms)
            if any(letters.count(c) > 1 for c in letters) or list(letters) != sorted(letters, key=ORDER.index):
                if strict:
                    raise ValueError(f"{word!r}: permissions must be in the order c r u d s, each once")
                continue
            merged.setdefault(resource_type, set()).update(letters)
        return cls(tuple(sorted((t, frozenset(p)) for t, p in merged.items())))

    def _for(self, resource_type: str) -> frozenset[str]:
        out: set[str] = set()
        for type_, perms in self.grants:
            if type_ == "*" or type_ == resource_type:
                out |= perms
        return frozenset(out)

    def allows(self, resource_type: str | None, permission: str) -> bool:
        if resource_type is None:  # system-level interactions need the wildcard grant
            return permission in dict(self.grants).get("*", frozenset())
        return permission in self._for(resource_type)

    def intersect(self, allowed: "ScopeSet") -> "ScopeSet":
        out: dict[str, frozenset[str]] = {}
        for type_, perms in self.grants:
            if type_ == "*":
                # Asked for everything: grant what the client may have, type by type.
                for a_type, a_perms in allowed.grants:
                    both = perms & a_perms
                    if both:
                        out[a_type] = out.get(a_type, frozenset()) | both
            else:
                both = perms & allowed._for(type_)
                if both:
                    out[type_] = out.get(type_, frozenset()) | both
        return ScopeSet(tuple(sorted(out.items())))

    def __bool__(self) -> bool:
        return any(perms for _, perms in self.grants)

    def __str__(self) -> str:
        return " ".join(f"system/{t}.{''.join(c for c in ORDER if c in p)}" for t, p in self.grants if p)
