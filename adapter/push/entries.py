"""What one pushed resource becomes in a transaction Bundle: the body sent, the conditional URL that
makes a repeat harmless, and the digest the ledger compares."""
from __future__ import annotations

import hashlib
from urllib.parse import urlencode

import orjson

# Elements that differ on every evaluation or belong to the source's own versioning: left out of
# the digest (aggregates carry `date` = when computed) or of the body (the target versions it).
_SOURCE_META = ("versionId", "lastUpdated", "source")


def body_to_send(view: dict) -> dict:
    """The caller's view without the source's version metadata (the target assigns its own)."""
    body = dict(view)
    meta = {k: v for k, v in (view.get("meta") or {}).items() if k not in _SOURCE_META}
    if meta:
        body["meta"] = meta
    else:
        body.pop("meta", None)
    return body


def digest(body: dict) -> str:
    comparable = {k: v for k, v in body.items() if not (k == "date" and body.get("resourceType") == "MeasureReport")}
    return hashlib.sha256(orjson.dumps(comparable, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _escape(value: str) -> str:
    # R4 search.html#escaping: `\`, `,`, `$` and `|` inside a value are escaped with `\`.
    for char in ("\\", ",", "$", "|"):
        value = value.replace(char, "\\" + char)
    return value


def conditional_url(body: dict) -> str:
    """`Type?criteria` by business identifier, so the target finds what an earlier push created:
    a Questionnaire by canonical `url` + `version`, anything else by its first identifier with a
    system and a value. Without either: `Type/id` (a Hub-derived id is stable, so also idempotent)."""
    rtype = body["resourceType"]
    if rtype == "Questionnaire" and body.get("url"):
        params = [("url", body["url"])] + ([("version", body["version"])] if body.get("version") else [])
        return f"{rtype}?{urlencode(params)}"
    identifiers = body.get("identifier") or []
    if isinstance(identifiers, dict):
        identifiers = [identifiers]
    for identifier in identifiers:
        if isinstance(identifier, dict) and identifier.get("system") and identifier.get("value"):
            value = f"{_escape(identifier['system'])}|{_escape(identifier['value'])}"
            return f"{rtype}?{urlencode([('identifier', value)])}"
    return f"{rtype}/{body['id']}"


def transaction(entries: list[dict], target_base: str) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"{target_base}/{body['resourceType']}/{body['id']}", "resource": body,
         "request": {"method": "PUT", "url": conditional_url(body)}} for body in entries]}
