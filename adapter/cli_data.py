"""`dthub import` and `dthub export`: Hub export packages in and out (registered into the `dthub` parser)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the `dthub` parser."""
