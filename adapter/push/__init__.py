"""`dthub push` (issue 8): a client's view, sent to a shared-record FHIR server."""
from .report import PushReport
from .run import TYPES, PushOptions, push
from .target import Target, TargetUnavailable

__all__ = ["PushOptions", "PushReport", "Target", "TargetUnavailable", "TYPES", "push"]
