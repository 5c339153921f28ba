"""The R4 rules (`r4-rules.json`, built by generate_rules.py), loaded once into lookup tables.

The tables are read-only after loading, so one module-level instance serves every thread.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from .primitives import Checker, build_checkers

RULES_FILE = Path(__file__).with_name("r4-rules.json")

PRIMITIVE, COMPLEX, RESOURCE = 0, 1, 2
CODE_LIKE = frozenset({"code", "string", "uri"})


class Binding:
    __slots__ = ("url", "codes", "pairs")

    def __init__(self, url: str, content: dict[str, list[str]]):
        self.url = url
        self.codes = frozenset(c for codes in content.values() for c in codes)
        self.pairs = frozenset((s, c) for s, codes in content.items() for c in codes)

    def describe(self) -> str:
        if self.url.startswith("urn:schema-enum:"):
            return "the R4 required codes " + ", ".join(sorted(self.codes))
        return self.url


class ElementRule:
    __slots__ = ("name", "type", "kind", "many", "choice", "binding", "targets", "check",
                 "type_rule")

    def __init__(self, name: str, raw: dict):
        self.name = name
        self.type: str = raw["t"]
        self.many: bool = bool(raw.get("a"))
        self.choice: str | None = raw.get("c")
        self.targets: frozenset[str] | None = frozenset(raw["r"]) if "r" in raw else None
        self.binding: Binding | None = None
        self.kind = COMPLEX
        self.check: Checker | None = None
        self.type_rule: TypeRule | None = None


class TypeRule:
    __slots__ = ("key", "elements", "required", "from_snapshot", "is_resource")

    def __init__(self, key: str, raw: dict):
        self.key = key
        self.elements = {name: ElementRule(name, e) for name, e in raw["e"].items()}
        self.from_snapshot = raw["src"] == "sd"
        self.is_resource = bool(raw.get("res"))
        required = []
        for label in raw.get("req", ()):
            if label.endswith("[x]"):
                stem = label[:-3]
                required.append((label, tuple(n for n, e in self.elements.items() if e.choice == stem)))
            else:
                required.append((label, (label,)))
        self.required: tuple[tuple[str, tuple[str, ...]], ...] = tuple(required)


class Rules:
    def __init__(self, raw: dict):
        self.resources = frozenset(raw["resources"])
        self.checkers = build_checkers(raw["primitives"])
        self.types = {key: TypeRule(key, t) for key, t in raw["types"].items()}
        bindings = {url: Binding(url, content) for url, content in raw["valueSets"].items()
                    if content is not None}
        for type_rule in self.types.values():
            for name, e in type_rule.elements.items():
                b = raw["types"][type_rule.key]["e"][name].get("b")
                if b:
                    e.binding = bindings[b]
                if e.type in self.checkers:
                    e.kind, e.check = PRIMITIVE, self.checkers[e.type]
                elif e.type == "Resource":
                    e.kind = RESOURCE
                else:
                    e.type_rule = self.types[e.type]
        self.element = self.types["Element"]

    def resource(self, resource_type: object) -> TypeRule | None:
        if type(resource_type) is str and resource_type in self.resources:
            return self.types[resource_type]
        return None


@functools.cache
def get_rules() -> Rules:
    """Loaded once per process; read-only afterwards."""
    return Rules(json.loads(RULES_FILE.read_bytes()))
