"""Every extension with one of our URLs, wherever it sits, must match its definition.

As in the FHIR validator, this does not depend on `meta.profile`: an extension's URL names
its definition. Checked: the URL is defined, the place is one of the definition's contexts,
how often it repeats (the definition's root max), and its content (value type, sub-extensions,
bound codes, ...) by the same walk as profiles.
"""
from __future__ import annotations

import orjson

from adapter.outcomes import Issue

from .definitions import SD_PREFIX, Definitions
from .walker import Walk

_MARKER = SD_PREFIX.encode()


def check_extensions(resource: dict, definitions: Definitions, issues: list[Issue]) -> None:
    # A C-speed search for our namespace spares the tree walk for resources without our
    # extensions, and for the top-level elements that hold none of them.
    if not _may_hold_ours(resource):
        return
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return
    for key, value in resource.items():
        if isinstance(value, (dict, list)) and _may_hold_ours(value):
            _member(key, value, rtype, rtype, resource, definitions, issues)


def _may_hold_ours(value: object) -> bool:
    try:
        return _MARKER in orjson.dumps(value)
    except TypeError:  # not plain JSON (e.g. an integer beyond 64 bits): just walk it
        return True


def _member(key: str, value: object, path: str, loc: str, resource: dict, definitions: Definitions,
            issues: list[Issue]) -> None:
    """One element of an object: `path` is the object's element path, `loc` its location."""
    if key in ("extension", "modifierExtension") and isinstance(value, list):
        _check_list(value, key, path, f"{loc}.{key}", resource, definitions, issues)
    bare = key[1:] if key[:1] == "_" else key  # _status: the extensions of status
    if isinstance(value, dict):
        _object(value, f"{path}.{bare}", f"{loc}.{key}", resource, definitions, issues)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                _object(item, f"{path}.{bare}", f"{loc}.{key}[{i}]", resource, definitions, issues)


def _object(obj: dict, path: str, loc: str, resource: dict, definitions: Definitions,
            issues: list[Issue]) -> None:
    rtype = obj.get("resourceType")
    if isinstance(rtype, str):  # contained / nested resources: paths start again
        path, resource = rtype, obj
    for key, value in obj.items():
        if isinstance(value, (dict, list)):
            _member(key, value, path, loc, resource, definitions, issues)


def _check_list(extensions: list, key: str, host: str, loc: str, resource: dict,
                definitions: Definitions, issues: list[Issue]) -> None:
    counts: dict[str, int] = {}
    for i, ext in enumerate(extensions):
        url = ext.get("url") if isinstance(ext, dict) else None
        if not isinstance(url, str) or not url.startswith(SD_PREFIX):
            continue
        at = f"{loc}[{i}]"
        definition = definitions.get(url)
        if definition is None or definition.type != "Extension":
            issues.append(Issue("error", "not-found", f"{url} is not an extension defined by this server",
                                (f"{at}.url",)))
            continue
        if key == "modifierExtension":
            issues.append(Issue("error", "invalid", f"{url} is not a modifier extension: "
                                "use extension, not modifierExtension", (at,)))
        if definition.contexts and _collapse(host) not in definition.contexts:
            issues.append(Issue("error", "invalid", f"extension {definition.id} is not allowed on "
                                f"{host} (its contexts: {', '.join(definition.contexts)})", (at,)))
        counts[url] = counts.get(url, 0) + 1
        Walk(definition, resource, issues).value(definition.root, ext, at)
    for url, n in counts.items():
        limit = definitions.get(url).root.max
        if limit is not None and n > limit:
            issues.append(Issue("error", "invalid", f"extension {url} may occur at most {limit} "
                                f"time(s) on {host}, found {n}", (loc,)))


def _collapse(path: str) -> str:
    """QuestionnaireResponse.item.item -> QuestionnaireResponse.item: nested items (and
    provisions) reuse their parent's definition (contentReference), so share its contexts."""
    out: list[str] = []
    for segment in path.split("."):
        if not out or out[-1] != segment:
            out.append(segment)
    return ".".join(out)
