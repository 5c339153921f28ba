"""FHIRPath invariants of our profiles (`constraint[].expression`), evaluated with fhirpathpy.

fhirpathpy interprets the parse tree: 40-500 us per expression, more than the whole budget
of a profile check (< 0.3 ms). An invariant's result depends only on the parts of the data
its expression can reach, so each is evaluated on a *projection*: the context node (and
%resource) with only the top-level elements whose names occur in the expression. The
result for one projection is cached (LRU): Tasks with the same status and businessStatus,
reports of the same Measure... are judged once. Expressions that can reach anything
(children(), descendants(), resolve(), ...) or that depend on the clock are never cached.
Evaluating on the projection in every case keeps cached and uncached answers identical.

Number-blind expressions: one built only from navigation, existence tests (exists, empty, count,
all, where, iif, not), boolean operators and comparisons with a non-numeric string literal reads
nothing of an object but the elements it names, and no number's value (a number, like an object,
is never equal to such a string). Its projection is made at every depth: only named elements,
every number set to 0. Reports that differ only in their figures (a month's usage scores and
counts) are then judged once: the data-absent-reason invariant of our MeasureReport profile
cost 14 % of an import's CPU, evaluated anew for each of England's 80,000 usage reports.
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
                 "uses_resource", "cacheable", "numbers_blind", "index", "_fn", "_prefixes", "_keys")

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
        self._keys: dict[str, bool] = {}  # element name -> named: few distinct names, many lookups
        self.uses_resource = "%resource" in expression or "%rootResource" in expression
        self.cacheable = not (names & _UNCACHEABLE)
        self.numbers_blind = self.cacheable and _numbers_blind(tree)
        self._fn = fp_compile(expression, _MODEL, {"returnRawData": True})
        self.index = len(_registry)
        _registry.append(self)

    def evaluate(self, node: object, resource: dict) -> list:
        """The FHIRPath result on `node` (the context element; `resource` when at the root)."""
        if self.at_root:
            data = self._project(resource, True)
        else:
            own = self._project(node, False) if isinstance(node, dict) else node
            data = [own, self._project(resource, True) if self.uses_resource else None]
        payload = orjson.dumps(self._blind(data) if self.numbers_blind else data)
        if self.cacheable and len(payload) <= _MAX_CACHED_PAYLOAD:
            return list(_cached(self.index, payload))
        return self._run(payload)

    def _project(self, obj: dict, is_resource: bool) -> dict:
        out = {"resourceType": obj.get("resourceType")} if is_resource else {}
        for key, value in obj.items():
            if self._named(key):
                out[key] = value  # `value` also reaches valueString, valueReference, ...
        return out

    def _named(self, key: str) -> bool:
        named = self._keys.get(key)
        if named is None:
            bare = key[1:] if key[:1] == "_" else key
            names = self.names
            named = bare in names or (bare.startswith(self._prefixes) and any(
                bare.startswith(n) and bare[len(n):len(n) + 1].isupper() for n in names))
            if len(self._keys) < 4096:  # element names are a bounded vocabulary; stay bounded anyway
                self._keys[key] = named
        return named

    def _blind(self, value):
        """The projection of a number-blind expression, below the top level (already projected)."""
        if isinstance(value, dict):
            return {k: self._blind(v) for k, v in value.items() if k == "resourceType" or self._named(k)}
        if isinstance(value, list):
            return [self._blind(v) for v in value]
        if type(value) in (int, float):  # not bool: a boolean is read as a boolean
            return 0
        return value

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


# Parse-tree nodes and functions that never read a number's value (see the module docstring).
_BLIND_NODES = frozenset({None, "TermExpression", "InvocationTerm", "MemberInvocation", "Identifier",
                          "FunctionInvocation", "Functn", "ParamList", "InvocationExpression", "AndExpression",
                          "OrExpression", "XorExpression", "ImpliesExpression", "LiteralTerm", "StringLiteral",
                          "BooleanLiteral", "EqualityExpression", "MembershipExpression", "ParenthesizedTerm"})
_BLIND_FUNCTIONS = frozenset({"iif", "where", "all", "exists", "empty", "not", "count"})


def _numbers_blind(tree) -> bool:
    if not isinstance(tree, dict):
        return False
    kind, children = tree.get("type"), tree.get("children", ())
    if kind not in _BLIND_NODES:
        return False
    if kind == "Functn" and (not children or children[0].get("type") != "Identifier"
                             or children[0].get("text") not in _BLIND_FUNCTIONS):
        return False
    if kind in ("EqualityExpression", "MembershipExpression") and not any(
            _non_numeric_string(child) for child in children):
        return False
    return all(_numbers_blind(child) for child in children)


def _non_numeric_string(term) -> bool:
    """A string literal operand (`'...'`) that no number can equal, whatever conversions apply."""
    while isinstance(term, dict) and term.get("type") in ("TermExpression", "LiteralTerm") and \
            len(term.get("children", ())) == 1:
        term = term["children"][0]
    if not (isinstance(term, dict) and term.get("type") == "StringLiteral"):
        return False
    text = str(term.get("text", "")).strip("'").strip()
    try:
        float(text)
    except ValueError:
        return bool(text)
    return False
