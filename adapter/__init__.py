"""D&T Hub FHIR adapter. `create_app` is the only way in: configuration is read there, never at import."""
from __future__ import annotations

__version__ = "0.1.0"


def create_app(config=None):
    """Build the WSGI app: config -> storage -> (auth -> policy) -> blueprints -> error handlers."""
    from .http.app import build_app

    return build_app(config)
