"""FHIR R4 XML <-> FHIR JSON (as dicts), following the specification's XML and JSON pages.

XML carries no types and JSON carries no order, so both directions lean on the element table
`r4-elements.json` (built by `generate_elements.py` from the official R4 definitions): which
children a type has, in XSD order, their types, whether they repeat and which are attributes.

Reading walks an lxml tree; writing assembles the text directly, which is several times faster
than building an lxml tree and lets us escape exactly what XML needs.
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
_DIV = "{%s}div" % XHTML_NS
_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_TABLE = Path(__file__).with_name("r4-elements.json")
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_PRIMITIVE = frozenset(("boolean", "integer", "decimal", "string"))
_ONE, _LIST, _ATTR = 0, 1, 2
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# Attribute values: what must be escaped, and what XML 1.0 cannot carry at all.
_SPECIAL = re.compile("[&<>\"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

_local = threading.local()


def _fail(message: str) -> OperationOutcomeError:
    return error(400, "structure", message)


class _Type:
    """One type or backbone element of the table, indexed for both directions."""

    __slots__ = ("name", "by_key", "by_tag")

    def __init__(self, name: str) -> None:
        self.name = name
        # JSON key (`x` and, for primitives, `_x`) -> (order, name, card, kind, child type)
        self.by_key: dict[str, tuple] = {}
        # XML tag in Clark notation -> (name, card, kind, child type); no attributes here
        self.by_tag: dict[str, tuple] = {}


@cache
def _tables() -> tuple[dict[str, _Type], frozenset[str]]:
    raw = json.loads(_TABLE.read_text(encoding="utf-8"))
    primitives = raw["primitives"]
    types = {name: _Type(name) for name in raw["types"]}
    for type_name, rows in raw["types"].items():
        t = types[type_name]
        for order, (name, tp, card) in enumerate(rows):
            # kind: the JSON form of a primitive (boolean, integer, decimal, string), or
            # xhtml, resource (a resource wrapped in an element) or complex.
            kind = primitives.get(tp) or ("resource" if tp == "Resource" else "complex")
            child = types.get(tp) if kind == "complex" else None
            t.by_key[name] = (order, name, card, kind, child)
            if card == _ATTR:
                continue
            if kind in _PRIMITIVE:
                t.by_key["_" + name] = t.by_key[name]
            tag = _DIV if kind == "xhtml" else _F + name
            t.by_tag[tag] = (name, card, kind, child)
    return types, frozenset(raw["resources"])


def _parser() -> etree.XMLParser:
    # An lxml parser serialises its users behind a lock; one per thread avoids the contention.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
            huge_tree=False, remove_comments=True, remove_pis=True)
    return parser


# Byte-order marks and the first bytes of "<?" in the wide encodings libxml2 detects.
_WIDE_ENCODINGS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"), (b"<\x00", "utf-16-le"),
)


def _declares_doctype(data: bytes) -> bool:
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return True
    # A UTF-16/32 document hides the markup from the byte search, and libxml2 may stop on
    # its entities before the parsed tree could show the DOCTYPE.
    for mark, encoding in _WIDE_ENCODINGS:
        if data.startswith(mark):
            text = data.decode(encoding, errors="replace")
            return "<!DOCTYPE" in text or "<!ENTITY" in text
    return False


def _parse_document(data: bytes):
    if _declares_doctype(data):
        raise _fail("DOCTYPE is not allowed")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise _fail(f"Malformed XML: {exc.msg or exc}") from None
    except (etree.LxmlError, ValueError) as exc:
        raise _fail(f"Unreadable XML: {exc}") from None
    # Any other encoding that hid a DOCTYPE from the byte checks shows it here.
    if root.getroottree().docinfo.doctype:
        raise _fail("DOCTYPE is not allowed")
    return root


def _div_to_string(div) -> str:
    # A fresh tree drops the namespace declarations inherited from the FHIR document and
    # un-prefixes <h:div>, giving the JSON form <div xmlns="http://www.w3.org/1999/xhtml">.
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


# ---------------------------------------------------------------- XML -> JSON

def parse_xml(data: bytes) -> dict:
    """A FHIR XML resource -> its FHIR JSON form, as `json.loads` would give it."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    root = _parse_document(bytes(data))
    tag = root.tag
    if not tag.startswith(_F):
        raise _fail(f"The root element {tag} is not in the FHIR namespace {FHIR_NS}")
    for attr in root.keys():
        if not attr.startswith(_XSI):  # xsi:schemaLocation is customary on a root
            raise _fail(f"Unknown attribute '{attr}' on the root element")
    types, resources = _tables()
    return _read_resource(root, types, resources, "")


def _stray_text(text: str | None) -> bool:
    return bool(text) and not text.isspace()


def _read_resource(el, types, resources, path: str) -> dict:
    tag = el.tag
    name = tag[len(_F):] if tag.startswith(_F) else tag
    if name not in resources:
        raise _fail(f"Unknown resource type '{name}' at {path or 'the root'}")
    out = {"resourceType": name}
    _read_children(el, types[name], out, types, resources, f"{path}.{name}" if path else name)
    return out


def _read_complex(el, t: _Type, types, resources, path: str) -> dict:
    out: dict = {}
    for attr, value in el.items():
        row = t.by_key.get(attr)
        if row is None or row[2] != _ATTR or not value:
            raise _fail(f"Unknown or empty attribute '{attr}' on {path}")
        out[attr] = value
    _read_children(el, t, out, types, resources, path)
    return out


def _read_children(el, t: _Type, out: dict, types, resources, path: str) -> None:
    if _stray_text(el.text):
        raise _fail(f"Unexpected text content in {path}")
    by_tag = t.by_tag
    repeats = None
    for child in el:
        tail = child.tail  # inlined _stray_text: this loop is the hot path
        if tail and not tail.isspace():
            raise _fail(f"Unexpected text content in {path}")
        row = by_tag.get(child.tag)
        if row is None:
            raise _unknown_element(child.tag, path)
        name, card, kind, child_type = row
        if kind in _PRIMITIVE:
            value = _read_primitive(child, kind, types, resources, path, name)
        elif kind == "complex":
            value = _read_complex(child, child_type, types, resources, f"{path}.{name}")
        elif kind == "resource":
            value = _read_container(child, types, resources, f"{path}.{name}")
        else:
            value = _div_to_string(child)
        if card == _LIST:
            if repeats is None:
                repeats = {}
            repeats.setdefault(name, []).append(value)
        elif name in out or "_" + name in out:
            raise _fail(f"{path}.{name} occurs more than once")
        elif kind in _PRIMITIVE:
            if value[0] is not None:
                out[name] = value[0]
            if value[1] is not None:
                out["_" + name] = value[1]
        else:
            out[name] = value
    if repeats:
        for name, items in repeats.items():
            if t.by_key[name][3] in _PRIMITIVE:
                _put_primitive_list(out, name, items)
            else:
                out[name] = items


def _put_primitive_list(out: dict, name: str, items: list[tuple]) -> None:
    # Repeating primitives become parallel arrays, with null where one side is absent.
    values = [v for v, _ in items]
    extras = [x for _, x in items]
    if any(v is not None for v in values):
        out[name] = values
    if any(x is not None for x in extras):
        out["_" + name] = extras


def _unknown_element(tag: str, path: str) -> OperationOutcomeError:
    if tag.startswith(_F):
        return _fail(f"Unknown element '{path}.{tag[len(_F):]}'")
    return _fail(f"Unknown element {tag} in {path}: not in the FHIR namespace")


def _read_primitive(el, kind: str, types, resources, path: str, name: str) -> tuple:
    value = extra = None
    for attr, text in el.items():
        if attr == "value":
            value = text
        elif attr == "id" and text:
            extra = {"id": text}
        else:
            raise _fail(f"Unknown or empty attribute '{attr}' on {path}.{name}")
    if len(el) or el.text:
        if _stray_text(el.text):
            raise _fail(f"Unexpected text content in {path}.{name}")
        ext_path = f"{path}.{name}.extension"
        extension_type = types["Extension"]
        extensions = []
        for child in el:
            if _stray_text(child.tail):
                raise _fail(f"Unexpected text content in {path}.{name}")
            if child.tag != _F + "extension":
                raise _unknown_element(child.tag, f"{path}.{name}")
            extensions.append(_read_complex(child, extension_type, types, resources, ext_path))
        if extensions:
            extra = extra or {}
            extra["extension"] = extensions
    if value is None:
        if extra is None:
            raise _fail(f"{path}.{name} has neither a value nor extensions")
    elif kind != "string" or not value:
        value = _typed(value, kind, f"{path}.{name}")
    return value, extra


def _typed(text: str, kind: str, path: str):
    if kind == "boolean":
        if text == "true":
            return True
        if text == "false":
            return False
    elif kind == "integer":
        if _INTEGER.fullmatch(text):
            return int(text)
    elif kind == "decimal" and _DECIMAL.fullmatch(text):
        # As json.loads reads the same lexical form: no fraction or exponent -> int.
        if "." not in text and "e" not in text and "E" not in text:
            return int(text)
        number = float(text)
        if math.isfinite(number):
            return number
    raise _fail(f"Invalid {kind} value '{text}' on {path}")


def _read_container(el, types, resources, path: str) -> dict:
    if el.keys() or _stray_text(el.text):
        raise _fail(f"Unexpected attributes or text on {path}")
    children = list(el)
    if len(children) != 1 or _stray_text(children[0].tail):
        raise _fail(f"{path} must hold exactly one resource")
    return _read_resource(children[0], types, resources, path)


# ---------------------------------------------------------------- JSON -> XML

def to_xml(resource: dict, pretty: bool = False) -> bytes:
    """A FHIR JSON resource (dict) -> FHIR XML bytes (UTF-8, with an XML declaration)."""
    if not isinstance(resource, dict):
        raise _fail("A resource must be a JSON object")
    types, resources = _tables()
    out = [_DECLARATION]
    try:
        # pad starts each line of the element being written; step indents its children.
        _write_resource(out, resource, "\n" if pretty else "", "  " if pretty else "",
                        types, resources, "", True)
    except RecursionError:
        raise _fail("The resource is nested too deeply to write as XML") from None
    return "".join(out).encode("utf-8")


def _write_resource(out, obj, pad, step, types, resources, path, root=False) -> None:
    if not isinstance(obj, dict):
        raise _fail(f"{path} must be a resource object")
    rt = obj.get("resourceType")
    if not isinstance(rt, str) or rt not in resources:
        raise _fail(f"Unknown resource type '{rt}' at {path or 'the root'}")
    head = f'<{rt} xmlns="{FHIR_NS}"' if root else f"{pad}<{rt}"
    _write_element(out, head, rt, obj, types[rt], pad, step, types, resources,
                   f"{path}.{rt}" if path else rt)


def _write_element(out, head, name, obj, t, pad, step, types, resources, path) -> None:
    at = len(out)
    out.append("")  # the start tag, once its attributes are known
    attrs = _write_children(out, obj, t, pad + step, step, types, resources, path)
    if len(out) == at + 1:
        out[at] = f"{head}{attrs}/>"
    else:
        out[at] = f"{head}{attrs}>"
        out.append(f"{pad}</{name}>")


def _write_children(out, obj: dict, t: _Type, pad, step, types, resources, path) -> str:
    """Write obj's elements in definition order; return its XML attributes."""
    by_key = t.by_key
    present = {}
    for key in obj:
        row = by_key.get(key)
        if row is None:
            if key == "resourceType" and t.name in resources:
                continue
            raise _fail(f"Unknown element '{path}.{key}'")
        present[row[0]] = row
    attrs = ""
    for order in sorted(present):
        _, name, card, kind, child_type = present[order]
        if card == _ATTR:
            value = obj[name]
            if not isinstance(value, str) or not value:
                raise _fail(f"{path}.{name} must be a non-empty string")
            attrs += f' {name}="{_escape(value, path)}"'
        elif kind in _PRIMITIVE:
            value, extra = obj.get(name), obj.get("_" + name)
            if extra is None and kind == "string" and card == _ONE and type(value) is str \
                    and value and _SPECIAL.search(value) is None:
                out.append(f'{pad}<{name} value="{value}"/>')  # the common case, fast
            elif card == _ONE:
                _write_primitive(out, name, value, extra, kind, pad, step, types, path)
            else:
                _write_primitive_list(out, name, value, extra, kind, pad, step, types, path)
        else:
            value = obj[name]
            child_path = f"{path}.{name}"
            for item in (_as_list(value, child_path) if card == _LIST else (value,)):
                if kind == "complex":
                    if not isinstance(item, dict):
                        raise _fail(f"{child_path} must be an object")
                    _write_element(out, f"{pad}<{name}", name, item, child_type, pad, step,
                                   types, resources, child_path)
                elif kind == "resource":
                    out.append(f"{pad}<{name}>")
                    _write_resource(out, item, pad + step, step, types, resources, child_path)
                    out.append(f"{pad}</{name}>")
                else:
                    out.append(pad + _string_to_div(item, child_path))
    return attrs


def _as_list(value, path: str) -> list:
    if not isinstance(value, list) or not value:
        raise _fail(f"{path} must be a non-empty array")
    return value


def _write_primitive_list(out, name, values, extras, kind, pad, step, types, path) -> None:
    if values is None and extras is None:
        raise _fail(f"{path}.{name} has neither a value nor extensions")
    values = _as_list(values, f"{path}.{name}") if values is not None else None
    extras = _as_list(extras, f"{path}._{name}") if extras is not None else None
    if values is not None and extras is not None and len(values) != len(extras):
        raise _fail(f"{path}.{name} and _{name} must be arrays of the same length")
    for i in range(len(values if values is not None else extras)):
        _write_primitive(out, name, values[i] if values is not None else None,
                         extras[i] if extras is not None else None, kind, pad, step, types, path)


def _write_primitive(out, name, value, extra, kind, pad, step, types, path) -> None:
    if value is None and not extra:
        raise _fail(f"{path}.{name} has neither a value nor extensions")
    head = f"{pad}<{name}"
    extensions = None
    if extra is not None:
        if not isinstance(extra, dict):
            raise _fail(f"{path}._{name} must be an object")
        for key, item in extra.items():
            if key == "id" and isinstance(item, str) and item:
                head += f' id="{_escape(item, path)}"'
            elif key == "extension":
                extensions = _as_list(item, f"{path}._{name}.extension")
            else:
                raise _fail(f"Unknown or invalid element '{path}._{name}.{key}'")
    if value is not None:
        head += f' value="{_lexical(value, kind, path, name)}"'
    if extensions is None:
        out.append(head + "/>")
        return
    out.append(head + ">")
    inner, ext_type, ext_path = pad + step, types["Extension"], f"{path}.{name}.extension"
    for ext in extensions:
        if not isinstance(ext, dict):
            raise _fail(f"{ext_path} must be an object")
        _write_element(out, f"{inner}<extension", "extension", ext, ext_type, inner, step,
                       types, (), ext_path)
    out.append(f"{pad}</{name}>")


def _escape(text: str, path: str) -> str:
    if _SPECIAL.search(text) is None:
        return text
    if _ILLEGAL.search(text):
        raise _fail(f"{path} holds a character that XML 1.0 cannot carry")
    # Newlines and tabs as references: an XML parser turns literal ones into spaces.
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))


def _lexical(value, kind: str, path: str, name: str) -> str:
    tv = type(value)
    if kind == "string":
        if tv is str and value:
            return _escape(value, f"{path}.{name}")
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
    raise _fail(f"{path}.{name} must be a {kind}, not {value!r}")


def _string_to_div(text, path: str) -> str:
    if not isinstance(text, str):
        raise _fail(f"{path} must be a string of XHTML")
    try:
        div = _parse_document(text.encode("utf-8"))
    except OperationOutcomeError as exc:
        raise _fail(f"{path} is not well-formed XHTML: {exc.issues[0].diagnostics}") from None
    if div.tag != _DIV:
        raise _fail(f'{path} must be a <div xmlns="{XHTML_NS}"> element')
    # Re-serialised, never copied: the text may carry an XML declaration or trailing markup.
    return _div_to_string(div)
