"""history-instance, history-type and history-system (FHIR R4 http.html#history).

Pages are keyset pages over the global version sequence: a page link pins the newest version
that existed when paging began (`_snapshot`) and continues below the last one shown (`_before`),
so concurrent writes never shift, repeat or skip entries.
"""
from __future__ import annotations

from urllib.parse import urlencode

from ..outcomes import error
from ..storage import StoredVersion
from .context import Context
from .crud import check_id, check_type, gate_of, visible_or_404
from .preconditions import etag, stored_instant
from .request import FhirRequest, FhirResponse

_METHOD_STATUS = {"POST": "201 Created", "PUT": "200 OK", "DELETE": "204 No Content"}
_PASSED_ON = ("_count", "_since", "_format", "_pretty")


def _int_param(req: FhirRequest, name: str, default: int | None, lo: int, hi: int | None = None) -> int | None:
    raw = req.param(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) < lo:
        raise error(400, "invalid", f"{name} must be a whole number of at least {lo}", expression=[name])
    value = int(raw)
    return min(value, hi) if hi else value


def _entry(ctx: Context, version: StoredVersion, view: dict | None) -> dict:
    url = f"{version.resource_type}/{version.id}"
    entry: dict = {"fullUrl": f"{ctx.fhir_base}/{url}"}
    if view is not None:
        entry["resource"] = view
    method = version.method or "PUT"
    entry["request"] = {"method": method, "url": version.resource_type if method == "POST" else url}
    entry["response"] = {"status": _METHOD_STATUS.get(method, "200 OK"), "etag": etag(version.version_id),
                         "lastModified": version.last_updated}
    return entry


def _entries(ctx: Context, gate, versions: list[StoredVersion]) -> list[dict]:
    """Each version judged again (its own content: an older version is judged as it was)."""
    out = []
    for version in versions:
        view = None if version.deleted else gate.serve(version.resource())
        if version.deleted or view is not None:
            out.append(_entry(ctx, version, view))
    return out


def _history(ctx: Context, req: FhirRequest, resource_type: str | None, id_: str | None, path: str) -> FhirResponse:
    gate = gate_of(ctx, req)
    if id_ is not None:  # an instance the caller may not see has no history it may know of
        visible_or_404(ctx, req, ctx.repo.read(resource_type, id_), id_)
    count = _int_param(req, "_count", ctx.config.default_page_size, 0, ctx.config.max_page_size)
    since_raw = req.param("_since")
    since = stored_instant(since_raw) if since_raw else None
    snapshot = _int_param(req, "_snapshot", None, 0)
    before = _int_param(req, "_before", None, 0)
    if snapshot is None:
        snapshot = ctx.repo.max_seq()
    upper = min(snapshot, before - 1) if before is not None else snapshot
    versions = ctx.repo.history(resource_type=resource_type, id_=id_, since=since, max_seq=upper, count=count,
                                access=gate.sql)
    total = ctx.repo.history_total(resource_type=resource_type, id_=id_, since=since, max_seq=snapshot,
                                   access=gate.sql)
    kept = [(k, v) for k, v in req.params if k in _PASSED_ON]

    def link(relation: str, extra: list[tuple[str, str]]) -> dict:
        query = urlencode(kept + extra)
        return {"relation": relation, "url": f"{ctx.fhir_base}/{path}" + (f"?{query}" if query else "")}

    links = [link("self", [(k, v) for k, v in req.params if k in ("_snapshot", "_before")]),
             link("first", [("_snapshot", str(snapshot))])]
    if versions and len(versions) == count and versions[-1].seq > 1:
        links.append(link("next", [("_snapshot", str(snapshot)), ("_before", str(versions[-1].seq))]))
    bundle = {"resourceType": "Bundle", "type": "history", "total": total, "link": links,
              "entry": _entries(ctx, gate, versions)}
    if not bundle["entry"]:
        del bundle["entry"]
    return FhirResponse(200, bundle)


def history_instance(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "history-instance")
    id_ = check_id(req.id)
    return _history(ctx, req, resource_type, id_, f"{resource_type}/{id_}/_history")


def history_type(ctx: Context, req: FhirRequest) -> FhirResponse:
    resource_type = check_type(req.resource_type, "history-type")
    return _history(ctx, req, resource_type, None, f"{resource_type}/_history")


def history_system(ctx: Context, req: FhirRequest) -> FhirResponse:
    return _history(ctx, req, None, None, "_history")
