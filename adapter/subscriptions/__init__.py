"""R4 Subscriptions with the rest-hook channel (issue 8).

    admission.admit(ctx, principal, subscription)  -> the Subscription as stored (create/update)
    endpoints.check_endpoint(url, allowed)         -> where a notification may go (no SSRF)
    Notifier(ctx, registry, record_audit)          -> the background matcher and sender
"""
from __future__ import annotations

from .notifier import Notifier

__all__ = ["Notifier"]
