"""Conformance and terminology resources that ship with the adapter, stored on start.

They are stored like any resource (so read, vread and history work) but only this loader
writes them; a start with unchanged files writes nothing.
"""
from __future__ import annotations

from importlib import resources
from typing import Iterator

import orjson

from .storage import Repository

PACKAGES = ("terminology", "profiles", "adapter.search.definitions", "adapter.operation_definitions",
            "adapter.policy.consents", "adapter.aggregates.measures")


def shipped_resources() -> Iterator[dict]:
    for package in PACKAGES:
        for entry in sorted(resources.files(package).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json") and "-" in entry.name:
                yield orjson.loads(entry.read_bytes())


def load_shipped(repo: Repository) -> int:
    """Store every shipped resource; returns how many were new or changed."""
    changed = 0
    for body in shipped_resources():
        result = repo.put(body["resourceType"], body["id"], body, method="PUT", skip_unchanged=True)
        changed += result.changed
    return changed
