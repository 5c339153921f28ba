"""App-level error handlers: every failure, routing ones included, leaves as an OperationOutcome."""
from __future__ import annotations

import logging

from flask import Flask, g
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ..outcomes import OperationOutcomeError, error
from .rendering import render_error

log = logging.getLogger("dthub.http")

_CODES = {400: "structure", 401: "login", 403: "forbidden", 404: "not-found", 405: "not-supported",
          406: "not-supported", 408: "timeout", 409: "conflict", 411: "required", 412: "conflict",
          413: "too-long", 414: "too-long", 415: "not-supported", 429: "throttled"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(OperationOutcomeError)
    def _outcome(err: OperationOutcomeError):
        if err.issues:
            g.audit_reason = err.issues[0].diagnostics
        return render_error(err)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        text = {404: "No such FHIR endpoint", 405: "This method is not supported at this URL",
                413: "The request body is larger than this server accepts"}.get(status, exc.description)
        return render_error(error(status, _CODES.get(status, "processing"), text, headers=headers))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        request_id = getattr(g, "request_id", "-")
        log.exception("unexpected error, request id %s", request_id)
        return render_error(error(500, "exception",
                                  f"The server met an unexpected error; quote request id {request_id}"))
