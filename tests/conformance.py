"""FHIR R4 (4.0.1) conformance checker for tests.

Proves that what the adapter emits is valid FHIR R4 by the specification's own artefacts
(copied into ``tests/fixtures/fhir-r4/``, see ``ORIGIN.md`` there):

* ``json_schema_errors``  - the official R4 JSON schema (``fhir.schema.json``, draft-06);
* ``xsd_errors``          - the official R4 XML schema (``xsd/fhir-single.xsd``);
* ``invariant_results``   - the ``constraint[]`` invariants (FHIRPath) of the official
  StructureDefinitions, evaluated with ``fhirpathpy`` on every node they apply to;
* ``assert_conformant``   - all of the above, as one assertion.

Usage from a test::

    from tests.conformance import assert_conformant
    warnings = assert_conformant(resource_json, xml_bytes)

Everything expensive (schemas, StructureDefinitions, parsed FHIRPath expressions) is loaded
once per process and cached at module level.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = [
    "FIXTURE_DIR",
    "json_schema_errors",
    "xsd_errors",
    "invariant_results",
    "assert_conformant",
    "cardinality_errors",
    "html_problems",
    "UNEVALUABLE_REWRITES",
    "SUPPLEMENTARY_CONSTRAINTS",
    "JSON_SCHEMA_ERRATA",
]

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "fhir-r4"
_DEFINITIONS_DIR = FIXTURE_DIR / "definitions"
_JSON_SCHEMA = FIXTURE_DIR / "fhir.schema.json"
_XSD = FIXTURE_DIR / "xsd" / "fhir-single.xsd"

_MAX_MESSAGE = 400


def _clip(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _json_path(root: str, parts) -> str:
    out = root
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


# ---------------------------------------------------------------------------------------
# JSON schema
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _schema_definitions() -> tuple[dict, frozenset]:
    schema = json.loads(_JSON_SCHEMA.read_text(encoding="utf-8"))
    definitions = schema["definitions"]
    resource_types = frozenset(
        ref["$ref"].rsplit("/", 1)[-1] for ref in definitions["ResourceList"]["oneOf"]
    )
    # ResourceList is a oneOf over ~150 resource schemas: validating nested resources
    # (contained, Bundle.entry.resource, Parameters.parameter.resource, ...) through it is
    # slow and yields unreadable "is not valid under any of the given schemas" errors.  The
    # nested resources are instead validated one by one against their own definition (see
    # json_schema_errors), so here ResourceList only has to say "a known resource type".
    definitions["ResourceList"] = {
        "type": "object",
        "properties": {"resourceType": {"enum": sorted(resource_types)}},
        "required": ["resourceType"],
    }
    _apply_json_schema_errata(definitions)
    return definitions, resource_types


# Known defects of the published R4 fhir.schema.json, corrected in memory (the fixture file
# stays byte-identical to the official one).  Each is contradicted by the other official
# artefacts, so without the fix valid R4 would be rejected:
JSON_SCHEMA_ERRATA = (
    # 1. The FHIRVersion enum (CapabilityStatement.fhirVersion, StructureDefinition.fhirVersion,
    #    ImplementationGuide.fhirVersion) stops at "4.0.0": "4.0.1", R4's own version, is
    #    missing, although the FHIR-version CodeSystem and fhir-single.xsd (FHIRVersion-list)
    #    both contain it.  Even the R4 StructureDefinitions fail the schema without this fix.
    "FHIRVersion enum: add '4.0.1'",
    # 2. Elements of type canonical have no "_name" property for their id/extensions (every
    #    other primitive has it; FHIR JSON allows it for all primitives, and the XSD allows
    #    extensions on canonical).  Added as for the other primitives.
    "canonical elements: add the '_name' sibling (Element)",
    # 3. A repeating primitive whose n-th repetition has only an id/extension is written
    #    "name": [..., null, ...] with "_name": [..., {...}, ...] (FHIR JSON, json.html#primitive);
    #    the schema's items have no null.  Such nulls are accepted (see _is_null_with_extension);
    #    a null without its "_name" counterpart is still an error.
    "null in a repeating primitive with its '_name' counterpart: accepted",
)


def _apply_json_schema_errata(definitions: dict) -> None:
    for definition in definitions.values():
        props = definition.get("properties")
        if not isinstance(props, dict):
            continue
        for name, prop in list(props.items()):
            target = prop.get("items", prop)
            enum = target.get("enum")
            if isinstance(enum, list) and "4.0.0" in enum and "4.0.1" not in enum:
                target["enum"] = enum + ["4.0.1"]
            if name.startswith("_") or f"_{name}" in props:
                continue
            if prop.get("$ref") == "#/definitions/canonical":
                props[f"_{name}"] = {"$ref": "#/definitions/Element"}
            elif prop.get("items", {}).get("$ref") == "#/definitions/canonical":
                props[f"_{name}"] = {"type": "array", "items": {"$ref": "#/definitions/Element"}}


@functools.lru_cache(maxsize=None)
def _json_validator(resource_type: str):
    from jsonschema import Draft6Validator

    definitions, _ = _schema_definitions()
    schema = {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "definitions": definitions,
        "allOf": [{"$ref": f"#/definitions/{resource_type}"}],
    }
    return Draft6Validator(schema)


def _nested_resources(value: Any, parts: tuple) -> list[tuple[tuple, dict]]:
    """Dicts carrying ``resourceType`` below the top (contained, entry.resource, ...)."""
    found: list[tuple[tuple, dict]] = []
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_nested_resources_in(child, parts + (key,)))
    return found


def _nested_resources_in(value: Any, parts: tuple) -> list[tuple[tuple, dict]]:
    if isinstance(value, dict):
        if isinstance(value.get("resourceType"), str):
            return [(parts, value)]
        return _nested_resources(value, parts)
    if isinstance(value, list):
        found = []
        for i, item in enumerate(value):
            found.extend(_nested_resources_in(item, parts + (i,)))
        return found
    return []


def _is_null_with_extension(resource: dict, err) -> bool:
    """Erratum 3: ``"line": ["a", null], "_line": [null, {...}]`` is valid FHIR JSON."""
    path = list(err.absolute_path)
    if err.validator != "type" or err.instance is not None or len(path) < 2:
        return False
    index, name = path[-1], path[-2]
    if not isinstance(index, int) or not isinstance(name, str):
        return False
    parent: Any = resource
    for part in path[:-2]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return False
    ext = parent.get(f"_{name}") if isinstance(parent, dict) else None
    return isinstance(ext, list) and index < len(ext) and ext[index] is not None


def json_schema_errors(resource: dict) -> list[str]:
    """Errors of ``resource`` against the official R4 JSON schema (draft-06).

    Each error reads ``"<FHIR path>: <message>"``.  Nested resources are validated against
    their own resource definition, so their errors carry their full path.
    """
    _, resource_types = _schema_definitions()
    errors: list[str] = []

    def check(res: Any, where: str) -> None:
        if not isinstance(res, dict):
            errors.append(f"{where}: a resource must be a JSON object, got {type(res).__name__}")
            return
        rtype = res.get("resourceType")
        if rtype not in resource_types:
            errors.append(f"{where}: unknown or missing resourceType {rtype!r}")
            return
        validator = _json_validator(rtype)
        found = sorted(validator.iter_errors(res), key=lambda e: [str(p) for p in e.absolute_path])
        for err in found:
            if _is_null_with_extension(res, err):
                continue
            errors.append(f"{_json_path(where, err.absolute_path)}: {_clip(err.message)}")
        for sub_parts, sub in _nested_resources(res, ()):
            check(sub, _json_path(where, sub_parts))

    check(resource, resource.get("resourceType", "$") if isinstance(resource, dict) else "$")
    return errors


# ---------------------------------------------------------------------------------------
# XML schema
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _xml_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(_XSD), parser))


def xsd_errors(xml_bytes: bytes) -> list[str]:
    """Errors of an XML document against the official R4 ``fhir-single.xsd``."""
    if isinstance(xml_bytes, str):
        xml_bytes = xml_bytes.encode("utf-8")
    parser = etree.XMLParser(no_network=True, resolve_entities=False, huge_tree=True)
    try:
        doc = etree.fromstring(xml_bytes, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    schema = _xml_schema()
    if schema.validate(doc):
        return []
    return [f"line {e.line} {e.path}: {_clip(e.message)}" for e in schema.error_log]


# ---------------------------------------------------------------------------------------
# StructureDefinitions
# ---------------------------------------------------------------------------------------

_SYSTEM_TYPE_PREFIX = "http://hl7.org/fhirpath/System."


class _Constraint:
    __slots__ = ("key", "severity", "human", "expression", "note")

    def __init__(self, key: str, severity: str, human: str, expression: str, note: str = ""):
        self.key = key
        self.severity = severity
        self.human = human
        self.expression = expression
        self.note = note


class _Element:
    __slots__ = ("path", "name", "types", "content_reference", "constraints", "min", "max")

    def __init__(self, ed: dict, constraints: tuple[_Constraint, ...]):
        self.path: str = ed["path"]
        self.name: str = self.path.rsplit(".", 1)[-1]
        self.types: tuple[str, ...] = tuple(t["code"] for t in ed.get("type", []))
        self.content_reference: str | None = ed.get("contentReference")
        self.constraints = constraints
        self.min: int = int(ed.get("min", 0))
        self.max: int | None = None if ed.get("max", "*") == "*" else int(ed["max"])


class _Definition:
    def __init__(self, sd: dict):
        self.type: str = sd["type"]
        self.kind: str = sd["kind"]
        self.elements: dict[str, _Element] = {}
        self.children: dict[str, list[_Element]] = {}
        for ed in sd["snapshot"]["element"]:
            if ":" in ed["id"]:  # slices: none in the core definitions, ignore if any
                continue
            constraints = []
            for c in ed.get("constraint", []):
                expression = c.get("expression")
                if not expression:
                    continue
                key = c["key"]
                rewrite = UNEVALUABLE_REWRITES.get((key, expression))
                note = ""
                if rewrite is not None:
                    expression, note = rewrite
                constraints.append(
                    _Constraint(key, c.get("severity", "error"), c.get("human", ""), expression, note)
                )
            for key, severity, human, expression, note in SUPPLEMENTARY_CONSTRAINTS.get(ed["path"], ()):
                constraints.append(_Constraint(key, severity, human, expression, note))
            element = _Element(ed, tuple(constraints))
            self.elements[element.path] = element
            parent = element.path.rsplit(".", 1)[0] if "." in element.path else None
            if parent is not None:
                self.children.setdefault(parent, []).append(element)
        self.root = self.elements[self.type]


@functools.lru_cache(maxsize=None)
def _definitions() -> dict[str, _Definition]:
    defs = {}
    for path in sorted(_DEFINITIONS_DIR.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        if sd.get("resourceType") == "StructureDefinition" and sd.get("snapshot"):
            defs[sd["type"]] = _Definition(sd)
    return defs


# Official R4 invariants that fhirpathpy 2.2.4 cannot evaluate as written, keyed by
# (key, official expression) -> (equivalent expression, why).  Only exact official
# expressions are rewritten: if the fixtures change, the rewrite silently stops applying and
# the original is evaluated (and reported "could not evaluate" again if it still fails).
UNEVALUABLE_REWRITES: dict[tuple[str, str], tuple[str, str]] = {
    # que-7: `answer is Boolean` names the FHIRPath System type; fhirpathpy types the
    # choice value `answerBoolean` as the FHIR primitive `boolean` and does not relate the
    # two, so a valid enableWhen{operator:'exists', answerBoolean:true} failed.  The FHIR
    # type is what the invariant means (the FHIR validator matches primitives this way).
    (
        "que-7",
        "operator = 'exists' implies (answer is Boolean)",
    ): (
        "operator = 'exists' implies (answer is boolean)",
        "rewritten: `is Boolean` -> `is boolean` (fhirpathpy does not map System.Boolean to FHIR boolean)",
    ),
    # dom-3: `%resource.descendants().as(canonical)` applies the `as()` function to a whole
    # collection; fhirpathpy raises "Expected singleton on left side of 'as'" (strict
    # FHIRPath), whereas the FHIR validator filters like ofType().  ofType() is the intended,
    # equivalent meaning (R4B and R5 publish dom-3 with ofType() for the same test).
    (
        "dom-3",
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
        "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
    ): (
        "contained.where((('#'+id in (%resource.descendants().reference | "
        "%resource.descendants().ofType(canonical) | %resource.descendants().ofType(uri) | "
        "%resource.descendants().ofType(url))) or descendants().where(reference = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists() or "
        "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()",
        "rewritten: collection-level `.as(T)` -> `.ofType(T)` (fhirpathpy requires a singleton for as())",
    ),
    # rng-2: `low <= high` compares two Quantities; fhirpathpy 2.2.4 has no Quantity ordering
    # (FP_Quantity.compare is not implemented: TypeError on any Range with both bounds).
    # Rewritten to compare the values when both bounds have the same unit (same code and
    # system, or no code/system and the same unit text), which is the FHIRPath meaning for
    # equal units.  Bounds in different units (e.g. kg vs g) give an empty result, i.e. are
    # not judged (no UCUM conversion available), rather than a false "could not evaluate".
    (
        "rng-2",
        "low.empty() or high.empty() or (low <= high)",
    ): (
        "low.empty() or high.empty() or low.value.empty() or high.value.empty() or "
        "iif((low.code.empty() and high.code.empty() and low.system.empty() and "
        "high.system.empty() and ((low.unit.empty() and high.unit.empty()) or "
        "low.unit = high.unit)) or (low.code = high.code and ((low.system.empty() and "
        "high.system.empty()) or low.system = high.system)), low.value <= high.value, {})",
        "rewritten: Quantity `low <= high` -> value comparison for bounds in the same unit "
        "(fhirpathpy cannot order Quantities)",
    ),
}

# Rules that the R4 specification states in prose (element definitions) and that R5 turned
# into invariants.  They are checked like invariants, under the R5 key, keyed by element path.
SUPPLEMENTARY_CONSTRAINTS: dict[str, list[tuple[str, str, str, str, str]]] = {
    "Bundle": [
        (
            "bdl-15",
            "error",
            "Bundle resources where type is not transaction, transaction-response, batch, or "
            "batch-response or when the request is a POST SHALL have Bundle.entry.fullUrl "
            "populated (R4: definition of Bundle.entry.fullUrl; invariant bdl-15 in R5)",
            "type='transaction' or type='transaction-response' or type='batch' or "
            "type='batch-response' or entry.all(fullUrl.exists() or request.method='POST')",
            "R4 prose rule, checked with the R5 invariant bdl-15",
        )
    ],
}


# ---------------------------------------------------------------------------------------
# FHIRPath evaluation (fhirpathpy) with the FHIR-specific functions it lacks
# ---------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _fhirpath():
    """fhirpathpy pieces, imported once: (parse, do_eval, ResourceNode, reset, r4 model, util)."""
    from fhirpathpy.engine import do_eval, util
    from fhirpathpy.engine.invocations import navigation
    from fhirpathpy.engine.invocations.constants import constants
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models
    from fhirpathpy.parser import parse

    return parse, do_eval, ResourceNode, constants.reset, models["r4"], util, navigation


_PARSED: dict[str, Any] = {}


def _parsed(expression: str):
    """Parse once per expression; a parse failure is cached as the exception."""
    try:
        return _PARSED[expression]
    except KeyError:
        parse = _fhirpath()[0]
        try:
            tree = parse(expression)
        except Exception as exc:  # noqa: BLE001 - reported as "could not evaluate"
            tree = exc
        _PARSED[expression] = tree
        return tree


def _data(node):
    ResourceNode = _fhirpath()[2]
    return node.data if isinstance(node, ResourceNode) else node


def _is_primitive_value(value) -> bool:
    if isinstance(value, (dict, list)) or value is None:
        return False
    return isinstance(value, (str, bool, int, float, Decimal)) or hasattr(value, "compare")


def _fp_has_value(ctx, coll):
    """FHIR ``hasValue()``: the input is a single primitive and it has a value.

    fhirpathpy represents one JSON primitive with a ``_x`` sibling as two nodes (the value
    and the extension object, same propName); those count as one primitive here.
    """
    values = [n for n in coll if _is_primitive_value(_data(n))]
    if len(values) != 1:
        return [False]
    prop = getattr(values[0], "propName", None)
    for other in coll:
        if other is values[0]:
            continue
        if not (isinstance(_data(other), dict) and prop is not None and getattr(other, "propName", None) == prop):
            return [False]
    return [True]


def _fp_children(ctx, coll):
    """``children()`` that also sees primitives present only as ``_x`` (extension, no value).

    fhirpathpy's children() skips every ``_x`` property, so an element whose only content is
    e.g. ``_start: {extension: [...]}`` looked empty to ele-1; it also returned JSON nulls of
    primitive arrays as children.
    """
    parse, do_eval, ResourceNode, reset, model, util, navigation = _fhirpath()
    out = [n for n in navigation.children(ctx, coll) if _data(n) is not None]
    for item in coll:
        data = _data(item)
        if not isinstance(data, dict):
            continue
        parent_path = getattr(item, "path", None) if isinstance(item, ResourceNode) else None
        for key, value in data.items():
            if not key.startswith("_") or value is None:
                continue
            name = key[1:]
            base = data.get(name)
            path = model["path2Type"].get(f"{parent_path}.{name}") if parent_path else None
            if isinstance(value, list):
                for i, ext in enumerate(value):
                    has_base = isinstance(base, list) and i < len(base) and base[i] is not None
                    if ext is not None and not has_base:
                        out.append(ResourceNode.create_node(ext, path, propName=f"{name}[{i}]", index=i))
            elif base is None:
                out.append(ResourceNode.create_node(value, path, propName=name))
    return out


# --- htmlChecks(): R4 narrative rules (narrative.html#xhtml, invariants txt-1 / txt-2) ---

_XHTML_NS = "http://www.w3.org/1999/xhtml"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
# "the basic html formatting elements ... described in chapters 7-11 (except section 4 of
# chapter 9) and 15 of the HTML 4.0 standard, <a> elements (either name or href), images and
# internally contained style attributes" - as enumerated by the FHIR reference validator.
_HTML_ELEMENTS = frozenset(
    """p br div h1 h2 h3 h4 h5 h6 a span b em i strong small big tt dfn q var abbr acronym
    cite blockquote hr address bdo kbd sub sup ul ol li dl dt dd pre table caption colgroup
    col thead tr tfoot tbody th td code samp img map area""".split()
)
_HTML_ATTRIBUTES = frozenset(
    """title style class id lang xml:lang dir accesskey tabindex span width align valign char
    charoff abbr axis headers scope rowspan colspan""".split()
)
_HTML_ELEMENT_ATTRIBUTES = frozenset(
    """a.href a.name a.charset a.type a.hreflang a.rel a.rev a.shape a.coords img.src
    img.border img.alt img.longdesc img.height img.width img.usemap img.ismap map.name
    area.shape area.coords area.href area.nohref area.alt blockquote.cite q.cite
    table.summary table.width table.border table.frame table.rules table.cellspacing
    table.cellpadding pre.space td.nowrap div.xmlns""".split()
)
_HTML_BLOCKS = frozenset("div blockquote table ol ul p".split())


def html_problems(div: str) -> tuple[list[str], list[str]]:
    """Problems of a narrative ``div`` under R4's rules: (txt-1 problems, txt-2 problems).

    txt-1: only the allowed XHTML elements and attributes (no script, no on* event handlers,
    no head/body/form/..., no javascript: URLs), root ``<div>`` in the XHTML namespace.
    txt-2: some non-whitespace content (text or an image).
    """
    structure: list[str] = []
    content: list[str] = []
    if not isinstance(div, str):
        return [f"div is not a string ({type(div).__name__})"], []
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        root = etree.fromstring(div.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        return [f"div is not well-formed XHTML: {exc}"], []
    if root.tag != f"{{{_XHTML_NS}}}div":
        structure.append(f"root element must be <div> in the XHTML namespace, found {root.tag}")
    has_content = bool((root.text or "").strip())

    def walk(el, in_para: bool) -> None:
        nonlocal has_content
        for child in el:
            if child.tail and child.tail.strip():
                has_content = True
            if not isinstance(child.tag, str):
                if isinstance(child, etree._ProcessingInstruction):
                    structure.append(f"processing instruction <?{child.target}?> not allowed")
                continue  # comments are allowed
            qname = etree.QName(child)
            name = qname.localname
            if qname.namespace != _XHTML_NS:
                structure.append(f"element {child.tag} is not in the XHTML namespace")
            if name not in _HTML_ELEMENTS:
                structure.append(f"element <{name}> is not allowed in a narrative")
            if in_para and name in _HTML_BLOCKS:
                structure.append(f"block element <{name}> inside a paragraph")
            check_attributes(child, name)
            if name == "img":
                has_content = True
            if child.text and child.text.strip():
                has_content = True
            walk(child, in_para or name == "p")

    def check_attributes(el, name: str) -> None:
        for attr, value in el.attrib.items():
            aq = etree.QName(attr)
            aname = f"xml:{aq.localname}" if aq.namespace == _XML_NS else aq.localname
            if aq.namespace not in (None, _XML_NS):
                structure.append(f"attribute {attr} on <{name}> is not allowed")
            elif aname.lower().startswith("on"):
                structure.append(f"event attribute {aname} on <{name}> is not allowed")
            elif aname not in _HTML_ATTRIBUTES and f"{name}.{aname}" not in _HTML_ELEMENT_ATTRIBUTES:
                structure.append(f"attribute {aname} on <{name}> is not allowed")
            if aname in ("href", "src", "longdesc", "cite") and value.strip().lower().startswith(
                ("javascript:", "vbscript:")
            ):
                structure.append(f"script URL in {aname} on <{name}> is not allowed")

    check_attributes(root, etree.QName(root).localname if isinstance(root.tag, str) else "?")
    walk(root, False)
    if not has_content:
        content.append("the narrative has no non-whitespace content")
    return structure, content


def _fp_html_checks(ctx, coll):
    if len(coll) != 1:
        ctx["_problems"].append(f"htmlChecks() needs one xhtml value, got {len(coll)}")
        return [False]
    structure, content = html_problems(_data(coll[0]))
    key = ctx.get("_constraint_key")
    # txt-1 and txt-2 share the expression htmlChecks(); report each its own part.
    problems = structure if key == "txt-1" else content if key == "txt-2" else structure + content
    ctx["_problems"].extend(problems)
    return [not problems]


def _fp_trace(label, value):  # trace() must not print
    return None


_USER_FUNCTIONS = {
    "hasValue": {"fn": _fp_has_value},
    "htmlChecks": {"fn": _fp_html_checks},
    "children": {"fn": _fp_children},
}


class _EvaluationError(Exception):
    pass


def _evaluate(constraint: _Constraint, node, env: dict) -> tuple[list, list[str]]:
    """Evaluate one constraint with ``node`` as context; returns (result, problems)."""
    parse, do_eval, ResourceNode, reset, model, util, navigation = _fhirpath()
    tree = _parsed(constraint.expression)
    if isinstance(tree, Exception):
        raise _EvaluationError(f"parse error: {tree}")
    reset()
    data_root = [node]
    ctx = {
        "dataRoot": data_root,
        "$this": data_root,
        "vars": {"context": node, "ucum": "http://unitsofmeasure.org", **env},
        "model": model,
        "userInvocationTable": _USER_FUNCTIONS,
        "traceFn": _fp_trace,
        "_constraint_key": constraint.key,
        "_problems": [],
    }
    try:
        result = do_eval(ctx, data_root, tree["children"][0])
    except Exception as exc:  # noqa: BLE001 - reported as "could not evaluate"
        raise _EvaluationError(f"{type(exc).__name__}: {exc}") from exc
    return util.arraify(result), ctx["_problems"]


# ---------------------------------------------------------------------------------------
# The evaluation view of a resource: one node per JSON primitive
# ---------------------------------------------------------------------------------------
#
# FHIR JSON splits a primitive carrying an id/extension into "name" (the value) and "_name"
# (the id/extension).  fhirpathpy navigates the two as two nodes, so `name.matches(...)`,
# `start <= end`, `linkId.isDistinct()`... break or mislead as soon as `_name` is present.
# Invariants are therefore evaluated on a view where such a value carries its `_name` object
# as an attribute (a str/int/float subclass) and `_name` is gone; booleans (no subclass
# possible) and `_name` without a value keep the JSON form.  The walk reads the extension back
# from the attribute, so ele-1/ext-1 on primitives' extensions are still evaluated.


class _FhirStr(str):
    fhir_ext: dict


class _FhirInt(int):
    fhir_ext: dict


class _FhirFloat(float):
    fhir_ext: dict


_WITH_EXT = {str: _FhirStr, int: _FhirInt, float: _FhirFloat}


def _attach(value, ext):
    cls = _WITH_EXT.get(type(value))
    if cls is None or not isinstance(ext, dict):
        return None
    out = cls(value)
    out.fhir_ext = ext
    return out


def _view(obj):
    if isinstance(obj, list):
        return [_view(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    for key, value in obj.items():
        if key.startswith("_"):
            if obj.get(key[1:]) is None:
                out[key] = _view(value)  # extension without value: stays as JSON
            continue
        ext = obj.get(f"_{key}")
        if ext is None:
            out[key] = _view(value)
        elif isinstance(value, list) and isinstance(ext, list):
            values, rest = [], []
            for i, item in enumerate(value):
                e = ext[i] if i < len(ext) else None
                attached = _attach(item, e) if item is not None and e is not None else None
                values.append(attached if attached is not None else _view(item))
                rest.append(None if attached is not None or e is None else _view(e))
            rest.extend(_view(e) for e in ext[len(value):])
            out[key] = values
            if any(r is not None for r in rest):
                out[f"_{key}"] = rest
        else:
            attached = _attach(value, ext)
            if attached is not None:
                out[key] = attached
            else:
                out[key] = _view(value)
                out[f"_{key}"] = _view(ext)
    return out


# ---------------------------------------------------------------------------------------
# Walking a resource with the element types of the snapshots
# ---------------------------------------------------------------------------------------


class _Results:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.cardinality: list[str] = []
        self._seen: set[str] = set()

    def warn_once(self, message: str) -> None:
        if message not in self._seen:
            self._seen.add(message)
            self.warnings.append(message)


def _merge(*groups: tuple[_Constraint, ...]) -> list[_Constraint]:
    seen = set()
    merged = []
    for group in groups:
        for c in group:
            ident = (c.key, c.expression)
            if ident not in seen:
                seen.add(ident)
                merged.append(c)
    return merged


def _check(constraints, node, env: dict, loc: str, out: _Results) -> None:
    for c in constraints:
        try:
            result, problems = _evaluate(c, node, env)
        except _EvaluationError as exc:
            out.warnings.append(
                f"{c.key}: could not evaluate `{c.expression}` ({_clip(str(exc), 200)}) @ {loc}"
            )
            continue
        values = [_data(v) for v in result]
        text = c.human + (f" [{'; '.join(problems)}]" if problems else "")
        if c.note:
            text += f" ({c.note})"
        if values == [True]:
            continue
        if not values:
            # An empty result is FHIRPath's "unknown" (e.g. bdl-8 `fullUrl.contains(...)`
            # on an entry without fullUrl, or comparing dates of different precision):
            # the data does not violate the rule.  A rewritten expression returns empty only
            # where the rewrite cannot judge (rng-2 bounds in different units): say so.
            if c.note:
                out.warnings.append(f"{c.key}: could not be determined - {text} @ {loc}")
            continue
        if values == [False]:
            message = f"{c.key}: {text} @ {loc}"
            (out.errors if c.severity == "error" else out.warnings).append(message)
        else:
            out.warnings.append(
                f"{c.key}: could not evaluate - non-boolean result {_clip(repr(values), 120)} "
                f"- {text} @ {loc}"
            )


def _check_resource(resource: Any, root: dict, loc: str, out: _Results) -> None:
    if not isinstance(resource, dict):
        return
    rtype = resource.get("resourceType")
    definition = _definitions().get(rtype)
    if definition is None or definition.kind != "resource":
        out.warn_once(
            f"no-definition: no R4 StructureDefinition for resource type {rtype!r} in the "
            f"fixtures; its invariants were not evaluated @ {loc}"
        )
        return
    ResourceNode = _fhirpath()[2]
    env = {"resource": resource, "rootResource": root}
    _check(definition.root.constraints, ResourceNode.create_node(resource, rtype), env, loc, out)
    _walk_children(definition, definition.type, resource, env, loc, out)


def _walk_children(definition: _Definition, path: str, data: dict, env: dict, loc: str, out: _Results) -> None:
    if not isinstance(data, dict):
        return
    for element in definition.children.get(path, ()):
        name = element.name
        count = 0
        if name.endswith("[x]"):
            base = name[:-3]
            for type_code in element.types:
                key = base + type_code[0].upper() + type_code[1:]
                if key in data or f"_{key}" in data:
                    count += _visit(definition, element, type_code, data.get(key), data.get(f"_{key}"), env, f"{loc}.{key}", out)
        elif name in data or f"_{name}" in data:
            type_code = element.types[0] if element.types else None
            count += _visit(definition, element, type_code, data.get(name), data.get(f"_{name}"), env, f"{loc}.{name}", out)
        if count < element.min:
            out.cardinality.append(
                f"cardinality: {element.path} is required (min {element.min}), found {count} @ {loc}"
            )
        elif element.max is not None and count > element.max:
            out.cardinality.append(
                f"cardinality: {element.path} allows at most {element.max}, found {count} @ {loc}"
            )


def _visit(definition, element, type_code, value, ext, env, loc, out) -> int:
    """Visit the occurrence(s) of one element; returns how many occurrences there are."""
    if isinstance(value, list) or isinstance(ext, list):
        values = value if isinstance(value, list) else []
        exts = ext if isinstance(ext, list) else []
        count = 0
        for i in range(max(len(values), len(exts))):
            v = values[i] if i < len(values) else None
            e = exts[i] if i < len(exts) else None
            if v is not None or e is not None:
                count += 1
                _visit_one(definition, element, type_code, v, e, env, f"{loc}[{i}]", out)
        return count
    if value is None and ext is None:
        return 0
    _visit_one(definition, element, type_code, value, ext, env, loc, out)
    return 1


def _visit_one(definition, element, type_code, value, ext, env, loc, out) -> None:
    ResourceNode = _fhirpath()[2]
    defs = _definitions()

    # contentReference (e.g. Questionnaire.item.item -> #Questionnaire.item): same definition
    if element.content_reference:
        target = definition.elements.get(element.content_reference.lstrip("#"))
        if target is None:
            out.warn_once(f"unresolved contentReference {element.content_reference} @ {loc}")
            return
        if isinstance(value, dict):
            node = ResourceNode.create_node(value, target.path)
            _check(_merge(element.constraints, target.constraints), node, env, loc, out)
            _walk_children(definition, target.path, value, env, loc, out)
        return

    # a resource inside a resource
    if type_code == "Resource" or (type_code in defs and defs[type_code].kind == "resource"):
        if not isinstance(value, dict):
            return
        if element.path.endswith(".contained"):
            # %resource is the contained resource, %rootResource the container
            _check_resource(value, env["rootResource"], loc, out)
        else:
            # Bundle.entry.resource, Parameters.parameter.resource, ...: a resource of its own
            _check_resource(value, value, loc, out)
        return

    # backbone element: children defined inline in this definition
    if element.path in definition.children:
        if isinstance(value, dict):
            node = ResourceNode.create_node(value, element.path)
            _check(element.constraints, node, env, loc, out)
            _walk_children(definition, element.path, value, env, loc, out)
        return

    if type_code is None or type_code.startswith(_SYSTEM_TYPE_PREFIX):
        return  # Element.id, Extension.url, primitive .value: no constraints

    type_def = defs.get(type_code)
    if type_def is None:
        out.warn_once(
            f"no-definition: no R4 StructureDefinition for data type {type_code!r}; only the "
            f"element's own invariants were evaluated @ {loc}"
        )
        if value is not None:
            _check(element.constraints, ResourceNode.create_node(value, type_code), env, loc, out)
        return

    if type_def.kind == "primitive-type":
        # A JSON primitive: the value and/or its "_name": {id, extension} object
        if ext is None:
            ext = getattr(value, "fhir_ext", None)
        node_data = value if value is not None else ext
        node = ResourceNode.create_node(node_data, type_code, propName=loc)
        _check(_merge(element.constraints, type_def.root.constraints), node, env, loc, out)
        if isinstance(ext, dict):
            _walk_children(type_def, type_code, ext, env, loc, out)
        return

    # complex data type
    if isinstance(value, dict):
        node = ResourceNode.create_node(value, type_code)
        _check(_merge(element.constraints, type_def.root.constraints), node, env, loc, out)
        _walk_children(type_def, type_code, value, env, loc, out)


def _analyse(resource: dict) -> _Results:
    out = _Results()
    if not isinstance(resource, dict):
        out.errors.append(f"resource is not a JSON object ({type(resource).__name__})")
        return out
    view = _view(resource)
    _check_resource(view, view, str(resource.get("resourceType", "?")), out)
    return out


def invariant_results(resource: dict) -> tuple[list[str], list[str]]:
    """Evaluate the invariants of the official R4 StructureDefinitions on ``resource``.

    Every constraint of the resource's definition is evaluated on each node of the element
    it is declared on, and every constraint of each data type (Reference, Period, Extension,
    Element's ele-1, Narrative...) on each occurrence of that type, found by walking the
    resource with the element types of the snapshots (choice ``[x]`` elements,
    contentReference, contained resources and Bundle/Parameters resources against their own
    definition).

    Returns ``(errors, warnings)``; each entry reads ``"key: human text @ location"``.
    Errors are failed ``error``-severity invariants.  Warnings are failed ``warning``
    invariants, invariants that could not be evaluated (``could not evaluate``), and
    resource types without a definition in the fixtures (``no-definition``).
    """
    out = _analyse(resource)
    return out.errors, out.warnings


def cardinality_errors(resource: dict) -> list[str]:
    """Elements missing against the snapshots' ``min`` (or beyond a numeric ``max``).

    The R4 JSON schema does not require primitive elements (they may be given as ``_x``
    only), so e.g. a Questionnaire without ``status`` passes it; this check catches that.
    """
    return _analyse(resource).cardinality


def assert_conformant(resource: dict, xml_bytes: bytes | None = None) -> list[str]:
    """Assert that ``resource`` (and its XML form, if given) is valid FHIR R4.

    Fails on any JSON-schema error, any XSD error (when ``xml_bytes`` is given), any failed
    ``error``-severity invariant and any missing required element (snapshot ``min``); the
    assertion message lists every problem.  Returns the warnings (callers may print them).
    """
    problems = [f"[json-schema] {e}" for e in json_schema_errors(resource)]
    if xml_bytes is not None:
        problems += [f"[xsd] {e}" for e in xsd_errors(xml_bytes)]
    out = _analyse(resource)
    problems += [f"[invariant] {e}" for e in out.errors]
    problems += [f"[cardinality] {e}" for e in out.cardinality]
    if problems:
        what = resource.get("resourceType", "?") if isinstance(resource, dict) else "?"
        rid = resource.get("id") if isinstance(resource, dict) else None
        header = f"{what}{'/' + rid if rid else ''} is not conformant FHIR R4 ({len(problems)} problem(s)):"
        raise AssertionError("\n  ".join([header, *problems]))
    return out.warnings
