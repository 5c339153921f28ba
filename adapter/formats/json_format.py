"""FHIR JSON in and out (orjson), with a nesting limit so hostile documents fail cleanly."""
from __future__ import annotations

import orjson

from ..outcomes import error


def _depth_exceeds(value, limit: int) -> bool:
    # Iterative walk: a recursive one would be the very stack overflow we are guarding against.
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list)))
    return False


def parse_json(data: bytes, *, max_depth: int = 64) -> dict:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise error(400, "structure", f"The body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise error(400, "structure", "The body must be a JSON object holding one FHIR resource")
    if _depth_exceeds(value, max_depth):
        raise error(400, "structure", f"The JSON nests deeper than {max_depth} levels")
    if not isinstance(value.get("resourceType"), str):
        raise error(400, "structure", "The body has no resourceType", expression=["resourceType"])
    return value


def to_json(resource: dict, pretty: bool = False) -> bytes:
    return orjson.dumps(resource, option=orjson.OPT_INDENT_2 if pretty else 0)
