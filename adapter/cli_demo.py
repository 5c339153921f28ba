"""`dthub demo`: a synthetic export package on the real ODS hierarchy (registered into the `dthub` parser)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dthub` parser."""
