"""Build `r4-rules.json` from the official FHIR R4 (4.0.1) artefacts.

    python -m adapter.validation.generate_rules [/work/shared/fhir-r4]

Sources, in order of authority:
- `definitions/StructureDefinition-*.json` (snapshots): element names, types, min/max,
  required bindings, Reference target types, and the primitive regexes.
- `definitions/ValueSet-*.json` + `CodeSystem-*.json`: the codes of the required bindings.
- `fhir.schema.json` (the R4 JSON schema) only for the resource types that have no snapshot
  in `definitions/` (Patient, Practitioner, ...), so that every R4 resource type still gets
  its element names, JSON types, arrays and `code` enumerations checked. The schema does not
  carry everything a snapshot does, so for those types we have no Reference targets, no
  Coding/CodeableConcept bindings, no choice-group cardinality and no min cardinality of
  primitive elements (the R4B model check still covers the latter).

Deliberately skipped (printed when generating, listed under "skipped" in the output):
- ValueSets that cannot be expanded from the files here: `mimetypes` (BCP 13, any MIME type),
  `currencies` (ISO 4217 has no CodeSystem here), and anything else whose CodeSystem is
  external or whose filter is not a simple hierarchy/property filter. Languages (BCP 47,
  `all-languages`/`languages`) are never required bindings in R4 base resources, and not
  expandable either.
- Bindings on types other than code/Coding/CodeableConcept/string/uri (none in R4 base).
- FHIRPath invariants (`constraint`), slicing (base definitions have none) and extension
  definitions (extensions are checked against the generic Extension type only).
Abstract codes (`notSelectable`) are left out of the allowed codes: R4 does not allow them
in instances (e.g. `question` in Questionnaire.item.type).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

DEFAULT_SOURCE = Path("/work/shared/fhir-r4")
OUTPUT = Path(__file__).with_name("r4-rules.json")

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
SD_PREFIX = "http://hl7.org/fhir/StructureDefinition/"
ANY_TARGET = {"Resource", "Any", "DomainResource"}
BINDABLE = {"code", "Coding", "CodeableConcept", "string", "uri"}


class Unexpandable(Exception):
    pass


def _load_dir(defs: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(defs.glob(f"{prefix}-*.json"))]


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


# --- terminology ---------------------------------------------------------------------------

def _flatten(concepts: list[dict], parents: tuple[str, ...], out: dict[str, dict]) -> None:
    for c in concepts:
        abstract = any(
            p.get("code") in ("notSelectable", "abstract") and p.get("valueBoolean") is True
            for p in c.get("property", [])
        )
        props = {p["code"]: next((v for k, v in p.items() if k.startswith("value")), None)
                 for p in c.get("property", [])}
        out[c["code"]] = {"ancestors": parents, "abstract": abstract, "props": props}
        _flatten(c.get("concept", []), parents + (c["code"],), out)


class Terminology:
    def __init__(self, codesystems: list[dict], valuesets: list[dict]):
        self.cs: dict[str, dict[str, dict]] = {}
        self.cs_complete: set[str] = set()
        for cs in codesystems:
            flat: dict[str, dict] = {}
            _flatten(cs.get("concept", []), (), flat)
            self.cs[cs["url"]] = flat
            if cs.get("content") == "complete":
                self.cs_complete.add(cs["url"])
        self.vs = {v["url"]: v for v in valuesets}
        self._cache: dict[str, dict[str, list[str]] | None] = {}
        self.skipped: dict[str, str] = {}

    def expand(self, url: str) -> dict[str, list[str]] | None:
        url = url.split("|")[0]
        if url not in self._cache:
            try:
                self._cache[url] = {s: sorted(c) for s, c in self._expand(url, ()).items()}
            except Unexpandable as e:
                self._cache[url] = None
                self.skipped[url] = str(e)
        return self._cache[url]

    def _expand(self, url: str, stack: tuple[str, ...]) -> dict[str, set[str]]:
        if url in stack:
            raise Unexpandable(f"circular import of {url}")
        vs = self.vs.get(url)
        if vs is None:
            raise Unexpandable("ValueSet not in definitions/")
        compose = vs.get("compose")
        if not compose:
            raise Unexpandable("no compose")
        out: dict[str, set[str]] = {}
        for inc in compose.get("include", []):
            for system, codes in self._include(inc, stack + (url,)).items():
                out.setdefault(system, set()).update(codes)
        for exc in compose.get("exclude", []):
            for system, codes in self._include(exc, stack + (url,)).items():
                out.get(system, set()).difference_update(codes)
        return out

    def _include(self, inc: dict, stack: tuple[str, ...]) -> dict[str, set[str]]:
        parts: list[dict[str, set[str]]] = [self._expand(v.split("|")[0], stack)
                                            for v in inc.get("valueSet", [])]
        system = inc.get("system")
        if system:
            parts.append({system: self._system_codes(system, inc)})
        if not parts:
            raise Unexpandable("include without system or valueSet")
        # ValueSet include semantics: the parts of one include intersect.
        result = parts[0]
        for other in parts[1:]:
            result = {s: c & other.get(s, set()) for s, c in result.items() if s in other}
        return result

    def _system_codes(self, system: str, inc: dict) -> set[str]:
        if "concept" in inc:
            return {c["code"] for c in inc["concept"]}
        concepts = self.cs.get(system)
        if concepts is None or system not in self.cs_complete:
            raise Unexpandable(f"code system {system} is not available here")
        selected = {code for code, c in concepts.items() if not c["abstract"]}
        for f in inc.get("filter", []):
            selected &= self._filter(concepts, f)
        return selected

    @staticmethod
    def _filter(concepts: dict[str, dict], f: dict) -> set[str]:
        prop, op, value = f.get("property"), f.get("op"), f.get("value")
        if prop == "concept" and op in ("is-a", "descendent-of", "is-not-a"):
            below = {c for c, d in concepts.items() if value in d["ancestors"]}
            if op == "is-a":
                return below | ({value} if value in concepts else set())
            if op == "descendent-of":
                return below
            return set(concepts) - below - {value}
        if op == "=":
            return {c for c, d in concepts.items() if str(d["props"].get(prop)).lower() == str(value).lower()}
        raise Unexpandable(f"filter {prop} {op} {value} not supported")


# --- structure from snapshots -----------------------------------------------------------------

def _type_code(t: dict, is_resource_id: bool) -> str:
    code = t["code"]
    if code.startswith("http://hl7.org/fhirpath/System."):
        if is_resource_id:
            # The snapshots type Resource.id as System.String, but R4 says it is an `id`.
            return "id"
        return next((x["valueUrl"] for x in t.get("extension", []) if x["url"] == FHIR_TYPE_EXT),
                    "string")
    return code


def _targets(t: dict) -> list[str] | None:
    names = [p.rsplit("/", 1)[-1] for p in t.get("targetProfile", [])]
    if not names or ANY_TARGET & set(names):
        return None
    return sorted(set(names))


def structure_from_snapshot(sd: dict, term: Terminology, skipped_bindings: list[str],
                            types: dict[str, dict]) -> None:
    root = sd["type"]
    elements = [e for e in sd["snapshot"]["element"] if not e.get("sliceName")]
    parents = {e["path"].rsplit(".", 1)[0] for e in elements if "." in e["path"]}
    types[root] = {"e": {}, "src": "sd"}
    if sd["kind"] == "resource":
        types[root]["res"] = 1
    for e in elements:
        path = e["path"]
        if path == root:
            continue
        parent, name = path.rsplit(".", 1)
        owner = types.setdefault(parent, {"e": {}, "src": "sd"})
        if e["max"] == "0":
            continue
        many = e["max"] == "*" or int(e["max"]) > 1
        base_rule: dict = {}
        if e["min"]:
            base_rule["min"] = e["min"]
        if many:
            base_rule["a"] = 1
        binding = e.get("binding", {})
        vs_url = None
        if binding.get("strength") == "required" and binding.get("valueSet"):
            vs_url = binding["valueSet"].split("|")[0]
            if term.expand(vs_url) is None:
                skipped_bindings.append(f"{path} -> {vs_url} ({term.skipped[vs_url]})")
                vs_url = None
        if "contentReference" in e:
            type_list = [(e["contentReference"].lstrip("#"), None)]
        elif path in parents:
            type_list = [(path, None)]
        else:
            resource_id = sd["kind"] == "resource" and path == f"{root}.id"
            type_list = [(_type_code(t, resource_id),
                          _targets(t) if t["code"] == "Reference" else None) for t in e["type"]]
        choice = name.endswith("[x]")
        stem = name[:-3] if choice else name
        if e["min"]:
            owner.setdefault("req", []).append(name)
        for tcode, targets in type_list:
            rule = dict(base_rule)
            rule["t"] = tcode
            if choice:
                rule.pop("min", None)
                rule["c"] = stem
            if vs_url and tcode in BINDABLE:
                rule["b"] = vs_url
            elif vs_url:
                skipped_bindings.append(f"{path} ({tcode}) -> {vs_url}: type not checked")
            if targets:
                rule["r"] = targets
            owner["e"][stem + _cap(tcode) if choice else name] = rule


# --- structure from the JSON schema (types without a snapshot here) ---------------------------

def structure_from_schema(schema: dict, name: str, key: str, primitives: set[str],
                          types: dict[str, dict], enums: dict[tuple, str],
                          valuesets: dict[str, dict]) -> None:
    defs = schema["definitions"]
    rule_type: dict = {"e": {}, "src": "schema"}
    types[key] = rule_type
    d = defs[name]
    if "resourceType" in d["properties"]:
        rule_type["res"] = 1
    by_len = sorted(primitives, key=len, reverse=True)
    for prop, spec in d["properties"].items():
        if prop.startswith("_") or prop == "resourceType":
            continue
        rule: dict = {}
        if spec.get("type") == "array":
            rule["a"] = 1
            spec = spec["items"]
        if "$ref" in spec:
            ref = spec["$ref"].rsplit("/", 1)[-1]
            tcode = "Resource" if ref == "ResourceList" else ref
            if tcode != "Resource" and ref not in primitives and ref not in types:
                structure_from_schema(schema, ref, ref, primitives, types, enums, valuesets)
        elif "enum" in spec:
            tcode = "code"
            codes = tuple(sorted(spec["enum"]))
            if codes not in enums:
                enums[codes] = f"urn:schema-enum:{len(enums)}"
                valuesets[enums[codes]] = {"": list(codes)}
            rule["b"] = enums[codes]
        elif spec.get("type") in ("string", "number", "boolean"):
            # Choice variants of primitive type are inlined: the name carries the type.
            tcode = next((p for p in by_len if prop.endswith(_cap(p)) and prop != p), None)
            if tcode is None:
                raise SystemExit(f"cannot type {name}.{prop}")
        elif set(spec) <= {"description"} and prop == "div":
            tcode = "xhtml"
        else:
            raise SystemExit(f"cannot type {name}.{prop}: {spec}")
        rule["t"] = tcode
        rule_type["e"][prop] = rule
    if d.get("required"):
        req = [r for r in d["required"] if r != "resourceType"]
        if req:
            rule_type["req"] = req
    # Choice groups: variants are `<stem><Type>`; a stem with several typed variants is a choice.
    stems: dict[str, list[str]] = {}
    for prop, rule in rule_type["e"].items():
        suffix = _cap(rule["t"])
        if prop.endswith(suffix) and len(prop) > len(suffix):
            stems.setdefault(prop[: -len(suffix)], []).append(prop)
    for stem, props in stems.items():
        if len(props) > 1 and stem not in rule_type["e"]:
            for p in props:
                rule_type["e"][p]["c"] = stem


# --- main -----------------------------------------------------------------------------------

def build(source: Path) -> dict:
    defs = source / "definitions"
    sds = _load_dir(defs, "StructureDefinition")
    term = Terminology(_load_dir(defs, "CodeSystem"), _load_dir(defs, "ValueSet"))

    primitives: dict[str, str | None] = {}
    for sd in sds:
        if sd["kind"] != "primitive-type":
            continue
        value = next(e for e in sd["snapshot"]["element"] if e["path"] == f"{sd['type']}.value")
        ext = value["type"][0].get("extension", [])
        primitives[sd["type"]] = next((x["valueString"] for x in ext if x["url"] == REGEX_EXT), None)

    types: dict[str, dict] = {}
    skipped_bindings: list[str] = []
    for sd in sds:
        if sd["kind"] == "primitive-type" or sd.get("derivation") == "constraint":
            continue
        if sd.get("abstract") and sd["type"] not in ("Element",):
            continue
        structure_from_snapshot(sd, term, skipped_bindings, types)

    rt_cs = next(c for c in _load_dir(defs, "CodeSystem") if c["id"] == "resource-types")
    resources = sorted(c["code"] for c in rt_cs["concept"]
                       if c["code"] not in ("Resource", "DomainResource"))

    schema = json.loads((source / "fhir.schema.json").read_text())
    enums: dict[tuple, str] = {}
    valuesets: dict[str, dict] = {}
    from_schema = []
    for rt in resources:
        if rt not in types:
            structure_from_schema(schema, rt, rt, set(primitives), types, enums, valuesets)
            from_schema.append(rt)

    for rule_type in types.values():
        for rule in rule_type["e"].values():
            if "b" in rule and rule["b"] not in valuesets:
                valuesets[rule["b"]] = term.expand(rule["b"])
    _cross_check(types, schema, set(primitives))

    return {
        "fhirVersion": "4.0.1",
        "primitives": primitives,
        "resources": resources,
        "types": types,
        "valueSets": valuesets,
        "skipped": {
            "valueSets": term.skipped,
            "bindings": sorted(skipped_bindings),
            "schemaOnlyResources": from_schema,
        },
    }


def _cross_check(types: dict, schema: dict, primitives: set[str]) -> None:
    """Show where snapshot and JSON schema (same release) disagree on element names.

    Known and expected: the schema gives Element-typed children (Timing.repeat, ...) a
    modifierExtension and leaves Meta out of the open types; the snapshots are right.
    """
    defs = schema["definitions"]
    for key, rule_type in types.items():
        if rule_type["src"] != "sd":
            continue
        schema_name = re.sub(r"\.(\w)", lambda m: "_" + m.group(1).upper(), key)
        d = defs.get(schema_name)
        if d is None:
            continue
        ours = set(rule_type["e"])
        theirs = {p for p in d["properties"] if not p.startswith("_") and p != "resourceType"}
        if ours != theirs:
            print(f"note: {key}: snapshot-only {sorted(ours - theirs)}, "
                  f"schema-only {sorted(theirs - ours)} (snapshot wins)")


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    rules = build(source)
    for url, why in sorted(rules["skipped"]["valueSets"].items()):
        print(f"skipped ValueSet {url}: {why}")
    for b in rules["skipped"]["bindings"]:
        print(f"skipped binding {b}")
    print(f"schema-only resource types: {len(rules['skipped']['schemaOnlyResources'])}")
    OUTPUT.write_text(json.dumps(rules, separators=(",", ":"), sort_keys=True))
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(rules['types'])} types)")


if __name__ == "__main__":
    main(sys.argv)
