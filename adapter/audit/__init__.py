"""The audit trail (IHE BALP AuditEvents), plain Python, no Flask.

    rec = new_record("search-type", "GET", "/fhir/Task", 200, client_id=..., org=..., ...)
    trail = AuditTrail(repo, config.fhir_base, config.audit_spool_dir, config.audit_flush_seconds)
    trail.record(rec)                      # on the request path: spooled, crash-safe
    to_audit_event(rec, fhir_base)         # the R4 AuditEvent it becomes
    audit_view(principal, event, own)      # what an organisation's client may see of one
"""
from __future__ import annotations

from .event import entity_organisations, to_audit_event
from .record import AccessRecord, new_record, scrub_query
from .trail import AuditTrail, summarise
from .view import audit_view

__all__ = ["AccessRecord", "AuditTrail", "audit_view", "entity_organisations", "new_record", "scrub_query",
           "summarise", "to_audit_event"]
