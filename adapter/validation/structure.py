"""Walks a resource's raw JSON against the R4 rules: element names, JSON types, arrays vs
single values, min cardinality, choice exclusivity, primitive formats, required bindings and
reference targets, in one pass, recursing into datatypes, backbone elements and resources
(contained, Bundle.entry.resource, Parameters.parameter.resource).
"""
from __future__ import annotations

import orjson

from adapter.outcomes import Issue

from .bindings import code_problem, codeable_concept_problem, coding_problem
from .references import Scope, reference_problem, scope_of
from .rules import CODE_LIKE, PRIMITIVE, RESOURCE, ElementRule, Rules, TypeRule


# Complex values already found without any issue, by (element rule, container type, exact JSON
# text): a repeat (meta, codings, references, periods...) is not walked again. The check of a
# value depends only on those (and on the contained resources, when there are any: then no
# memo); the path only shows in issues, and a value with issues is never remembered. Only used
# for pure JSON (model_cache.is_pure_json), where the text decides the value.
_MEMO_SIZE = 16384
_MEMO_MAX_BYTES = 2048
_memo: dict[tuple, bool] = {}


class Walker:
    __slots__ = ("rules", "issues", "memo")

    def __init__(self, rules: Rules, memo: bool = False):
        self.rules = rules
        self.issues: list[Issue] = []
        self.memo = memo

    def error(self, code: str, path: str, message: str, severity: str = "error") -> None:
        self.issues.append(Issue(severity, code, message, (path,)))

    # --- resources --------------------------------------------------------------------------

    def resource(self, node: dict, path: str, scope: Scope | None) -> None:
        """`scope` is the container's for a contained resource, else None (own scope)."""
        rtype = node.get("resourceType")
        type_rule = self.rules.resource(rtype)
        if type_rule is None:
            if rtype is None:
                self.error("invalid", path, "resourceType is missing")
            else:
                self.error("invalid", f"{path}.resourceType",
                           f"{rtype!r} is not an R4 resource type")
            return
        if scope is None:
            scope = scope_of(rtype, node)
        self.object(node, type_rule, path, scope)

    # --- objects ----------------------------------------------------------------------------

    def object(self, node: dict, type_rule: TypeRule, path: str, scope: Scope) -> None:
        if not node:
            self.error("invalid", path, "empty object is not allowed in FHIR JSON")
            return
        elements = type_rule.elements
        choices: dict[str, str] | None = None
        for key, value in node.items():
            if type(key) is not str:
                self.error("invalid", path, f"element name {key!r} is not a string")
                continue
            if key[:1] == "_":
                name = key[1:]
                rule = elements.get(name)
                if rule is None or rule.kind != PRIMITIVE:
                    self.error("invalid", f"{path}.{key}", f"unknown element {key!r}")
                    continue
                self.primitive_extension(value, rule, node.get(name), f"{path}.{name}", scope)
            else:
                rule = elements.get(key)
                if rule is None:
                    if key == "resourceType" and type_rule.is_resource:
                        continue
                    self.error("invalid", f"{path}.{key}", f"unknown element {key!r}")
                    continue
                if rule.kind == PRIMITIVE and not rule.many and value is not None:
                    # The most common case, inlined: it is most of the walk's time.
                    problem = rule.check(value)
                    if problem is not None:
                        if type(value) is list:
                            problem = ("error", "invalid", f"{key} does not repeat (max 1): not an array")
                        self.error(problem[1], f"{path}.{key}", problem[2], problem[0])
                    elif rule.binding is not None and value not in rule.binding.codes \
                            and rule.type in CODE_LIKE:
                        self.error("value", f"{path}.{key}", code_problem(value, rule.binding))
                else:
                    self.element(value, rule, node, path, scope)
            if rule.choice is not None:
                if choices is None:
                    choices = {}
                seen = choices.setdefault(rule.choice, rule.name)
                if seen != rule.name:
                    self.error("invalid", f"{path}.{rule.choice}[x]",
                               f"only one of {seen} and {rule.name} may be present")
        for label, names in type_rule.required:
            for n in names:
                if n in node or "_" + n in node:
                    break
            else:
                self.error("required", f"{path}.{label}", f"{label} is required (min 1)")

    def element(self, value: object, rule: ElementRule, node: dict, path: str, scope: Scope) -> None:
        name = rule.name
        if value is None:
            self.error("invalid", f"{path}.{name}", "null is not allowed in FHIR JSON")
            return
        if rule.many:
            if type(value) is not list:
                self.error("invalid", f"{path}.{name}", f"{name} repeats, so it must be an array")
                return
            if not value:
                self.error("invalid", f"{path}.{name}", "empty array is not allowed in FHIR JSON")
                return
            if rule.kind == PRIMITIVE:
                extensions = node.get("_" + name)
                if type(extensions) is not list:
                    extensions = ()
                for i, item in enumerate(value):
                    if item is None:
                        if i >= len(extensions) or extensions[i] is None:
                            self.error("invalid", f"{path}.{name}[{i}]",
                                       "null is only allowed where _" + name + " has a value")
                        continue
                    self.value(item, rule, f"{path}.{name}", i, scope)
                return
            for i, item in enumerate(value):
                self.value(item, rule, f"{path}.{name}", i, scope)
        elif type(value) is list:
            self.error("invalid", f"{path}.{name}", f"{name} does not repeat (max 1): not an array")
        else:
            self.value(value, rule, f"{path}.{name}", -1, scope)

    def value(self, value: object, rule: ElementRule, path: str, index: int, scope: Scope) -> None:
        """One value of an element; `index` >= 0 for an item of an array."""
        kind = rule.kind
        if kind == PRIMITIVE:
            problem = rule.check(value)
            if problem is not None:
                self.error(problem[1], _at(path, index), problem[2], problem[0])
            elif rule.binding is not None and rule.type in CODE_LIKE:
                message = code_problem(value, rule.binding)
                if message:
                    self.error("value", _at(path, index), message)
            return
        here = _at(path, index)
        if type(value) is not dict:
            if value is None:
                self.error("invalid", here, "null is not allowed in FHIR JSON")
            else:
                self.error("invalid", here, f"{rule.type} must be a JSON object")
            return
        if kind == RESOURCE:
            self.resource(value, here, scope if rule.name == "contained" else None)
            return
        key = None
        if self.memo and not scope.contained:
            try:
                text = orjson.dumps(value)
            except TypeError:  # e.g. an integer beyond 64 bits: walked as usual
                text = b"x" * (_MEMO_MAX_BYTES + 1)
            if len(text) <= _MEMO_MAX_BYTES:
                key = (rule, scope.container_type, text)
                if key in _memo:
                    return
                issues_before = len(self.issues)
        self.object(value, rule.type_rule, here, scope)
        if rule.binding is not None:
            if rule.type == "CodeableConcept":
                message = codeable_concept_problem(value, rule.binding)
            elif rule.type == "Coding":
                message = coding_problem(value, rule.binding)
            else:
                message = None
            if message:
                self.error("value", here, message)
        if rule.type == "Reference":
            message = reference_problem(value, rule.targets, scope, self.rules.resources)
            if message:
                self.error("invalid", here, message)
        if key is not None and len(self.issues) == issues_before:
            if len(_memo) >= _MEMO_SIZE:
                _memo.clear()
            # orjson's bytes keep a 4 KiB buffer: remember a copy of the exact size
            _memo[(rule, scope.container_type, bytes(memoryview(key[2])))] = True

    def primitive_extension(self, value: object, rule: ElementRule, primitive: object, path: str,
                            scope: Scope) -> None:
        """`_name`: the id/extensions of a primitive, aligned item by item for arrays."""
        element = self.rules.element
        if rule.many:
            if type(value) is not list or not value:
                self.error("invalid", path, f"_{rule.name} must be a non-empty array")
                return
            if type(primitive) is list and len(primitive) != len(value):
                self.error("invalid", path, f"{rule.name} and _{rule.name} differ in length")
            for i, item in enumerate(value):
                if item is None:
                    if type(primitive) is not list or i >= len(primitive) or primitive[i] is None:
                        self.error("invalid", f"{path}[{i}]", "null in both value and _" + rule.name)
                elif type(item) is dict:
                    self.object(item, element, f"{path}[{i}]", scope)
                else:
                    self.error("invalid", f"{path}[{i}]", "must be a JSON object")
        elif type(value) is dict:
            self.object(value, element, path, scope)
        else:
            self.error("invalid", path, f"_{rule.name} must be a JSON object")


def _at(path: str, index: int) -> str:
    return path if index < 0 else f"{path}[{index}]"


def check_structure(resource: dict, rules: Rules, *, pure_json: bool = False) -> list[Issue]:
    """`pure_json`: the caller found `resource` pure JSON (model_cache.is_pure_json), so
    repeated values may be looked up in the memo."""
    walker = Walker(rules, pure_json)
    rtype = resource.get("resourceType")
    walker.resource(resource, rtype if type(rtype) is str else "Resource", None)
    return walker.issues
