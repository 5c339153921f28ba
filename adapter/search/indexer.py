"""Search index rows of a resource, computed at write time (never by scanning JSON at search time)."""
from __future__ import annotations

from dataclasses import dataclass, field

from .parameters import DATE, REFERENCE, STRING, TOKEN, URI, params_for
from .values import date_range, fold, period_range


@dataclass
class IndexRows:
    token: list[dict] = field(default_factory=list)
    string: list[dict] = field(default_factory=list)
    date: list[dict] = field(default_factory=list)
    reference: list[dict] = field(default_factory=list)


def _walk(node, steps: list[str]):
    if not steps:
        yield node
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, steps)
        return
    if not isinstance(node, dict):
        return
    step, rest = steps[0], steps[1:]
    if step.startswith("ext:"):
        for ext in node.get("extension", ()):
            if isinstance(ext, dict) and ext.get("url") == step[4:]:
                yield from _walk(ext, rest)
        return
    if step in node:
        value = node[step]
        if isinstance(value, list):
            for item in value:
                yield from _walk(item, rest)
        else:
            yield from _walk(value, rest)


def _steps(path: str) -> list[str]:
    # An extension url holds dots: `ext:<url>` runs to the next step after the url's last segment.
    if path.startswith("ext:"):
        url, _, rest = path[4:].rpartition(".")
        return [f"ext:{url}", *rest.split(".")] if url else [path]
    return path.split(".")


def values_at(resource: dict, path: str):
    yield from _walk(resource, _steps(path))


def _tokens(value) -> list[tuple[str, str, str | None]]:
    """(system, code, text) triples of a token-typed value."""
    if isinstance(value, bool):
        return [("", "true" if value else "false", None)]
    if isinstance(value, (str, int)):
        return [("", str(value), None)]
    if not isinstance(value, dict):
        return []
    if "coding" in value or ("text" in value and "value" not in value and "code" not in value):
        text = value.get("text")
        rows = [(c.get("system", ""), c.get("code", ""), c.get("display") or text)
                for c in value.get("coding", ()) if isinstance(c, dict)]
        return rows or [("", "", text)]
    if "code" in value or "system" in value and "value" not in value:  # Coding
        return [(value.get("system", ""), value.get("code", ""), value.get("display"))]
    if "value" in value:  # Identifier, ContactPoint
        type_text = (value.get("type") or {}).get("text") if isinstance(value.get("type"), dict) else None
        return [(value.get("system", ""), str(value["value"]), type_text)]
    return []


def parse_reference(reference: str, fhir_base: str) -> tuple[str, str, str]:
    """(target type, target id, absolute url) of a literal reference; local ones have no url."""
    ref = reference.split("/_history/")[0]
    if ref.startswith(fhir_base + "/"):
        ref = ref[len(fhir_base) + 1:]
    if "://" in ref or ref.startswith("urn:") or ref.startswith("#"):
        return "", "", reference
    parts = ref.split("/")
    if len(parts) == 2 and parts[0][:1].isupper():
        return parts[0], parts[1], ""
    return "", "", ""  # a bare id (a search value) or something unresolvable: no URL either


def _references(value, fhir_base: str) -> list[dict]:
    if isinstance(value, str):  # canonical: match with and without its version
        url = value.split("|")[0]
        rows = [dict(target_type="", target_id="", target_url=value, ident_system="", ident_value="")]
        if url != value:
            rows.append(dict(target_type="", target_id="", target_url=url, ident_system="", ident_value=""))
        return rows
    if not isinstance(value, dict):
        return []
    target_type, target_id, url = "", "", ""
    if isinstance(value.get("reference"), str):
        if value["reference"].startswith("#"):
            return []  # a contained resource is not searchable by reference
        target_type, target_id, url = parse_reference(value["reference"], fhir_base)
    ident = value.get("identifier") if isinstance(value.get("identifier"), dict) else {}
    if not (target_id or url or ident.get("value")):
        return []
    return [dict(target_type=target_type or value.get("type", "") if target_id else "", target_id=target_id,
                 target_url=url, ident_system=ident.get("system", ""), ident_value=str(ident.get("value", "")))]


def index_rows(resource: dict, fhir_base: str) -> IndexRows:
    rows = IndexRows()
    for param in params_for(resource["resourceType"]).values():
        for path in param.paths:
            for value in values_at(resource, path):
                if param.type in (TOKEN, URI):
                    for system, code, text in _tokens(value):
                        rows.token.append(dict(param=param.name, system=system or "", code=code[:512],
                                               text_norm=fold(text)[:512] if text else None))
                elif param.type == STRING and isinstance(value, str):
                    rows.string.append(dict(param=param.name, norm=fold(value)[:512], exact=value))
                elif param.type == DATE:
                    span = period_range(value) if isinstance(value, dict) else date_range(value)
                    if span:
                        rows.date.append(dict(param=param.name, low=span[0], high=span[1]))
                elif param.type == REFERENCE:
                    rows.reference.extend(dict(param=param.name, **r) for r in _references(value, fhir_base))
    return rows
