"""Our CodeSystems and ValueSets, loaded once from this package's JSON files.

The files are the single source: the server stores and serves them (adapter/shipped.py),
and the operations (operations.py) and the profile validator (profiles/) read them here.
Only our own terminology is known (canonical base `BASE`); HL7 code systems are not
expanded here, the base R4 validator already checks their required bindings.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import orjson

BASE = "https://fhir.dandthub.co.uk"


@dataclass(frozen=True)
class Concept:
    code: str
    display: str | None
    definition: str | None
    designations: tuple[dict, ...] = ()
    properties: tuple[dict, ...] = ()


@dataclass(frozen=True)
class CodeSystem:
    url: str
    version: str | None
    name: str | None
    content: str  # complete | fragment | ...
    case_sensitive: bool
    concepts: dict[str, Concept]  # nested concepts flattened, in file order
    resource: dict

    def find(self, code: str) -> Concept | None:
        found = self.concepts.get(code)
        if found is None and not self.case_sensitive:
            lowered = code.lower()
            found = next((c for k, c in self.concepts.items() if k.lower() == lowered), None)
        return found


@dataclass(frozen=True)
class Member:
    system: str
    version: str | None
    code: str
    display: str | None


@dataclass(frozen=True)
class ValueSet:
    url: str
    version: str | None
    members: tuple[Member, ...]  # the expansion, in compose order
    pairs: frozenset[tuple[str, str]]  # (system, code) for membership tests
    open_systems: frozenset[str] = field(default_factory=frozenset)  # whole fragment systems
    resource: dict = field(default_factory=dict)


class Registry:
    def __init__(self, code_systems: list[dict], value_sets: list[dict]):
        self.code_systems: dict[str, CodeSystem] = {}
        for body in code_systems:
            concepts: dict[str, Concept] = {}
            _flatten(body.get("concept", ()), concepts)
            self.code_systems[body["url"]] = CodeSystem(
                body["url"], body.get("version"), body.get("name"), body.get("content", "complete"),
                bool(body.get("caseSensitive", True)), concepts, body)
        raw = {body["url"]: body for body in value_sets}
        self.value_sets: dict[str, ValueSet] = {}
        for url in raw:
            self._expand(url, raw, ())

    def _expand(self, url: str, raw: dict, stack: tuple[str, ...]) -> ValueSet:
        done = self.value_sets.get(url)
        if done is not None:
            return done
        if url in stack or url not in raw:
            # A load-time error: a shipped ValueSet that cannot be expanded is a release bug.
            raise ValueError(f"ValueSet {url}: {'circular' if url in stack else 'unknown'} import")
        body = raw[url]
        compose = body.get("compose", {})
        members: dict[tuple[str, str], Member] = {}
        open_systems: set[str] = set()
        for include in compose.get("include", ()):
            for m, is_open in self._include(include, raw, stack + (url,)):
                members.setdefault((m.system, m.code), m)
                if is_open:
                    open_systems.add(m.system)
        for exclude in compose.get("exclude", ()):
            for m, _ in self._include(exclude, raw, stack + (url,)):
                members.pop((m.system, m.code), None)
        vs = ValueSet(url, body.get("version"), tuple(members.values()), frozenset(members),
                      frozenset(open_systems), body)
        self.value_sets[url] = vs
        return vs

    def _include(self, include: dict, raw: dict, stack: tuple[str, ...]):
        """(Member, whole fragment system?) for one compose include/exclude."""
        if "filter" in include:
            raise ValueError("compose filters are not supported by this terminology module")
        found: list[tuple[Member, bool]] | None = None
        system = include.get("system")
        if system is not None:
            cs = self.code_systems.get(system)
            if cs is None:
                raise ValueError(f"compose refers to unknown CodeSystem {system}")
            if "concept" in include:
                found = []
                for item in include["concept"]:
                    concept = cs.find(item["code"])
                    if concept is None:
                        raise ValueError(f"{system}#{item['code']} is not in the CodeSystem")
                    found.append((Member(system, cs.version, concept.code,
                                         item.get("display", concept.display)), False))
            else:
                whole_fragment = cs.content == "fragment"
                found = [(Member(system, cs.version, c.code, c.display), whole_fragment)
                         for c in cs.concepts.values()]
        for imported in include.get("valueSet", ()):
            vs = self._expand(imported.split("|", 1)[0], raw, stack)
            items = [(m, m.system in vs.open_systems) for m in vs.members]
            keep = {(m.system, m.code) for m in vs.members}
            # Several sources in one include intersect (R4 ValueSet.compose.include.valueSet).
            found = items if found is None else [x for x in found if (x[0].system, x[0].code) in keep]
        return found or []

    def code_system(self, url: str) -> CodeSystem | None:
        return self.code_systems.get(url)

    def value_set(self, url: str) -> ValueSet | None:
        return self.value_sets.get(url)


def _flatten(concepts, out: dict[str, Concept]) -> None:
    for c in concepts:
        out[c["code"]] = Concept(c["code"], c.get("display"), c.get("definition"),
                                 tuple(c.get("designation", ())), tuple(c.get("property", ())))
        _flatten(c.get("concept", ()), out)


def _package_resources() -> tuple[list[dict], list[dict]]:
    code_systems, value_sets = [], []
    for entry in sorted(resources.files("terminology").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("CodeSystem-") and entry.name.endswith(".json"):
            code_systems.append(orjson.loads(entry.read_bytes()))
        elif entry.name.startswith("ValueSet-") and entry.name.endswith(".json"):
            value_sets.append(orjson.loads(entry.read_bytes()))
    return code_systems, value_sets


@functools.cache
def get_registry() -> Registry:
    """The registry of the shipped files; built once, read-only afterwards."""
    return Registry(*_package_resources())


def split_canonical(url: str) -> tuple[str, str | None]:
    """`url|version` -> (url, version)."""
    base, _, version = url.partition("|")
    return base, version or None
