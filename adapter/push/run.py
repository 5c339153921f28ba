"""One push of a client's view to a target: read what the client may see (exactly as its searches
would: interactions.visible and aggregates.recent), send what changed as transaction Bundles, keep
the ledger and the mark in the source store, audit every batch that left."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import orjson

from ..aggregates.recent import recent_reports
from ..audit import AuditTrail, new_record
from ..auth.principal import Principal
from ..enforcement.gate import AuditNotes, Gate, organisations_of
from ..interactions.context import Context
from ..interactions.visible import Selection, visible
from ..policy import DATA_TYPES, LEVELS, is_all, refrains_reuse
from ..storage import now_instant
from .entries import body_to_send, digest, transaction
from .report import Counts, PushReport
from .state import PushState, normalise_target, settled_instant
from .target import Target, TargetUnavailable

# Dependency order: what others reference goes first (the target checks responses against their
# stored Questionnaires). Consents, Provenance and AuditEvents stay: see README "Push".
TYPES = ("Organization", "Questionnaire", "QuestionnaireResponse", "Task", "MeasureReport")


@dataclass(frozen=True)
class PushOptions:
    target: str
    since: str | None = None       # overrides the stream's mark (exclusive)
    full: bool = False             # forget the mark and the ledger: send everything again
    batch_size: int = 100
    dry_run: bool = False
    aggregates: bool = True
    types: tuple[str, ...] = TYPES


def client_principal(record, purpose: str | None = None) -> Principal:
    """The registered client as its best token would make it: its registered scopes and a purpose it
    is registered for (the token endpoint's rule). ValueError names what is wrong."""
    purpose = purpose or record.default_purpose
    if not record.may_act_for(purpose):
        raise ValueError(f"client {record.client_id!r} is not registered for purpose {purpose}")
    return Principal(record.client_id, record.org, record.role, record.scopes, purpose)


def grants_fingerprint(principal, grants) -> str:
    """What decides the client's view, without the date: when it changes, resources last updated
    before the mark may have become visible (or differently masked), so the next run sweeps all."""
    cells = [(d, lvl, "all" if is_all(grants.scope(d, lvl)) else sorted(grants.scope(d, lvl) or ()))
             for d in DATA_TYPES for lvl in LEVELS] if grants is not None else "unrestricted"
    subject = [principal.client_id, principal.org, principal.role, principal.purpose, cells]
    return hashlib.sha256(orjson.dumps(subject)).hexdigest()


class _Batches:
    """Collects bodies per type and sends them `batch_size` at a time."""

    def __init__(self, ctx: Context, gate: Gate, state: PushState, target: Target | None, options: PushOptions,
                 report: PushReport, trail: AuditTrail | None):
        self.ctx, self.gate, self.state, self.target = ctx, gate, state, target
        self.options, self.report, self.trail = options, report, trail
        self.pending: list[tuple[dict, Counts, tuple]] = []   # (body, counts, aggregate sources or ())

    def add(self, body: dict, counts: Counts, sources: tuple | None = None) -> None:
        counts.selected += 1
        self.pending.append((body, counts, sources))
        if len(self.pending) >= self.options.batch_size:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        known = self.state.sent_digests([(b["resourceType"], b["id"]) for b, _, _ in pending])
        digests, counts_of, to_send, aggregates = {}, {}, [], {}
        for body, counts, sources in pending:
            key = (body["resourceType"], body["id"])
            digests[key], counts_of[key] = digest(body), counts
            if known.get(key) == digests[key] and not self.options.full:
                counts.unchanged += 1
                continue
            to_send.append(body)
            if sources is not None:
                aggregates[key] = sources
        notes = self.gate.take_notes()
        if not to_send or self.options.dry_run:
            for body in to_send:
                counts_of[(body["resourceType"], body["id"])].sent += 1
            return

        def acknowledged(bodies: list[dict], statuses: dict) -> None:
            self.state.record_sent({k: digests[k] for k in statuses})
            for key, status in statuses.items():
                counts_of[key].created += status == 201
                counts_of[key].updated += status != 201

        for body in to_send:
            counts_of[(body["resourceType"], body["id"])].sent += 1
        status, text = 200, f"pushed to {self.state.target}"
        try:
            outcome = self.target.send(to_send, lambda bodies: transaction(bodies, self.target.base), acknowledged)
            for refusal in outcome.refused:
                counts_of[(refusal.resource_type, refusal.id)].failed += 1
                self.report.failures.append({"type": refusal.resource_type, "id": refusal.id,
                                             "status": refusal.status, "text": refusal.text})
            if outcome.refused:
                status, text = 207, f"pushed to {self.state.target}; {len(outcome.refused)} refused by it"
        except TargetUnavailable:
            status, text = 503, f"push to {self.state.target} stopped: target unavailable"
            raise
        except KeyboardInterrupt:
            status, text = 499, f"push to {self.state.target} interrupted"
            raise
        finally:
            self._audit(notes, to_send, aggregates, status, text)

    def _audit(self, notes: AuditNotes, sent: list[dict], aggregates: dict, status: int, text: str) -> None:
        """Data left the server for this client: one AccessRecord per batch, naming what was sent
        and whose it is, as the HTTP layer records a search."""
        if self.trail is None:
            return
        refs = {f"{t}/{i}" for t, i in ((b["resourceType"], b["id"]) for b in sent)}
        kept = AuditNotes(served={r: o for r, o in notes.served.items() if r in refs},
                          refused=dict(notes.refused), deciding=dict(notes.deciding))
        for (rtype, id_), (subject, sources) in aggregates.items():
            kept.served[f"{rtype}/{id_}"] = subject
            for source in sources:
                kept.deciding.setdefault(source)
        grants = self.gate.grants
        organisations = organisations_of(kept, grants.hierarchy if grants is not None else None)
        principal = self.gate.principal
        self.trail.record(new_record(
            "operation", "POST", "push", status, query=f"target={self.state.target}&entries={len(sent)}",
            client_id=principal.client_id, org=principal.org, role=principal.role, purpose=principal.purpose,
            outcome_desc=text, resources=tuple({**kept.served, **kept.refused}.items()),
            organisations=organisations, deciding=tuple(kept.deciding)))


def push(ctx: Context, principal, options: PushOptions, *, target: Target | None,
         trail: AuditTrail | None = None, progress: Callable[[str], None] | None = None) -> PushReport:
    """Push `principal`'s view to `target` (None with `dry_run`). Never raises for the target's
    failures: they end up in the report (and its exit code); KeyboardInterrupt sets `interrupted`."""
    started = time.monotonic()
    report = PushReport(principal.client_id, normalise_target(options.target), started=now_instant(),
                        dry_run=options.dry_run)
    state = PushState(ctx.repo, principal.client_id, options.target)
    if options.full and not options.dry_run:
        state.forget()
    previous = state.load()
    gate = Gate(ctx.policy, principal, ctx.repo)
    fingerprint = grants_fingerprint(principal, gate.grants)
    report.resumed = bool(previous and previous.get("running_since"))
    if options.since is not None:
        report.since = options.since
    elif previous and previous.get("mark") and previous.get("grants") == fingerprint:
        report.since = previous["mark"]
    else:
        report.full_sweep = ("full" if options.full else "first push" if not previous or not previous.get("mark")
                             else "grants changed")
    report.until = settled_instant(ctx.repo)
    batches = _Batches(ctx, gate, state, target, options, report, trail)
    try:
        if not options.dry_run:
            state.started(report.until)
            target.authenticate()
        for resource_type in options.types:
            if not _searchable(principal, resource_type):
                report.out_of_scope.append(resource_type)
                continue
            counts = report.counts(resource_type)
            if progress:
                progress(resource_type)
            for _version, view in _views(ctx, gate, resource_type, report):
                batches.add(body_to_send(view), counts)
            batches.flush()
        # Aggregates are MeasureReports the client reads ($evaluate-measure's scope rule).
        if options.aggregates and not _searchable(principal, "MeasureReport"):
            report.out_of_scope.append("aggregates")
        elif options.aggregates and gate.grants is not None:
            if progress:
                progress("aggregates")
            for item in recent_reports(ctx.aggregates, gate.grants, ctx.policy.today(),
                                       no_reuse=refrains_reuse(principal)):
                batches.add(body_to_send(item.report), report.aggregates, (item.subject, item.sources))
            batches.flush()
        if not options.dry_run:
            if report.failures:  # the mark stays: the next run selects the refused ones again
                state.finished()
            else:
                state.succeeded(report.until, fingerprint)
    except TargetUnavailable as exc:
        report.error = str(exc)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        report.requests = target.requests if target is not None else 0
        report.duration_seconds = round(time.monotonic() - started, 3)
    return report


def _searchable(principal, resource_type: str) -> bool:
    """What a search by the client could return: its scopes grant reading and searching the type."""
    return principal.scopes.allows(resource_type, "r") and principal.scopes.allows(resource_type, "s")


def _views(ctx: Context, gate: Gate, resource_type: str, report: PushReport) -> Iterator[tuple]:
    yield from visible(ctx, gate, Selection(resource_type, since=report.since, until=report.until))
