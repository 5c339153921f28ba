"""FHIRPath invariants of our profiles (`constraint[].expression`), evaluated with fhirpathpy.

fhirpathpy interprets the parse tree: 40-500 us per expression, more than the whole budget
of a profile check (< 0.3 ms). An invariant's result depends only on the parts of the data
its expression can reach, so each is evaluated on a *projection*: the context node (and
%resource) with only the top-level elements whose names occur in the expression. The
result for one projection is cached (LRU): Tasks with the same status and businessStatus,
reports of the same Measure... are judged once. Expressions that can reach anything
(children(), descendants(), resolve(), ...) or that depend on the clock are never cached.
Evaluating on the projection in every case keeps cached and uncached answers identical.
"""
from __future__ import annotations

from functools import lru_cache

import orjson
from fhirpathpy import compile as fp_compile
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser import parse

_MODEL = models["r4"]
# Functions that reach beyond the named elements, or whose result changes over time.
_UNCACHEABLE = frozenset({"children", "descendants", "repeat", "resolve", "now", "today",
                          "timeOfDay", "conformsTo", "memberOf"})
_MAX_CACHED_PAYLOAD = 8192  # bytes: larger projections are evaluated without caching
_registry: list["Invariant"] = []  # index -> invariant, so the cache key stays small


class Invariant:
    __slots__ = ("key", "severity", "human", "expression", "base", "at_root", "names",
                 "uses_resource", "cacheable", "index", "_fn", "_prefixes")

    def __init__(self, key: str, severity: str, human: str, expression: str, base: str,
                 at_root: bool):
        self.key, self.severity, self.human, self.expression = key, severity, human, expression
        self.base = base  # element path of the context node (FHIRPath type information)
        self.at_root = at_root
        tree = parse(expression)
        names = set()
        _identifiers(tree, names)
        self.names = frozenset(names)
        self._prefixes = tuple(names)
        self.uses_resource = "%resource" in expression or "%rootResource" in expression
        self.cacheable = not (names & _UNCACHEABLE)
        self._fn = fp_compile(expression, _MODEL, {"returnRawData": True})
        self.index = len(_registry)
        _registry.append(self)

    def evaluate(self, node: object, resource: dict) -> list:
        """The FHIRPath result on `node` (the context element; `resource` when at the root)."""
        if self.at_root:
            payload = orjson.dumps(self._project(resource, True))
        else:
            own = self._project(node, False) if isinstance(node, dict) else node
            payload = orjson.dumps([own, self._project(resource, True) if self.uses_resource else None])
        if self.cacheable and len(payload) <= _MAX_CACHED_PAYLOAD:
            return list(_cached(self.index, payload))
        return self._run(payload)

    def _project(self, obj: dict, is_resource: bool) -> dict:
        names, prefixes = self.names, self._prefixes
        out = {"resourceType": obj.get("resourceType")} if is_resource else {}
        for key, value in obj.items():
            bare = key[1:] if key[:1] == "_" else key
            if bare in names or (bare.startswith(prefixes) and any(
                    bare.startswith(n) and bare[len(n):len(n) + 1].isupper() for n in names)):
                out[key] = value  # `value` also reaches valueString, valueReference, ...
        return out

    def _run(self, payload: bytes) -> list:
        data = orjson.loads(payload)
        if self.at_root:
            env = {"resource": data, "rootResource": data}
            result = self._fn(data, env)
        else:
            node, resource = data
            env = {"resource": resource, "rootResource": resource} if resource is not None else {}
            result = self._fn(ResourceNode.create_node(node, self.base), env)
        return [r.data if isinstance(r, ResourceNode) else r for r in result]


@lru_cache(maxsize=4096)
def _cached(index: int, payload: bytes) -> tuple:
    return tuple(_registry[index]._run(payload))


def _identifiers(tree, out: set) -> None:
    if isinstance(tree, dict):
        if tree.get("type") == "Identifier" and tree.get("text"):
            out.add(tree["text"].strip("`"))
        for child in tree.get("children", ()):
            _identifiers(child, out)
