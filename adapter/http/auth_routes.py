"""The OAuth endpoints: token (form-encoded, RFC 6749 errors) and the server's JWKS."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..auth.token_endpoint import OAuthError

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def auth_blueprint() -> Blueprint:
    bp = Blueprint("auth", __name__, url_prefix="/auth")

    @bp.post("/token")
    def token():
        service = current_app.extensions["dthub.auth"]
        try:
            if request.mimetype != "application/x-www-form-urlencoded":
                raise OAuthError("invalid_request", "the token request must be form-encoded")
            body = service.issue_token(request.form)
        except OAuthError as err:
            response = jsonify(err.body())
            response.status_code = err.status
            if err.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="dthub"'
            response.headers.update(_NO_STORE)
            return response
        response = jsonify(body)
        response.headers.update(_NO_STORE)
        return response

    @bp.get("/jwks")
    def jwks():
        return jsonify(current_app.extensions["dthub.auth"].server_keys.jwks())

    return bp
