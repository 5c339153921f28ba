"""Required-binding checks: the value must be in the R4 ValueSet, expanded at generation time."""
from __future__ import annotations

from .rules import Binding


def code_problem(value: str, binding: Binding) -> str | None:
    if value in binding.codes:
        return None
    return f"code {value!r} is not in the required value set {binding.describe()}"


def coding_problem(coding: dict, binding: Binding) -> str | None:
    system, code = coding.get("system"), coding.get("code")
    if type(code) is not str:
        return f"a code from the required value set {binding.describe()} is needed"
    if type(system) is not str:
        return f"code {code!r} has no system; the required value set is {binding.describe()}"
    if (system, code) in binding.pairs:
        return None
    return f"{system}#{code} is not in the required value set {binding.describe()}"


def codeable_concept_problem(concept: dict, binding: Binding) -> str | None:
    codings = concept.get("coding")
    if type(codings) is not list or not codings:
        return f"a coding from the required value set {binding.describe()} is needed"
    pairs = binding.pairs
    for c in codings:
        if type(c) is dict:
            system, code = c.get("system"), c.get("code")
            if type(system) is str and type(code) is str and (system, code) in pairs:
                return None
    shown = ", ".join(f"{c.get('system')}#{c.get('code')}" for c in codings if type(c) is dict)
    return f"none of the codings ({shown}) is in the required value set {binding.describe()}"
