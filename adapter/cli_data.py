"""`dthub import` and `dthub export`: Hub export packages in and out (registered into the `dthub` parser).

    dthub import PATH [--report FILE] [--workers N] [--batch-size N]
    dthub export PATH [--source NAME]

`import` exits 0 when every record was imported, 1 when some were rejected, 2 when the package
was refused (no or bad manifest, unknown format or version), 3 when the store failed mid-way
and 130 on Ctrl-C or SIGTERM (in both cases whole batches are kept: re-run the same command to finish).
The summary goes to stdout, the progress bar to stderr (on a terminal only), the full report
(every rejected record with file, line, field and reason) to --report as JSON.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt

def _import(args: argparse.Namespace) -> int:
    from profiles.validate import validate_all

    from .cli import _store
    from .importer import import_package

    _config, engine, repo = _store()
    workers = args.workers if args.workers is not None else min(2, os.cpu_count() or 1)
    # SIGTERM ends the import like Ctrl-C: cleanly, workers stopped, whole batches kept.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        # The same checks as a write over the API: R4 and our profiles.
        report = import_package(repo, args.path, validate=validate_all, workers=workers,
                                batch_size=args.batch_size, progress=sys.stderr.isatty())
    except KeyboardInterrupt:
        print("dthub import: interrupted; the batches written so far are complete: run the same "
              "command again to finish", file=sys.stderr)
        return 130
    except Exception as exc:  # the store failed: one line for a person, no trace
        print(f"dthub import: stopped by a store error ({exc.__class__.__name__}: {exc}); the batches "
              "written so far are complete: run the same command again to finish", file=sys.stderr)
        return 3
    finally:
        signal.signal(signal.SIGTERM, previous)
        engine.dispose()
    try:
        if args.report:
            with open(args.report, "wb") as out:
                report.write_json(out)
        print(report.summary_text())
        if args.report:
            print(f"Report: {args.report}")
    finally:
        report.close()
    return report.exit_code


def _export(args: argparse.Namespace) -> int:
    from .cli import _store
    from .exporter import export_package

    _config, engine, repo = _store()
    try:
        report = export_package(repo, args.path, source=args.source)
    finally:
        engine.dispose()
    print(report.summary_text())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dthub` parser."""
    imp = sub.add_parser("import", help="import a Hub export package (directory or .zip)")
    imp.add_argument("path", help="the package: a directory or a .zip")
    imp.add_argument("--report", help="write the full import report (JSON) to this file")
    imp.add_argument("--workers", type=int, default=None,
                     help="processes that validate and map (default: up to 2; 0 = all in this process)")
    imp.add_argument("--batch-size", type=int, default=500, help="records per write transaction (default 500)")
    imp.set_defaults(func=_import)

    exp = sub.add_parser("export", help="write the store as a Hub export package")
    exp.add_argument("path", help="a directory, or a path ending in .zip")
    exp.add_argument("--source", help="the manifest's source (default: the resources' own source)")
    exp.set_defaults(func=_export)
