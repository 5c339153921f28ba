"""Our StructureDefinitions, compiled once into trees of element checks.

A profile is enforced from its *differential chain*: its own differential merged over those
of its bases that ship here (the vendored UK Core differentials in `ukcore/`), down to the
core R4 definition, whose rules the base validator (adapter.validation) already enforces.
So only what a profile adds is checked here, and adding a profile is adding a file.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources

import orjson

from terminology.registry import BASE, get_registry

from .invariants import Invariant

SD_PREFIX = f"{BASE}/StructureDefinition/"
CORE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
UNSET = object()  # "no fixed/pattern value" (None is a value)


@dataclass(eq=False)
class Node:
    """The constraints a profile puts on one element (or slice) and its descendants."""
    id: str  # element id, e.g. Organization.identifier:odsOrganisationCode.value
    path: str  # element path without slice names (FHIRPath type context)
    name: str  # JSON name, or `stem[x]` for a choice
    min: int | None = None
    max: int | None = None
    fixed: object = UNSET
    pattern: object = UNSET
    binding: str | None = None  # a required binding to one of our ValueSets
    pairs: frozenset = frozenset()  # its (system, code) members
    codes: frozenset = frozenset()  # its codes, for `code` elements
    types: tuple[str, ...] = ()  # allowed type codes when the profile narrows them
    targets: frozenset | None = None  # allowed reference target types
    profile: str | None = None  # the extension definition of an extension slice
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    invariants: list[Invariant] = field(default_factory=list)
    children: dict[str, "Node"] = field(default_factory=dict)
    rules: str = "open"  # slicing rules
    discriminators: tuple[tuple[str, str], ...] = ()
    slices: dict[str, "Node"] = field(default_factory=dict)
    matchers: tuple = ()  # (slice name, [(type, path parts, value)]), built by finish()
    index: tuple | None = None  # (paths, {values: slice name}) when plain values tell slices apart
    label: str = ""  # `.name` (`.stem[x]` for a choice), for issue locations

    def has_checks(self) -> bool:
        return bool(self.min or self.max is not None or self.fixed is not UNSET
                    or self.pattern is not UNSET or self.binding or self.types or self.targets
                    or self.min_value is not None or self.max_value is not None
                    or self.max_length is not None or self.invariants or self.children
                    or self.slices)


@dataclass(eq=False)
class Definition:
    url: str
    id: str
    version: str | None
    type: str  # resource type, or Extension
    kind: str
    root: Node
    contexts: tuple[str, ...] = ()  # extension contexts (element paths)


class Definitions:
    def __init__(self, ours: list[dict], bases: list[dict]):
        self.raw = {sd["url"]: sd for sd in bases + ours}
        self.by_url: dict[str, Definition] = {}
        for sd in ours:
            if not sd["url"].startswith(SD_PREFIX):
                raise ValueError(f"{sd['url']} is not in our StructureDefinition namespace")
            self.by_url[sd["url"]] = self._compile(sd)

    def get(self, url: str) -> Definition | None:
        return self.by_url.get(url)

    # --- compiling ------------------------------------------------------------------------

    def _chain(self, sd: dict) -> list[dict]:
        chain = [sd]
        while chain[-1].get("baseDefinition") in self.raw:
            chain.append(self.raw[chain[-1]["baseDefinition"]])
            if len(chain) > 10:
                raise ValueError(f"{sd['url']}: baseDefinition loop")
        if not chain[-1].get("baseDefinition", "").startswith(CORE_PREFIX):
            raise ValueError(f"{sd['url']}: base {chain[-1].get('baseDefinition')} is not shipped")
        return chain[::-1]

    def _compile(self, sd: dict) -> Definition:
        merged: dict[str, dict] = {}
        for layer in self._chain(sd):
            for element in layer.get("differential", {}).get("element", ()):
                into = merged.setdefault(element["id"], {})
                for key, value in element.items():
                    if key == "constraint":
                        into.setdefault(key, []).extend(value)
                    else:
                        into[key] = value  # the more derived definition wins
        root = Node(sd["type"], sd["type"], sd["type"])
        # Root invariants of a profile see the resource; those of an extension, the extension.
        resource_type = sd["type"] if sd["kind"] == "resource" else None
        for element_id, props in merged.items():
            _apply(_node_for(root, element_id), props, resource_type)
        _finish(root, sd["url"])
        contexts = tuple(c["expression"] for c in sd.get("context", ()) if c.get("type") == "element")
        return Definition(sd["url"], sd["id"], sd.get("version"), sd["type"], sd["kind"], root, contexts)


def _node_for(root: Node, element_id: str) -> Node:
    segments = element_id.split(".")
    if segments[0] != root.name:
        raise ValueError(f"element {element_id} is not in {root.name}")
    node, ids, path = root, [segments[0]], [segments[0]]
    for segment in segments[1:]:
        name, _, slice_name = segment.partition(":")
        path.append(name)
        ids.append(name)
        child = node.children.get(name)
        if child is None:
            child = node.children[name] = Node(".".join(ids), ".".join(path), name, label="." + name)
        node = child
        if slice_name:
            ids[-1] = segment
            found = node.slices.get(slice_name)
            if found is None:
                found = node.slices[slice_name] = Node(".".join(ids), ".".join(path), name, label="." + name)
            node = found
    return node


def _apply(node: Node, props: dict, resource_type: str | None) -> None:
    if "min" in props:
        node.min = int(props["min"])
    if "max" in props:
        node.max = None if props["max"] == "*" else int(props["max"])
    for key, value in props.items():
        if key.startswith("fixed"):
            node.fixed = value
        elif key.startswith("pattern"):
            node.pattern = value
        elif key.startswith("minValue"):
            node.min_value = value
        elif key.startswith("maxValue"):
            node.max_value = value
    if "maxLength" in props:
        node.max_length = int(props["maxLength"])
    types = props.get("type") or ()
    if node.name.endswith("[x]") and types:
        node.types = tuple(t["code"] for t in types)
    targets = [p.rsplit("/", 1)[-1] for t in types if t.get("code") == "Reference"
               for p in t.get("targetProfile", ()) if p.startswith(CORE_PREFIX)]
    if targets:
        node.targets = frozenset(targets)
    profiles = [p for t in types for p in t.get("profile", ())]
    if profiles:
        node.profile = profiles[0]
    binding = props.get("binding")
    if binding and binding.get("strength") == "required" and binding.get("valueSet", "").startswith(BASE):
        vs = get_registry().value_set(binding["valueSet"].split("|", 1)[0])
        if vs is None:
            raise ValueError(f"{node.id}: binding to unknown ValueSet {binding['valueSet']}")
        node.binding, node.pairs = vs.url, vs.pairs
        node.codes = frozenset(code for _, code in vs.pairs)
    slicing = props.get("slicing")
    if slicing:
        node.rules = slicing.get("rules", "open")
        node.discriminators = tuple((d["type"], d["path"]) for d in slicing.get("discriminator", ()))
    for c in props.get("constraint", ()):
        if c.get("expression"):
            node.invariants.append(Invariant(c["key"], c.get("severity", "error"), c.get("human", ""),
                                             c["expression"], node.path, node.path == resource_type))


def _finish(node: Node, url: str) -> None:
    """Resolve slice discriminators and drop subtrees without anything to check."""
    for child in list(node.children.values()):
        _finish(child, url)
        if child.slices and not child.discriminators and child.name == "extension":
            child.discriminators = (("value", "url"),)  # R4: extensions are always sliced by url
        matchers = []
        for slice_name, slice_node in list(child.slices.items()):
            _finish(slice_node, url)
            if child.rules != "closed" and not slice_node.has_checks():
                del child.slices[slice_name]  # e.g. an extension slice: its definition checks it
                continue
            tests = []
            for kind, disc_path in child.discriminators:
                if kind not in ("value", "pattern"):
                    raise ValueError(f"{url}: {child.id}: discriminator type {kind} not supported")
                tests.append((kind, () if disc_path == "$this" else tuple(disc_path.split(".")),
                              _slice_value(slice_node, disc_path, url)))
            matchers.append((slice_name, tests))
        child.matchers = tuple(matchers)
        child.index = _index(matchers)
        if not child.has_checks():
            del node.children[child.name]


def _index(matchers: list) -> tuple | None:
    """(paths, {values: slice}) when every slice is told apart by plain values (the usual
    system/url discriminators): then finding an item's slice is one dict lookup."""
    if not matchers:
        return None
    paths = tuple(parts for _, parts, _ in matchers[0][1])
    table = {}
    for name, tests in matchers:
        if tuple(p for _, p, _ in tests) != paths or any(kind != "value" or not isinstance(v, str)
                                                          for kind, _, v in tests):
            return None
        table.setdefault(tuple(v for _, _, v in tests), name)
    return paths, table


def _slice_value(slice_node: Node, disc_path: str, url: str) -> object:
    target = slice_node
    if disc_path != "$this":
        for part in disc_path.split("."):
            target = target.children.get(part)
            if target is None:
                break
    if target is not None:
        value = target.fixed if target.fixed is not UNSET else target.pattern
        if value is not UNSET:
            return value
    if disc_path == "url" and slice_node.profile:
        return slice_node.profile  # an extension slice: its url is its definition's
    raise ValueError(f"{url}: slice {slice_node.id} has no value for discriminator {disc_path}")


def _load() -> Definitions:
    root = resources.files("profiles")
    ours = [orjson.loads(e.read_bytes()) for e in sorted(root.iterdir(), key=lambda e: e.name)
            if e.name.startswith("StructureDefinition-") and e.name.endswith(".json")]
    bases = [orjson.loads(e.read_bytes()) for e in sorted((root / "ukcore").iterdir(), key=lambda e: e.name)
             if e.name.endswith(".json")]
    return Definitions(ours, bases)


@functools.cache
def get_definitions() -> Definitions:
    """Loaded and compiled once; read-only afterwards, so shared by every thread."""
    return _load()
