"""Every request, allowed or refused, leaves an AuditEvent (adapter.audit): built here from what
the request's gate noted, spooled before the response is acknowledged."""
from __future__ import annotations

import logging

from flask import Flask, Response, g, request

from ..audit import AuditTrail, new_record
from ..outcomes import error

log = logging.getLogger("dthub.audit")

# Flask endpoint -> R4 restful-interaction code (the AuditEvent subtype).
_INTERACTION = {
    "fhir.read": "read", "fhir.vread": "vread", "fhir.update": "update", "fhir.conditional_update": "update",
    "fhir.delete": "delete", "fhir.conditional_delete": "delete", "fhir.patch": "patch", "fhir.create": "create",
    "fhir.history_instance": "history-instance", "fhir.history_type": "history-type",
    "fhir.history_system": "history-system", "fhir.search_get": "search-type", "fhir.search_post": "search-type",
    "fhir.metadata": "capabilities", "fhir.smart_configuration": "capabilities", "auth.token": "login",
}
_UNAUDITED = {"health.livez", "health.healthz", "auth.jwks"}


def _interaction(endpoint: str | None) -> str:
    if endpoint in _INTERACTION:
        return _INTERACTION[endpoint]
    if endpoint == "fhir.batch_or_transaction":
        body = request.get_json(silent=True, cache=True) if request.is_json else None
        return "transaction" if isinstance(body, dict) and body.get("type") == "transaction" else "batch"
    return "operation"  # $operations, and requests that matched no route


def install_audit(app: Flask, trail: AuditTrail) -> None:
    app.extensions["dthub.audit"] = trail

    @app.after_request
    def _audit(response: Response) -> Response:
        if request.endpoint in _UNAUDITED or request.path in ("/livez", "/healthz"):
            return response
        principal = getattr(g, "principal", None)
        gate = getattr(g, "gate", None)
        notes = gate.notes if gate is not None else None
        resources = tuple({**notes.served, **notes.refused}.items()) if notes else ()
        record = new_record(
            _interaction(request.endpoint), request.method, request.path, response.status_code,
            request_id=getattr(g, "request_id", None), query=request.query_string.decode("latin-1"),
            client_id=getattr(principal, "client_id", None), org=getattr(principal, "org", None),
            role=getattr(principal, "role", None), purpose=getattr(principal, "purpose", None),
            source=request.remote_addr, outcome_desc=(notes.reason if notes and notes.reason else getattr(g, "audit_reason", None) or response.status),
            resources=resources, organisations=gate.organisations() if gate is not None else (),
            deciding=tuple(notes.deciding) if notes else ())
        try:
            trail.record(record)
        except (OSError, RuntimeError):
            # An access that cannot be audited is not acknowledged.
            log.exception("audit spool unavailable: refusing to acknowledge the request")
            from .rendering import render_error

            return render_error(error(503, "transient", "The audit trail is unavailable; try again"))
        return response
