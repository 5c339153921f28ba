"""The terminology operations on our CodeSystems and ValueSets, as plain functions.

    lookup(system, code, version=None)                       -> Parameters   (CodeSystem/$lookup)
    validate_code(url, code, display=None, *, system=None,
                  coding=None, codeable_concept=None)       -> Parameters   ($validate-code)
    expand(url, filter=None, offset=0, count=None)           -> ValueSet     (ValueSet/$expand)

Inputs are the R4 operation parameters (already taken out of the query or the Parameters
body); outputs are the R4 output resources. Errors raise `OperationOutcomeError`: an unknown
system / ValueSet / code to look up is 404 `not-found`, a missing parameter 400 `required`,
a malformed one 400 `invalid`. Only our terminology (https://fhir.dandthub.co.uk/...) is known.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson

from adapter.outcomes import error

from .registry import BASE, CodeSystem, Concept, ValueSet, get_registry, split_canonical

__all__ = ["lookup", "validate_code", "expand"]

_CS_PREFIX = f"{BASE}/CodeSystem/"
_VS_PREFIX = f"{BASE}/ValueSet/"


# --- $lookup ------------------------------------------------------------------------------

def lookup(system: str | None = None, code: str | None = None, version: str | None = None, *,
           coding: dict | None = None, properties: list[str] | None = None) -> dict:
    """R4 CodeSystem/$lookup: name, version, display, designation and property of a code.

    `coding` may replace system+code+version; `properties` limits the returned properties
    (R4 `property` input; `definition` and `designation` count as properties).
    """
    if coding is not None:
        system, code = coding.get("system"), coding.get("code")
        version = coding.get("version", version)
    if not system:
        raise error(400, "required", "$lookup needs a system (or a coding with a system)",
                    expression=["system"])
    if not code:
        raise error(400, "required", "$lookup needs a code (or a coding with a code)",
                    expression=["code"])
    cs = _code_system(system, version)
    concept = cs.find(code)
    if concept is None:
        raise error(404, "not-found", f"code {code!r} is not in the CodeSystem {cs.url}"
                    + (" (a fragment: the code may be defined elsewhere)" if cs.content == "fragment" else ""),
                    expression=["code"])
    wanted = set(properties) if properties else None
    params = [{"name": "name", "valueString": cs.resource.get("title") or cs.name or cs.url}]
    if cs.version:
        params.append({"name": "version", "valueString": cs.version})
    params.append({"name": "display", "valueString": concept.display or concept.code})
    if wanted is None or "designation" in wanted:
        params += [_designation(d) for d in concept.designations]
    if concept.definition and (wanted is None or "definition" in wanted):
        params.append(_property("definition", {"valueString": concept.definition}))
    for prop in concept.properties:
        if wanted is None or prop.get("code") in wanted:
            value = {k: v for k, v in prop.items() if k.startswith("value")}
            params.append(_property(prop["code"], value))
    return {"resourceType": "Parameters", "parameter": params}


def _designation(d: dict) -> dict:
    part = []
    if "language" in d:
        part.append({"name": "language", "valueCode": d["language"]})
    if "use" in d:
        part.append({"name": "use", "valueCoding": d["use"]})
    part.append({"name": "value", "valueString": d["value"]})
    return {"name": "designation", "part": part}


def _property(code: str, value: dict) -> dict:
    return {"name": "property", "part": [{"name": "code", "valueCode": code},
                                         {"name": "value", **value}]}


# --- $validate-code -----------------------------------------------------------------------

def validate_code(url: str | None = None, code: str | None = None, display: str | None = None, *,
                  system: str | None = None, coding: dict | None = None,
                  codeable_concept: dict | None = None, version: str | None = None) -> dict:
    """R4 $validate-code, for a ValueSet (`url` = one of our ValueSets; `system` says which
    system `code` is from) or a CodeSystem (`url` = one of our CodeSystems, as
    CodeSystem/$validate-code passes it, or no `url` and only `system`).

    Returns Parameters with `result`, `message` (why not, or a caveat) and `display` (the
    code's display, when known). An unknown code is `result` false, not an error.
    """
    codings = _codings(system, code, display, version, coding, codeable_concept)
    if url:
        target, _ = split_canonical(url)
        if target.startswith(_VS_PREFIX):
            vs = _value_set(url)
            return _answer([_in_value_set(vs, _infer_system(vs, c)) for c in codings])
        if not target.startswith(_CS_PREFIX):
            raise error(404, "not-found", f"{url} is not a CodeSystem or ValueSet of this server",
                        expression=["url"])
        cs = _code_system(url, None, param="url")
    else:
        if not system and not any(c.get("system") for c in codings):
            raise error(400, "required", "$validate-code needs url or system", expression=["url"])
        cs = _code_system(system or next(c["system"] for c in codings if c.get("system")), None)
    return _answer([_in_code_system(cs, c) for c in codings])


def _codings(system, code, display, version, coding, codeable_concept) -> list[dict]:
    if codeable_concept is not None:
        codings = [c for c in codeable_concept.get("coding", ()) if isinstance(c, dict)]
        if not codings:
            raise error(400, "required", "codeableConcept has no coding", expression=["codeableConcept"])
        return codings
    if coding is not None:
        if not coding.get("code"):
            raise error(400, "required", "coding has no code", expression=["coding"])
        return [coding]
    if not code:
        raise error(400, "required", "$validate-code needs code, coding or codeableConcept",
                    expression=["code"])
    out = {"code": code}
    if system:
        out["system"] = system
    if version:
        out["version"] = version
    if display is not None:
        out["display"] = display
    return [out]


def _infer_system(vs: ValueSet, coding: dict) -> dict:
    if coding.get("system"):
        return coding
    systems = {m.system for m in vs.members}
    if len(systems) != 1:
        raise error(400, "required", f"a system is needed: {vs.url} has codes from several systems",
                    expression=["system"])
    return {**coding, "system": systems.pop()}


# A verdict: (result, message, display).
Verdict = tuple[bool, str | None, str | None]


def _in_code_system(cs: CodeSystem, coding: dict) -> Verdict:
    system, code = coding.get("system"), coding.get("code")
    if system and split_canonical(system)[0] != cs.url:
        return False, f"the code's system {system} is not {cs.url}", None
    version = coding.get("version")
    if version and cs.version and version != cs.version:
        return False, f"{cs.url} version {version} is not known (this server has {cs.version})", None
    concept = cs.find(code)
    if concept is None:
        if cs.content == "fragment":
            # As the HL7 validator does: a fragment cannot prove a code wrong (only a warning).
            return True, (f"code {code!r} is not in this fragment of {cs.url}; "
                          "it may be valid in another fragment"), None
        return False, f"code {code!r} is not in the CodeSystem {cs.url}", None
    return _display_verdict(cs.url, concept, coding.get("display"))


def _in_value_set(vs: ValueSet, coding: dict) -> Verdict:
    system, code = split_canonical(coding["system"])[0], coding.get("code")
    cs = get_registry().code_system(system)
    if (system, code) not in vs.pairs:
        if system in vs.open_systems and cs is not None and cs.find(code) is None:
            return True, (f"code {code!r} is not in this fragment of {system}; "
                          f"it may be valid in {vs.url}"), None
        return False, f"{system}#{code} is not in the value set {vs.url}", None
    version = coding.get("version")
    if version and cs is not None and cs.version and version != cs.version:
        return False, f"{system} version {version} is not known (this server has {cs.version})", None
    return _display_verdict(system, cs.find(code), coding.get("display"))


def _display_verdict(system: str, concept: Concept, display: str | None) -> Verdict:
    shown = concept.display or concept.code
    if display is None or display == shown or any(d.get("value") == display for d in concept.designations):
        return True, None, shown
    return False, f"wrong display {display!r} for {system}#{concept.code}: it is {shown!r}", shown


def _answer(verdicts: list[Verdict]) -> dict:
    """Valid when any coding is (R4: a CodeableConcept is valid if one of its codings is)."""
    good = [v for v in verdicts if v[0]]
    chosen = good[0] if good else verdicts[0]
    params = [{"name": "result", "valueBoolean": bool(good)}]
    messages = [chosen[1]] if good else [v[1] for v in verdicts if v[1]]
    if any(messages):
        params.append({"name": "message", "valueString": "; ".join(m for m in messages if m)})
    if chosen[2]:
        params.append({"name": "display", "valueString": chosen[2]})
    return {"resourceType": "Parameters", "parameter": params}


# --- $expand ------------------------------------------------------------------------------

def expand(url: str | None, filter: str | None = None, offset: int | str | None = 0,
           count: int | str | None = None) -> dict:
    """R4 ValueSet/$expand: the ValueSet with an `expansion` (identifier, timestamp, total,
    offset, parameter, contains). `filter` matches code or display, case-insensitively;
    `offset`/`count` page the matches (total counts all matches)."""
    if not url:
        raise error(400, "required", "$expand needs the url of a ValueSet", expression=["url"])
    vs = _value_set(url)
    offset = _non_negative(offset, "offset", 0)
    count = _non_negative(count, "count", None)
    needle = (filter or "").strip().lower()
    matches = [m for m in vs.members
               if not needle or needle in m.code.lower() or needle in (m.display or "").lower()]
    page = matches[offset:] if count is None else matches[offset:offset + count]
    used = [f"{s}|{get_registry().code_system(s).version}" for s in dict.fromkeys(m.system for m in vs.members)]
    parameters = [{"name": "used-codesystem", "valueUri": u} for u in used]
    if needle:
        parameters.append({"name": "filter", "valueString": filter.strip()})
    parameters.append({"name": "offset", "valueInteger": offset})
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    # Same inputs and same code system versions -> same identifier (R4 allows reuse then).
    key = orjson.dumps([vs.url, vs.version, needle, offset, count, used])
    expansion = {
        "identifier": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key.decode())}",
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "total": len(matches),
        "offset": offset,
        "parameter": parameters,
    }
    contains = []
    for m in page:
        item = {"system": m.system}
        if m.version:
            item["version"] = m.version
        item["code"] = m.code
        if m.display:
            item["display"] = m.display
        contains.append(item)
    if contains:
        expansion["contains"] = contains
    body = orjson.loads(orjson.dumps(vs.resource))  # a copy: the registry stays untouched
    body["expansion"] = expansion
    return body


def _non_negative(value, name: str, default):
    if value is None or value == "":
        return default
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise error(400, "invalid", f"{name} must be a non-negative integer, got {value!r}",
                expression=[name])


# --- lookups of the targets ---------------------------------------------------------------

def _code_system(url: str, version: str | None, param: str = "system") -> CodeSystem:
    base, pinned = split_canonical(url)
    version = version or pinned
    cs = get_registry().code_system(base)
    if cs is None:
        raise error(404, "not-found", f"CodeSystem {base} is not known to this server",
                    expression=[param])
    if version and cs.version and version != cs.version:
        raise error(404, "not-found", f"CodeSystem {base} version {version} is not known "
                    f"(this server has {cs.version})", expression=["version"])
    return cs


def _value_set(url: str) -> ValueSet:
    base, version = split_canonical(url)
    vs = get_registry().value_set(base)
    if vs is None:
        raise error(404, "not-found", f"ValueSet {base} is not known to this server",
                    expression=["url"])
    if version and vs.version and version != vs.version:
        raise error(404, "not-found", f"ValueSet {base} version {version} is not known "
                    f"(this server has {vs.version})", expression=["url"])
    return vs
