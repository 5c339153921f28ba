"""What a written Subscription must be before it is stored (R4 subscription.html), and what the
server sets on it.

Checked: R4 validity; `criteria` is `Type?params` of a type clients may write (so not AuditEvent,
whose events the notifications themselves create, nor Subscription), with parameters our search
accepts and no result parameters; the caller's token may search that type; `channel.type` is
rest-hook with an allowed endpoint (endpoints.py); `channel.payload` absent (empty POST) or a FHIR
JSON/XML mime type; `channel.header` lines are `Name: value` and do not set what the server sets.

Set by the server: the owner (`meta.tag` …/Id/client = the caller; policy rule
`subscription-owner`), the purpose of use the notifications are judged under (`meta.security`
v3-ActReason = the token's purpose), and the status: `requested` (or `active`) becomes `active`
once these checks pass; `off` stays `off`; `error` is the server's to set.
"""
from __future__ import annotations

import re
import threading
import time
from urllib.parse import parse_qsl

from mappings.names import V3_ACT_REASON

from ..outcomes import Issue, OperationOutcomeError, error, invalid
from ..policy.codes import ID_CLIENT
from ..resource_types import WRITABLE
from ..search.query import IGNORED_PARAMS, PAGING_PARAMS, RESULT_PARAMS, SearchQuery, parse_search
from .endpoints import EndpointRefused, check_endpoint

SUBSCRIBABLE = tuple(t for t in WRITABLE if t != "Subscription")
# Parameters that shape a result page, not which resources match: meaningless in criteria (the
# search engine's lists; `_contained` and the like it does not know, so they are refused as unknown).
SHAPING_PARAMS = frozenset(RESULT_PARAMS + IGNORED_PARAMS + PAGING_PARAMS)
PAYLOAD_FORMATS = {"application/fhir+json": "json", "application/fhir+xml": "xml"}
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Headers the server sets itself, or that would change how the request is framed or routed.
RESERVED_HEADERS = frozenset({"host", "content-length", "content-type", "transfer-encoding", "connection", "te",
                              "upgrade", "expect", "keep-alive", "proxy-authorization", "proxy-connection", "trailer"})


def _unprocessable(text: str, expression: str, code: str = "value") -> OperationOutcomeError:
    return invalid([Issue("error", code, text, (expression,))])


def parse_criteria(criteria, search=None) -> SearchQuery:
    """The criteria as a search; with `search` (the engine) its values are checked too, by running
    it once restricted to no resource (dates and other values are parsed when SQL is built)."""
    if not isinstance(criteria, str) or not criteria.strip():
        raise _unprocessable("Subscription.criteria is required: Type?parameters", "Subscription.criteria", "required")
    resource_type, _, query = criteria.strip().partition("?")
    if resource_type not in SUBSCRIBABLE:
        raise _unprocessable(f"Subscription.criteria: {resource_type!r} is not a type one can subscribe to here "
                             f"(one of {', '.join(SUBSCRIBABLE)})", "Subscription.criteria", "not-supported")
    params = tuple(parse_qsl(query, keep_blank_values=True))
    shaping = sorted({k for k, _ in params if k.split(":")[0] in SHAPING_PARAMS})
    if shaping:
        raise _unprocessable(f"Subscription.criteria: {', '.join(shaping)} shape a result page, not what matches",
                             "Subscription.criteria", "not-supported")
    try:
        parsed = parse_search(resource_type, params)
        if search is not None:
            search.count(parse_search(resource_type, params + (("_id", "-"),)))
    except OperationOutcomeError as exc:
        text = "; ".join(i.diagnostics or i.code for i in exc.issues)
        raise _unprocessable(f"Subscription.criteria: {text}", "Subscription.criteria") from None
    if parsed.unknown:
        raise _unprocessable(f"Subscription.criteria: unknown search parameters {', '.join(parsed.unknown)}",
                             "Subscription.criteria", "not-supported")
    return parsed


def payload_format(payload) -> str | None:
    """'json', 'xml', or None for no payload; ValueError for anything else."""
    if payload is None:
        return None
    base, *params = [p.strip() for p in str(payload).split(";")]
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "fhirversion" and value.strip() not in ("4.0", "4.0.1"):
            raise ValueError(f"channel.payload {payload!r}: this server speaks FHIR 4.0")
    if base.lower() not in PAYLOAD_FORMATS:
        raise ValueError(f"channel.payload {payload!r}: use application/fhir+json or application/fhir+xml, "
                         "or leave it out for notifications without content")
    return PAYLOAD_FORMATS[base.lower()]


def header_lines(channel: dict) -> list[tuple[str, str]]:
    out = []
    for line in channel.get("header") or []:
        name, sep, value = str(line).partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(name) or any(c in value for c in "\r\n\0"):
            raise _unprocessable("Subscription.channel.header: each line must be 'Name: value'",
                                 "Subscription.channel.header")
        if name.lower() in RESERVED_HEADERS:
            raise _unprocessable(f"Subscription.channel.header: {name} is set by the server",
                                 "Subscription.channel.header")
        out.append((name, value))
    return out


def _checked_channel(resource: dict, allowed: tuple[str, ...]) -> None:
    channel = resource.get("channel") or {}
    if channel.get("type") != "rest-hook":
        raise _unprocessable(f"Subscription.channel.type {channel.get('type')!r} is not supported: only rest-hook",
                             "Subscription.channel.type", "not-supported")
    if not channel.get("endpoint"):
        raise _unprocessable("Subscription.channel.endpoint is required for a rest-hook",
                             "Subscription.channel.endpoint", "required")
    try:
        _recently_checked(channel["endpoint"], allowed)
    except EndpointRefused as exc:
        raise _unprocessable(f"Subscription.channel.endpoint: {exc}", "Subscription.channel.endpoint",
                             "security") from None
    try:
        payload_format(channel.get("payload"))
    except ValueError as exc:
        raise _unprocessable(str(exc), "Subscription.channel.payload", "not-supported") from None
    header_lines(channel)


# Endpoint checks resolve DNS. `prepare` runs the check before the write transaction starts (on
# SQLite that holds the store's write lock), and the check inside it reuses that answer for a few
# seconds. Deliveries never use this: they resolve again each time (endpoints.py).
_CHECKED: dict[tuple[str, tuple[str, ...]], float] = {}
_CHECKED_LOCK = threading.Lock()
_CHECKED_SECONDS = 10.0


def _recently_checked(endpoint: str, allowed: tuple[str, ...]) -> None:
    key = (endpoint, allowed)
    now = time.monotonic()
    with _CHECKED_LOCK:
        if _CHECKED.get(key, 0.0) > now:
            return
    check_endpoint(endpoint, allowed)
    with _CHECKED_LOCK:
        if len(_CHECKED) > 1000:
            _CHECKED.clear()
        _CHECKED[key] = now + _CHECKED_SECONDS


def prepare(ctx, body: dict | None) -> None:
    """Before the write transaction: resolve the endpoint of a Subscription body, if it has one
    (errors are left for `admit`, which reports them with the rest)."""
    channel = body.get("channel") if isinstance(body, dict) else None
    endpoint = channel.get("endpoint") if isinstance(channel, dict) else None
    if isinstance(endpoint, str):
        try:
            _recently_checked(endpoint, ctx.config.subscription_allowed_hosts)
        except EndpointRefused:
            pass


def admit(ctx, principal, resource: dict) -> dict:
    """The Subscription as it will be stored, or an OperationOutcomeError (4xx). `resource` is
    R4-valid already (the write validates it first, once: the checks below rely on that); what is
    set here is valid by construction."""
    if principal is None:
        raise error(403, "forbidden", "A Subscription belongs to the client that creates it: a client must write it")
    if resource.get("status") == "error":
        raise _unprocessable("Subscription.status error is set by the server; send requested to (re)activate",
                             "Subscription.status")
    query = parse_criteria(resource.get("criteria"), ctx.search)
    if not principal.scopes.allows(query.resource_type, "s"):
        raise error(403, "forbidden", f"The token does not allow searching {query.resource_type} "
                                      f"(system/{query.resource_type}.s), so it cannot subscribe to it")
    _checked_channel(resource, ctx.config.subscription_allowed_hosts)
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [t for t in meta.get("tag") or [] if not (isinstance(t, dict) and t.get("system") == ID_CLIENT)] \
        + [{"system": ID_CLIENT, "code": principal.client_id, "display": "the client this Subscription belongs to"}]
    meta["security"] = [c for c in meta.get("security") or []
                        if not (isinstance(c, dict) and c.get("system") == V3_ACT_REASON)] \
        + [{"system": V3_ACT_REASON, "code": principal.purpose}]
    stored = dict(resource, meta=meta)
    if stored.get("status") in ("requested", "active"):
        stored["status"] = "active"
        stored.pop("error", None)  # it described an earlier failure
    return stored


def purpose_of(subscription: dict) -> str | None:
    codes = [c.get("code") for c in (subscription.get("meta") or {}).get("security") or []
             if isinstance(c, dict) and c.get("system") == V3_ACT_REASON]
    return codes[0] if len(codes) == 1 else None
