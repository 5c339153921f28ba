"""A small snapshot generator for our StructureDefinitions (run by profiles/build.py).

snapshot = base snapshot (a core R4 definition, or a UK Core one generated the same way from
its differential) with each differential element merged in by id. Elements the base does not
list are made as FHIR's generator makes them: a slice copies its sliced element; a child of a
typed element (Task.for.identifier, a slice's .system, value[x].reference) unfolds the
elements of that data type below it. It covers what our differentials use (no re-slicing,
no type slicing of choices); anything else raises, so a new profile cannot get a wrong
snapshot silently. The validator does not read snapshots: they are for consumers.
"""
from __future__ import annotations

import copy
from typing import Callable

CORE = "http://hl7.org/fhir/StructureDefinition/"
Resolve = Callable[[str], "dict | None"]


def generate(sd: dict, resolve: Resolve) -> tuple[list[dict], list[dict]]:
    """(snapshot elements, mapping declarations used by them) of `sd`."""
    mappings: dict[str, dict] = {}
    elements = _snapshot(sd, resolve, mappings)
    used = {m["identity"] for e in elements for m in e.get("mapping", ())}
    return elements, [m for identity, m in mappings.items() if identity in used]


def _snapshot(sd: dict, resolve: Resolve, mappings: dict[str, dict]) -> list[dict]:
    for m in sd.get("mapping", ()):
        mappings.setdefault(m["identity"], m)
    if sd.get("snapshot") and sd["url"].startswith(CORE):
        return copy.deepcopy(sd["snapshot"]["element"])
    base = resolve(sd["baseDefinition"])
    if base is None:
        raise ValueError(f"{sd['url']}: base {sd['baseDefinition']} not found")
    elements = _snapshot(base, resolve, mappings)
    for diff in sd["differential"]["element"]:
        at = _index(elements, diff["id"])
        if at is None:
            at = _create(elements, diff["id"], resolve, mappings)
        _merge(elements[at], diff, sd["url"], resolve)
    return elements


def _index(elements: list[dict], element_id: str) -> int | None:
    for i, e in enumerate(elements):
        if e["id"] == element_id:
            return i
    return None


def _within(element_id: str, top: str) -> bool:
    return element_id == top or element_id.startswith(top + ".") or element_id.startswith(top + ":")


def _create(elements: list[dict], element_id: str, resolve: Resolve, mappings: dict) -> int:
    parent_id, last = element_id.rsplit(".", 1)
    name, _, slice_name = last.partition(":")
    if slice_name:
        sliced_id = f"{parent_id}.{name}"
        at = _index(elements, sliced_id)
        if at is None:
            at = _create(elements, sliced_id, resolve, mappings)
        end = at
        while end + 1 < len(elements) and _within(elements[end + 1]["id"], sliced_id):
            end += 1
        made = {k: copy.deepcopy(v) for k, v in elements[at].items() if k != "slicing"}
        made["id"], made["sliceName"] = element_id, slice_name
        elements.insert(end + 1, made)
        return end + 1
    at = _index(elements, parent_id)
    if at is None:
        at = _create(elements, parent_id, resolve, mappings)
    parent = elements[at]
    if any(e["id"].startswith(parent_id + ".") for e in elements):
        raise ValueError(f"{element_id} is not an element of {parent_id}")
    codes = {t["code"] for t in parent.get("type", ())}
    if len(codes) != 1:
        raise ValueError(f"{parent_id}: narrow it to one type before constraining {element_id}")
    type_sd = resolve(CORE + codes.pop())
    for m in type_sd.get("mapping", ()):
        mappings.setdefault(m["identity"], m)
    type_elements = type_sd["snapshot"]["element"]
    root = type_elements[0]["path"]
    unfolded = []
    for e in type_elements[1:]:
        child = copy.deepcopy(e)
        child["id"] = parent_id + e["id"][len(root):]
        child["path"] = parent["path"] + e["path"][len(root):]
        unfolded.append(child)
    elements[at + 1:at + 1] = unfolded
    found = _index(elements, element_id)
    if found is None:
        raise ValueError(f"{element_id} is not an element of {parent_id}")
    return found


def _merge(target: dict, diff: dict, source: str, resolve: Resolve) -> None:
    for key, value in diff.items():
        if key in ("id", "path"):
            continue
        if key == "constraint":
            have = {c["key"] for c in target.get("constraint", ())}
            target.setdefault("constraint", []).extend(
                {**c, "source": c.get("source", source)} for c in value if c["key"] not in have)
        else:
            target[key] = copy.deepcopy(value)
        if key.startswith(("fixed", "pattern")):
            # one fixed/pattern value per element: the profile's replaces the base's
            for other in [k for k in target if k.startswith(("fixed", "pattern")) and k != key]:
                del target[other]
    # An extension slice takes its cardinality from the extension's definition (as FHIR's
    # generator does) unless the differential says otherwise.
    profiles = [p for t in diff.get("type", ()) if t.get("code") == "Extension" for p in t.get("profile", ())]
    if "sliceName" in target and profiles and "max" not in diff:
        ext = resolve(profiles[0])
        if ext is not None:
            target["max"] = ext["differential"]["element"][0].get("max", target.get("max", "*"))
