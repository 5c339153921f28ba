"""The two shapes every mapper module shares: a problem found in a record, and the lookup callback.

`Lookup` is read-only and answers in the canonical native form (what `load_record` and the
inverse mappers produce), or None when the record is unknown:

    lookup("organisation", "A81001")        -> organisation record
    lookup("assessment", "global|2026.1")   -> assessment record (sections, questions, ...)
    lookup("submission", "S-2026-000123")   -> submission record without `answers`/`author`

The importer answers from the store (what earlier files and earlier passes of this package
wrote, and anything imported before); tests answer from a dict (`dict_lookup`).
"""
from __future__ import annotations

from typing import Callable

Problem = tuple[str, str]  # (field path, reason)
Lookup = Callable[[str, str], "dict | None"]


def assessment_key(assessment_id: str, version: str) -> str:
    return f"{assessment_id}|{version}"


def dict_lookup(organisations=(), assessments=(), submissions=()) -> Lookup:
    """A lookup over records in memory (tests, and anything that has them at hand)."""
    table = {
        "organisation": {o["ods_code"]: o for o in organisations},
        "assessment": {assessment_key(a["id"], a["version"]): a for a in assessments},
        "submission": {s["id"]: s for s in submissions},
    }
    return lambda kind, key: table[kind].get(key)
