"""The plain request and response values that interactions take and return (no web framework)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FhirRequest:
    method: str
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    body: dict | None = None
    if_match: str | None = None
    if_none_match: str | None = None
    if_modified_since: str | None = None
    if_none_exist: str | None = None
    prefer: str | None = None
    request_id: str | None = None
    principal: Any = None
    gate: Any = None  # adapter.enforcement.gate.Gate: the policy, for this request's principal

    def param(self, name: str) -> str | None:
        for key, value in self.params:
            if key == name:
                return value
        return None

    def param_all(self, name: str) -> list[str]:
        return [value for key, value in self.params if key == name]

    @property
    def prefer_return(self) -> str:
        return _prefer_value(self.prefer, "return") or "representation"


def _prefer_value(header: str | None, name: str) -> str | None:
    for part in (header or "").replace(",", ";").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip().strip('"')
    return None


@dataclass
class FhirResponse:
    status: int
    resource: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # Set when the body is a stored version: the edge derives ETag/Last-Modified from it.
    version_id: int | None = None
    last_updated: str | None = None
    location: str | None = None
