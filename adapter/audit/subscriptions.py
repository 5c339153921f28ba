"""AuditEvents about a Subscription, as any client but the one that made the request sees them.

A Subscription is its creator's alone (policy rule `subscription-owner`), even for service
clients, who otherwise see the whole trail: so the events of accesses to Subscriptions (and of
notifications sent for them) keep their Subscription ids, path and query for the requesting
client only. Everything else of the event (who, when, outcome, the data's organisations) stays.
"""
from __future__ import annotations

import copy

from mappings.names import ID as _ID

from .event import is_resource_entity
from .view import REDACTED

ID_CLIENT = f"{_ID}/client"
MARK = "/Subscription"


def requestor(event: dict) -> str | None:
    for agent in event.get("agent") or []:
        ident = (agent.get("who") or {}).get("identifier") or {}
        if agent.get("requestor") and ident.get("system") == ID_CLIENT:
            return ident.get("value")
    return None


def _names_subscription(entity: dict) -> bool:
    if is_resource_entity(entity):
        return f"{MARK}/" in ((entity.get("what") or {}).get("reference") or "")
    return MARK in (entity.get("description") or "")


def without_others_subscriptions(event: dict, client_id: str | None) -> dict:
    """`event` unchanged when it names no Subscription or the caller made the request; else a copy
    without the Subscription resource entities, and with the request entity cut to its method."""
    entities = event.get("entity") or []
    if not any(_names_subscription(e) for e in entities) or (client_id and requestor(event) == client_id):
        return event
    view = copy.deepcopy(event)
    kept = []
    for entity in view["entity"]:
        if not _names_subscription(entity):
            kept.append(entity)
        elif not is_resource_entity(entity):  # the request entity: path and query may name the Subscription
            entity["description"] = (entity.get("description") or "").split(" ")[0] + " /fhir/Subscription"
            entity.pop("query", None)
            entity.pop("role", None)
            kept.append(entity)
    view["entity"] = kept
    security = view.setdefault("meta", {}).setdefault("security", [])
    if not any(c.get("code") == "REDACTED" for c in security):
        security.append(dict(REDACTED))
    return view
