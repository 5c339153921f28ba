"""What every interaction needs, built once by the app factory."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..config import Config
from ..enforcement.state import PolicyState
from ..outcomes import Issue
from ..search.engine import SearchEngine
from ..storage import Repository


@dataclass(frozen=True)
class Context:
    config: Config
    repo: Repository
    validate: Callable[[dict], list[Issue]]
    fhir_base: str
    search: SearchEngine
    policy: PolicyState
    aggregates: Any = None  # adapter.aggregates.Aggregates: $evaluate-measure
