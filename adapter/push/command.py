"""`dthub push`: the command-line glue (argument parsing, exit codes, the report file) around
adapter.push.run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .report import EXIT_INTERRUPTED, EXIT_USAGE
from .run import TYPES, PushOptions


def _instant(value: str) -> str:
    """An R4 instant in the store's fixed-width UTC form (it compares as text), as the API parses it."""
    from ..interactions.preconditions import stored_instant
    from ..outcomes import OperationOutcomeError

    try:
        return stored_instant(value)
    except OperationOutcomeError as exc:
        raise argparse.ArgumentTypeError(exc.issues[0].diagnostics if exc.issues else str(exc)) from None


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def register(sub) -> None:
    p = sub.add_parser("push", help="send what a client may see to a shared-record FHIR server (SMART Backend Services)")
    p.add_argument("--target", required=True, help="the target's FHIR base URL")
    p.add_argument("--client-id", required=True, help="the registered client whose view is pushed (source store)")
    p.add_argument("--target-client-id", required=True, help="our client id at the target")
    p.add_argument("--target-key", required=True, help="private JWK (JSON) or PEM key registered at the target")
    p.add_argument("--target-scope", default="system/*.cus",
                   help='scopes asked of the target (default "system/*.cus": a conditional update searches, then updates or creates)')
    p.add_argument("--purpose", choices=("HMARKT", "HOPERAT", "HQUALIMP"),
                   help="the purpose of use the client acts for (one it is registered for; default: its first)")
    p.add_argument("--since", type=_instant, help="push what changed after this instant instead of since the last push")
    p.add_argument("--full", action="store_true", help="forget this stream's mark and ledger: send everything again")
    p.add_argument("--batch-size", type=_positive, default=100, help="entries per transaction Bundle (default 100)")
    p.add_argument("--retries", type=int, default=5, help="retries of a transient failure (default 5)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry delay in seconds, doubling (default 1)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per request to the target (default 60)")
    p.add_argument("--types", help=f"comma-separated subset of {','.join(TYPES)}")
    p.add_argument("--no-aggregates", action="store_true", help="do not push the aggregate MeasureReports")
    p.add_argument("--dry-run", action="store_true", help="read and count what would be sent; send and record nothing")
    p.add_argument("--report", help="write the JSON report to this file")
    p.set_defaults(func=run_command)


def _fail(message: str) -> int:
    print(f"dthub push: {message}", file=sys.stderr)
    return EXIT_USAGE


def run_command(args: argparse.Namespace) -> int:
    from ..audit import AuditTrail
    from ..audit.trail import default_spool_dir
    from ..auth.assertion import load_private_jwk
    from ..auth.clients import ClientRegistry
    from ..config import config_from_env
    from ..context_factory import build_context
    from .run import client_principal, push
    from .target import Target

    types = tuple(t.strip() for t in args.types.split(",") if t.strip()) if args.types else TYPES
    unknown = [t for t in types if t not in TYPES]
    if unknown:
        return _fail(f"--types: {', '.join(unknown)} cannot be pushed (choose from {', '.join(TYPES)})")
    if not args.target.startswith(("http://", "https://")):
        return _fail(f"--target {args.target!r} is not an http(s) URL")
    if args.retries < 0 or args.backoff < 0:
        return _fail("--retries and --backoff cannot be negative")
    try:
        jwk = load_private_jwk(Path(args.target_key))
    except Exception as exc:  # a person reads this: one line, no trace
        return _fail(f"--target-key {args.target_key}: {exc.__class__.__name__}: {exc}")
    try:
        config = config_from_env()
        ctx = build_context(config)
    except Exception as exc:
        return _fail(f"cannot open the source store: {exc}")
    record = ClientRegistry(ctx.repo.engine).get(args.client_id)
    if record is None:
        return _fail(f"no client {args.client_id!r} is registered in the source store")
    if not record.enabled:
        return _fail(f"client {args.client_id!r} is disabled")
    try:
        principal = client_principal(record, args.purpose)
    except ValueError as exc:
        return _fail(str(exc))
    target_order = tuple(t for t in TYPES if t in types)  # dependency order whatever the order given
    options = PushOptions(args.target, since=args.since, full=args.full, batch_size=args.batch_size,
                          dry_run=args.dry_run, aggregates=not args.no_aggregates, types=target_order)
    target = None if args.dry_run else Target(args.target, args.target_client_id, jwk, scope=args.target_scope,
                                              retries=args.retries, backoff=args.backoff, timeout=args.timeout)
    trail = None if args.dry_run else AuditTrail(ctx.repo, config.fhir_base,
                                                 config.audit_spool_dir or default_spool_dir(config),
                                                 config.audit_flush_seconds)
    try:
        report = push(ctx, principal, options, target=target, trail=trail,
                      progress=lambda step: print(f"  {step} ...", file=sys.stderr) if sys.stderr.isatty() else None)
    finally:
        if trail is not None:
            trail.close()
    if args.report:
        Path(args.report).write_bytes(report.to_json())
    print(report.summary())
    return EXIT_INTERRUPTED if report.interrupted else report.exit_code
