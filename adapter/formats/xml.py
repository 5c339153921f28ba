"""FHIR R4 XML <-> FHIR JSON (as dicts), following the specification's XML and JSON pages.

XML carries no types and JSON carries no order, so both directions lean on the element table
`r4-elements.json` (built by `generate_elements.py` from the official R4 definitions): which
children a type has, in XSD order, their types, whether they repeat and which are attributes.
"""
from __future__ import annotations

import decimal
import json
import math
import re
import threading
from functools import cache
from pathlib import Path

from lxml import etree

from adapter.outcomes import OperationOutcomeError, error

__all__ = ["parse_xml", "to_xml"]

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"
_F = "{%s}" % FHIR_NS
_FLEN = len(_F)
_DIV = "{%s}div" % XHTML_NS
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_TABLE = Path(__file__).with_name("r4-elements.json")

_PRIMITIVE_KINDS = frozenset(("boolean", "integer", "decimal", "string"))
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ATTR, _LIST = 2, 1

_local = threading.local()


def _fail(message: str):
    return error(400, "structure", message)


def _parser() -> etree.XMLParser:
    # An lxml parser serialises its users behind a lock; one per thread avoids the contention.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, remove_comments=True, remove_pis=True)
    return parser


@cache
def _tables() -> tuple[dict[str, dict[str, tuple]], frozenset[str]]:
    """type -> {JSON key or XML name: (order, name, type, card, kind)}, and the resource types.

    kind is the JSON form of a primitive (boolean, integer, decimal, string), or xhtml,
    resource or complex. A primitive's `_name` key maps to the same row as `name`.
    """
    raw = json.loads(_TABLE.read_text(encoding="utf-8"))
    primitives = raw["primitives"]
    types: dict[str, dict[str, tuple]] = {}
    for type_name, rows in raw["types"].items():
        keys: dict[str, tuple] = {}
        for order, (name, tp, card) in enumerate(rows):
            kind = primitives.get(tp) or ("resource" if tp == "Resource" else "complex")
            row = (order, name, tp, card, kind)
            keys[name] = row
            if kind in _PRIMITIVE_KINDS and card != _ATTR:
                keys["_" + name] = row
        types[type_name] = keys
    return types, frozenset(raw["resources"])


# ---------------------------------------------------------------- XML -> JSON

def _parse_document(data: bytes) -> etree._Element:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise _fail("DOCTYPE is not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _fail(f"Malformed XML: {exc.msg or exc}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise _fail(f"Unreadable XML: {exc}") from None
    # The byte check misses other encodings (UTF-16); the parsed document does not.
    if root.getroottree().docinfo.doctype:
        raise _fail("DOCTYPE is not allowed")
    return root


def parse_xml(data: bytes) -> dict:
    """A FHIR XML resource -> its FHIR JSON form, as `json.loads` would give it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _parse_document(bytes(data))
    if not isinstance(root.tag, str) or not root.tag.startswith(_F):
        raise _fail(f"The root element {root.tag} is not in the FHIR namespace {FHIR_NS}")
    for attr in root.attrib:
        if not attr.startswith(_XSI):  # xsi:schemaLocation is customary on a root
            raise _fail(f"Unknown attribute '{attr}' on the root element")
    types, resources = _tables()
    return _read_resource(root, types, resources, "")


def _no_text(text: str | None, path: str) -> None:
    if text and not text.isspace():
        raise _fail(f"Unexpected text content in {path}")


def _read_resource(el, types, resources, path: str) -> dict:
    tag = el.tag
    name = tag[_FLEN:] if tag.startswith(_F) else tag
    if name not in resources:
        raise _fail(f"Unknown resource type '{name}' at {path or 'the root'}")
    out = {"resourceType": name}
    _read_children(el, name, out, types, resources, name)
    return out


def _read_complex(el, type_name: str, types, resources, path: str) -> dict:
    spec = types[type_name]
    out: dict = {}
    for attr, value in el.attrib.items():
        row = spec.get(attr)
        if row is None or row[3] != _ATTR:
            raise _fail(f"Unknown attribute '{attr}' on {path}")
        if not value:
            raise _fail(f"Empty attribute '{attr}' on {path}")
        out[attr] = value
    _read_children(el, type_name, out, types, resources, path)
    return out


def _read_children(el, type_name: str, out: dict, types, resources, path: str) -> None:
    spec = types[type_name]
    _no_text(el.text, path)
    repeats: dict[str, list] = {}
    for child in el:
        tag = child.tag
        _no_text(child.tail, path)
        if tag.startswith(_F):
            name = tag[_FLEN:]
            row = spec.get(name)
        elif tag == _DIV:
            name, row = "div", spec.get("div")
            if row is not None and row[4] == "xhtml":
                if "div" in out:
                    raise _fail(f"{path}.div occurs more than once")
                out["div"] = _div_to_string(child)
                continue
        else:
            raise _fail(f"Element {tag} in {path} is not in the FHIR namespace")
        child_path = f"{path}.{name}"
        if row is None or row[3] == _ATTR or row[4] == "xhtml" or row[1] != name:
            raise _fail(f"Unknown element '{child_path}'")
        _, _, tp, card, kind = row
        if kind in _PRIMITIVE_KINDS:
            value = _read_primitive(child, kind, types, resources, child_path)
        elif kind == "complex":
            value = _read_complex(child, tp, types, resources, child_path)
        else:
            value = _read_container(child, types, resources, child_path)
        if card == _LIST:
            repeats.setdefault(name, []).append(value)
        elif name in out or "_" + name in out:
            raise _fail(f"{child_path} occurs more than once")
        elif kind in _PRIMITIVE_KINDS:
            if value[0] is not None:
                out[name] = value[0]
            if value[1] is not None:
                out["_" + name] = value[1]
        else:
            out[name] = value
    for name, items in repeats.items():
        if spec[name][4] not in _PRIMITIVE_KINDS:
            out[name] = items
            continue
        # Repeating primitives become parallel arrays, with null where one side is absent.
        values = [v for v, _ in items]
        extras = [x for _, x in items]
        if any(v is not None for v in values):
            out[name] = values
        if any(x is not None for x in extras):
            out["_" + name] = extras


def _read_primitive(el, kind: str, types, resources, path: str) -> tuple:
    value = extra = None
    for attr, text in el.attrib.items():
        if attr == "value":
            value = _typed(text, kind, path)
        elif attr == "id" and text:
            extra = {"id": text}
        else:
            raise _fail(f"Unknown or empty attribute '{attr}' on {path}")
    _no_text(el.text, path)
    extensions = []
    for child in el:
        _no_text(child.tail, path)
        if child.tag != _F + "extension":
            raise _fail(f"Unknown element '{path}.{etree.QName(child).localname}'")
        extensions.append(_read_complex(child, "Extension", types, resources, path + ".extension"))
    if extensions:
        extra = extra or {}
        extra["extension"] = extensions
    if value is None and extra is None:
        raise _fail(f"{path} has neither a value nor extensions")
    return value, extra


def _typed(text: str, kind: str, path: str):
    if kind == "string":
        if not text:
            raise _fail(f"Empty value on {path}")
        return text
    if kind == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
    elif kind == "integer":
        if _INTEGER.fullmatch(text):
            return int(text)
    elif _DECIMAL.fullmatch(text):
        # As json.loads reads the same lexical form: no fraction or exponent -> int.
        if "." not in text and "e" not in text and "E" not in text:
            return int(text)
        number = float(text)
        if math.isfinite(number):
            return number
    raise _fail(f"Invalid {kind} value '{text}' on {path}")


def _read_container(el, types, resources, path: str) -> dict:
    if el.attrib:
        raise _fail(f"Unexpected attributes on {path}")
    _no_text(el.text, path)
    children = list(el)
    if len(children) != 1:
        raise _fail(f"{path} must hold exactly one resource")
    _no_text(children[0].tail, path)
    return _read_resource(children[0], types, resources, path)


def _div_to_string(div) -> str:
    # Copying into a fresh tree drops namespace declarations inherited from the FHIR
    # document and un-prefixes h:div, giving the JSON form <div xmlns="...xhtml">.
    copy = etree.Element(_DIV, dict(div.attrib), nsmap={None: XHTML_NS})
    copy.text = div.text
    for child in div:
        _copy_xhtml(child, copy)
    return etree.tostring(copy, encoding="unicode")


def _copy_xhtml(src, parent) -> None:
    el = etree.SubElement(parent, src.tag, dict(src.attrib))
    el.text, el.tail = src.text, src.tail
    for child in src:
        _copy_xhtml(child, el)


# ---------------------------------------------------------------- JSON -> XML

def to_xml(resource: dict, pretty: bool = False) -> bytes:
    """A FHIR JSON resource (dict) -> FHIR XML bytes (UTF-8, with an XML declaration)."""
    if not isinstance(resource, dict):
        raise _fail("A resource must be a JSON object")
    types, resources = _tables()
    try:
        root = _write_resource(None, resource, types, resources, "")
        if pretty:
            _indent(root, "\n")
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    except ValueError as exc:  # lxml refuses control characters and the like
        raise _fail(f"Cannot write as XML: {exc}") from None


def _write_resource(parent, obj, types, resources, path: str):
    if not isinstance(obj, dict):
        raise _fail(f"{path} must be a resource object")
    rt = obj.get("resourceType")
    if not isinstance(rt, str) or rt not in resources:
        raise _fail(f"Unknown resource type '{rt}' at {path or 'the root'}")
    if parent is None:
        el = etree.Element(_F + rt, nsmap={None: FHIR_NS})
    else:
        el = etree.SubElement(parent, _F + rt)
    _write_children(el, obj, rt, types, resources, rt)
    return el


def _write_children(el, obj: dict, type_name: str, types, resources, path: str) -> None:
    spec = types[type_name]
    present = {}
    for key in obj:
        row = spec.get(key)
        if row is None:
            if key == "resourceType" and type_name in resources:
                continue
            raise _fail(f"Unknown element '{path}.{key}'")
        present[row[0]] = row
    for order in sorted(present):
        _, name, tp, card, kind = present[order]
        child_path = f"{path}.{name}"
        if card == _ATTR:
            value = obj[name]
            if not isinstance(value, str) or not value:
                raise _fail(f"{child_path} must be a non-empty string")
            el.set(name, value)
        elif kind in _PRIMITIVE_KINDS:
            value, extra = obj.get(name), obj.get("_" + name)
            if card == _LIST:
                _write_primitive_list(el, name, value, extra, kind, types, resources, child_path)
            else:
                _write_primitive(el, name, value, extra, kind, types, resources, child_path)
        else:
            value = obj[name]
            items = _as_list(value, child_path) if card == _LIST else (value,)
            for item in items:
                if kind == "complex":
                    _write_complex(el, name, item, tp, types, resources, child_path)
                elif kind == "resource":
                    container = etree.SubElement(el, _F + name)
                    _write_resource(container, item, types, resources, child_path)
                else:
                    el.append(_string_to_div(item, child_path))


def _as_list(value, path: str) -> list:
    if not isinstance(value, list) or not value:
        raise _fail(f"{path} must be a non-empty array")
    return value


def _write_complex(parent, name: str, obj, type_name: str, types, resources, path: str) -> None:
    if not isinstance(obj, dict):
        raise _fail(f"{path} must be an object")
    el = etree.SubElement(parent, _F + name)
    _write_children(el, obj, type_name, types, resources, path)


def _write_primitive_list(parent, name, values, extras, kind, types, resources, path) -> None:
    values = _as_list(values, path) if values is not None else None
    extras = _as_list(extras, path) if extras is not None else None
    if values is not None and extras is not None and len(values) != len(extras):
        raise _fail(f"{path} and _{name} must be arrays of the same length")
    for i in range(len(values if values is not None else extras)):
        _write_primitive(parent, name, values[i] if values is not None else None,
                         extras[i] if extras is not None else None, kind, types, resources, path)


def _write_primitive(parent, name, value, extra, kind, types, resources, path) -> None:
    if value is None and not extra:
        raise _fail(f"{path} has neither a value nor extensions")
    el = etree.SubElement(parent, _F + name)
    if extra is not None:
        if not isinstance(extra, dict):
            raise _fail(f"_{name} at {path} must be an object")
        for key, item in extra.items():
            if key == "id" and isinstance(item, str) and item:
                el.set("id", item)
            elif key == "extension":
                for ext in _as_list(item, path + ".extension"):
                    _write_complex(el, "extension", ext, "Extension", types, resources,
                                   path + ".extension")
            else:
                raise _fail(f"Unknown or invalid element '{key}' in _{name} at {path}")
    if value is not None:
        el.set("value", _lexical(value, kind, path))


def _lexical(value, kind: str, path: str) -> str:
    tv = type(value)
    if kind == "string":
        if tv is str and value:
            return value
    elif kind == "boolean":
        if tv is bool:
            return "true" if value else "false"
    elif tv is int:
        return str(value)
    elif kind == "decimal":
        # repr() is how json and orjson print a float: 3.5, 4.0, 1e-05.
        if tv is float and math.isfinite(value):
            return repr(value)
        if tv is decimal.Decimal and value.is_finite():
            return str(value)
    raise _fail(f"{path} must be a {kind}, not {value!r}")


def _string_to_div(text, path: str):
    if not isinstance(text, str):
        raise _fail(f"{path} must be a string of XHTML")
    data = text.encode("utf-8")
    try:
        div = _parse_document(data)
    except OperationOutcomeError as exc:
        raise _fail(f"{path} is not well-formed XHTML: {exc.issues[0].diagnostics}") from None
    if div.tag != _DIV:
        raise _fail(f'{path} must be a <div xmlns="{XHTML_NS}"> element')
    return div


def _indent(el, newline: str) -> None:
    """Pretty-print by hand, leaving the XHTML untouched (its whitespace is content)."""
    inner = newline + "  "
    last = None
    for child in el:
        if child.tag != _DIV:
            if len(child):
                _indent(child, inner)
        if last is None:
            el.text = inner
        child.tail = inner
        last = child
    if last is not None:
        last.tail = newline
