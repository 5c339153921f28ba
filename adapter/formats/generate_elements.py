"""Build `r4-elements.json`, the element table that the XML format converts with.

Data sources:
- HL7 FHIR R4 (4.0.1) official StructureDefinitions (snapshots), published by HL7 under CC0,
  read from `<shared>/fhir-r4/definitions/StructureDefinition-*.json`.
- For the few resource types that are missing from that set but occur as contained resources
  (Practitioner, PractitionerRole, ...): the R4B models of the `fhir.resources` package.
  R4B is not R4, so each type derived that way is checked, element by element, against the
  official R4 JSON schema (`<shared>/fhir-r4/fhir.schema.json`, also CC0) and refused on a mismatch.

Table layout (kept compact, read once by `adapter.formats.xml`):
    {"fhirVersion": "4.0.1", "source": "...",
     "primitives": {type: "boolean" | "integer" | "decimal" | "string" | "xhtml"},  # JSON form
     "resources": [concrete resource type, ...],
     "types": {type or backbone path: [[element name, type, card], ...]}}   # in XSD order
card: 0 = at most one, 1 = list (max > 1 in the base definition), 2 = an XML attribute.
A choice `value[x]` is expanded to one row per type (`valueString`, ...) at its position; a
backbone element's type is its own path (`Questionnaire.item`) and a `contentReference` points
at the path it names, so `Questionnaire.item.item` has type `Questionnaire.item`.

Usage:  .venv/bin/python -m adapter.formats.generate_elements [SHARED_DIR]
SHARED_DIR defaults to $DTHUB_SHARED_DIR, else the `shared` folder next to the project.
"""
from __future__ import annotations

import importlib
import json
import os
import sys
import typing
from pathlib import Path

OUT = Path(__file__).with_name("r4-elements.json")
EXTRA_RESOURCES = (
    "Practitioner", "PractitionerRole", "Patient", "Device", "RelatedPerson", "Endpoint",
    "Location", "HealthcareService",
)
_FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_JSON_KINDS = ("boolean", "integer", "decimal")


def _shared_dir(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    if os.environ.get("DTHUB_SHARED_DIR"):
        return Path(os.environ["DTHUB_SHARED_DIR"])
    return Path(__file__).resolve().parents[3] / "shared"


def _type_code(t: dict) -> str:
    # The snapshots type Element.id, Resource.id and Extension.url as FHIRPath system types
    # and carry the FHIR type in an extension.
    for ext in t.get("extension", ()):
        if ext["url"] == _FHIR_TYPE_EXT:
            return ext["valueUrl"]
    return t["code"]


def _is_list(e: dict) -> bool:
    # JSON arrays follow the base definition's cardinality, not a constrained one.
    mx = e.get("base", {}).get("max", e["max"])
    return mx == "*" or int(mx) > 1


def _from_snapshot(sd: dict, types: dict) -> None:
    elements = [e for e in sd["snapshot"]["element"] if "sliceName" not in e]
    has_children = {e["path"].rsplit(".", 1)[0] for e in elements[1:]}
    types[sd["type"]] = []
    for e in elements[1:]:
        parent, name = e["path"].rsplit(".", 1)
        card = 2 if "xmlAttr" in e.get("representation", ()) else int(_is_list(e))
        rows = types.setdefault(parent, [])
        if "contentReference" in e:
            rows.append([name, e["contentReference"].split("#", 1)[1], card])
        elif e["path"] in has_children:
            rows.append([name, e["path"], card])
        elif name.endswith("[x]"):
            for t in e["type"]:
                code = _type_code(t)
                rows.append([name[:-3] + code[0].upper() + code[1:], code, card])
        else:
            codes = {_type_code(t) for t in e["type"]}
            if len(codes) != 1:
                raise SystemExit(f"{e['path']}: several types {codes} on a non-choice element")
            rows.append([name, codes.pop(), card])


def _json_kind(name: str, sds: dict) -> str:
    # positiveInt/unsignedInt type their value as System.String in R4, so follow the base chain.
    while name in sds:
        if name in _JSON_KINDS or name == "xhtml":
            return name
        name = sds[name].get("baseDefinition", "").rsplit("/", 1)[-1]
    return "string"


def load_official(definitions: Path) -> tuple[dict, dict, list]:
    sds = {}
    for path in sorted(definitions.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("derivation") != "constraint":
            sds[sd["type"]] = sd
    primitives = {n: _json_kind(n, sds) for n, sd in sds.items() if sd["kind"] == "primitive-type"}
    types: dict = {}
    resources = []
    for name, sd in sds.items():
        if sd["kind"] == "primitive-type" or sd.get("abstract"):
            continue
        _from_snapshot(sd, types)
        if sd["kind"] == "resource":
            resources.append(name)
    return primitives, types, resources


def _unwrap(annotation) -> tuple[object, bool]:
    """A pydantic field annotation -> (inner type, is list)."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Union or (origin is not None and type(None) in args):
            annotation = next(a for a in args if a is not type(None))
        elif origin is list or origin is typing.List:
            is_list, annotation = True, args[0]
        else:
            return annotation, is_list


def _r4b_type(annotation, primitives: dict) -> tuple[str | type, bool]:
    inner, is_list = _unwrap(annotation)
    if inner is bool:
        return "boolean", is_list
    if typing.get_origin(inner) is typing.Annotated:
        # The FHIR type is one of the metadata markers (Base64Binary() after EncodedBytes(...)).
        markers = [type(m).__name__ for m in typing.get_args(inner)[1:]]
        for marker in markers:
            name = "uuid" if marker == "UuidVersion" else marker[0].lower() + marker[1:]
            if name in primitives:
                return name, is_list
        raise SystemExit(f"no FHIR primitive among the markers {markers}")
    klass = getattr(inner, "_model_klass", None)
    if klass is None:
        raise SystemExit(f"cannot map annotation {annotation!r}")
    module, _, cls = klass.rpartition(".")
    return getattr(importlib.import_module(module), cls), is_list


def _from_r4b(cls, path: str, types: dict, primitives: dict, is_resource: bool) -> None:
    rows = types[path] = []
    for field_name in cls.elements_sequence():
        field = cls.model_fields[field_name]
        name = field.alias or field_name
        tp, is_list = _r4b_type(field.annotation, primitives)
        if not isinstance(tp, str):
            if tp.__name__ in types or tp.__name__ == "Resource":
                tp = tp.__name__
            else:  # a backbone element class, e.g. PatientContact
                child = f"{path}.{name}"
                _from_r4b(tp, child, types, primitives, False)
                tp = child
        card = 2 if name == "id" and not is_resource else int(is_list)
        rows.append([name, tp, card])


def _schema_name(type_name: str, defs: dict) -> str:
    parts = [p[0].upper() + p[1:] for p in type_name.split(".")]
    full = "_".join(parts)
    # The schema names some nested backbones by their resource and last step only.
    return full if full in defs or len(parts) < 3 else f"{parts[0]}_{parts[-1]}"


def check_against_schema(schema: dict, types: dict, names: list[str]) -> None:
    """Refuse a derived type whose elements differ from the official R4 JSON schema."""
    defs = schema["definitions"]
    for name in names:
        props = defs[_schema_name(name, defs)]["properties"]
        expected = [p for p in props if not p.startswith("_") and p != "resourceType"]
        got = [row[0] for row in types[name]]
        if got != expected:
            raise SystemExit(f"{name}: R4B elements {got} differ from R4 {expected}")
        for el, tp, card in types[name]:
            prop = props[el]
            item = prop.get("items", prop)
            want = {"Resource": "ResourceList"}.get(tp, _schema_name(tp, defs) if "." in tp else tp)
            if "$ref" in item:
                refs = {item["$ref"].rsplit("/", 1)[-1]}
            elif "enum" in item:  # codes with a required binding are inlined as an enum
                refs = {"code"}
            else:  # choice primitives are inlined; several types share one pattern
                shape = (item.get("pattern"), item.get("type"))
                refs = {n for n, d in defs.items() if (d.get("pattern"), d.get("type")) == shape}
            if want not in refs or ("items" in prop) != (card == 1):
                raise SystemExit(f"{name}.{el}: R4B {tp}/{card} differs from R4 {prop}")


def build(shared: Path) -> dict:
    primitives, types, resources = load_official(shared / "fhir-r4" / "definitions")
    from fhir.resources.R4B import get_fhir_model_class

    extra_paths: list[str] = []
    for name in EXTRA_RESOURCES:
        if name in types:
            continue
        before = set(types)
        _from_r4b(get_fhir_model_class(name), name, types, primitives, True)
        extra_paths += [p for p in types if p not in before]
        resources.append(name)
    schema_path = shared / "fhir-r4" / "fhir.schema.json"
    check_against_schema(json.loads(schema_path.read_text(encoding="utf-8")), types, extra_paths)
    return {
        "fhirVersion": "4.0.1",
        "source": "HL7 FHIR R4 4.0.1 official StructureDefinitions (CC0); "
                  f"{', '.join(EXTRA_RESOURCES)}: fhir.resources R4B models, "
                  "checked against the official R4 JSON schema",
        "primitives": primitives,
        "resources": sorted(resources),
        "types": dict(sorted(types.items())),
    }


def main(argv: list[str]) -> None:
    table = build(_shared_dir(argv))
    OUT.write_text(json.dumps(table, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(table['types'])} types)")


if __name__ == "__main__":
    main(sys.argv[1:])
