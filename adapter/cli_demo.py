"""`dthub demo`: a synthetic export package on the real ODS hierarchy (registered into the `dthub` parser)."""
from __future__ import annotations

import argparse
import sys
from datetime import date


def _practices(value: str) -> int | None:
    if value == "all":
        return 10**9
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1 (or 'all')")
    return number


def _icb(value: str) -> str:
    return value.strip().upper()


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEFAULT_ICBS, DemoOptions, PackageError, generate

    options = DemoOptions(seed=args.seed, practices=args.practices, icbs=tuple(args.icb or DEFAULT_ICBS),
                          today=args.today, mode=args.mode)
    try:
        summary = generate(args.out, options)
    except (PackageError, OSError) as exc:
        print(f"dthub demo: {exc}", file=sys.stderr)
        return 2
    kinds = ", ".join(f"{n} {k}{'s' if n != 1 else ''}" for k, n in summary.organisations.items())
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
    icbs = " ".join(summary.icbs) if len(summary.icbs) <= 6 else f"{len(summary.icbs)} ICBs"
    size = f"{summary.bytes / 1e6:.1f} MB" if summary.bytes >= 1e6 else f"{summary.bytes / 1e3:.0f} kB"
    print(f"wrote {summary.path} ({size} in {summary.seconds:.1f} s)\n"
          f"  practices of: {icbs}\n  organisations: {kinds}\n  records: {counts}\n"
          f"  PCNs spanning two ICBs: {' '.join(summary.spanning_pcns) or 'none in this selection'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dthub` parser."""
    demo = sub.add_parser(
        "demo", help="write a synthetic export package on the real ODS hierarchy",
        description="Write a reproducible synthetic D&T Hub export package (hub-export.md, format 1.0): "
                    "organisations of the real ODS hierarchy, assessments, submissions, actions, usage and "
                    "contracts. By default the practices of QK1 (Leicester, Leicestershire and Rutland) and "
                    "QJM (Lincolnshire).")
    demo.add_argument("--practices", type=_practices, metavar="N",
                      help="number of practices: whole ICBs first (the --icb ones, then the others by code), the "
                           "last one cut; 'all' or any N above 6527 gives all of England (default: every "
                           "practice of the --icb ICBs)")
    demo.add_argument("--icb", action="append", type=_icb, metavar="CODE",
                      help="an ICB to take first (repeatable; default QK1 and QJM)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (default 1); same seed, same bytes")
    demo.add_argument("--out", default="var/demo-package",
                      help="package directory, or a path ending .zip for a zip (default var/demo-package)")
    demo.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 1), metavar="YYYY-MM-DD",
                      help="the date the package is exported on; all dates are relative to it (default 2026-11-01)")
    demo.add_argument("--mode", choices=["incremental", "full"], default="incremental",
                      help="the manifest's import mode (default incremental)")
    demo.set_defaults(func=_demo)
