"""The validation caches: the R4B model pass's cache of accepted nested elements
(adapter/validation/model_cache.py) and the R4 structure walk's memo of values without issues
(structure.py): as strict as no cache, and loud if fhir_core changes the shape it hooks."""
from __future__ import annotations

import contextlib
import copy
import enum
import uuid

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

import adapter.validation
from adapter.validation import get_rules, model_cache, models, structure, validate_resource

ORG_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type"
PROFILE = "https://fhir.dandthub.co.uk/StructureDefinition/dthub-organization"


def coding(**extra) -> dict:
    return {"system": ORG_TYPE, "code": "prov", "display": "Healthcare Provider", **extra}


def extension(**value) -> dict:
    return {"url": "https://fhir.dandthub.co.uk/StructureDefinition/icb", **(value or {"valueString": "QK1"})}


def organization(id_: str = "org-1", **changes) -> dict:
    resource = {
        "resourceType": "Organization",
        "id": id_,
        "meta": {"profile": [PROFILE], "source": "dthub-demo"},
        "extension": [extension()],
        "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": id_,
                        "period": {"start": "2024-01-01"}}],
        "active": True,
        "type": [{"coding": [coding()]}, {"coding": [coding()]}],
        "name": "Acme Health",
        "partOf": {"reference": "Organization/U25294", "display": "PCN"},
        "contact": [{"purpose": {"coding": [coding()]}, "name": {"family": "Jansen", "given": ["Piet"]}}],
    }
    resource.update(changes)
    return resource


def uncached_errors(resource: dict) -> list:
    with _cache_closed():
        return models.model_errors(resource)


@contextlib.contextmanager
def _cache_closed():
    original = model_cache.nested_cache
    model_cache.nested_cache = lambda *_args: contextlib.nullcontext()
    try:
        yield
    finally:
        model_cache.nested_cache = original


def raw_errors(resource: dict) -> list:
    """pydantic's own errors (type, loc, msg), with the cache open as model_errors opens it."""
    cls = get_fhir_model_class(resource["resourceType"])
    try:
        with model_cache.nested_cache(resource):
            cls.model_validate(resource)
    except ValidationError as exc:
        return [(e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
    return []


def raw_errors_uncached(resource: dict) -> list:
    cls = get_fhir_model_class(resource["resourceType"])
    try:
        cls.model_validate(resource)
    except ValidationError as exc:
        return [(e["type"], e["loc"], e["msg"]) for e in exc.errors(include_url=False)]
    return []


@pytest.fixture(autouse=True)
def warm_cache():
    """Every test starts with the valid elements of `organization()` already cached."""
    models._model_class("Organization")  # installs the hook
    model_cache.clear()
    assert models.model_errors(organization("warm-1")) == []
    assert models.model_errors(organization("warm-2")) == []
    assert model_cache.stats["hits"] > 0
    yield
    model_cache.clear()


BAD_CODING = coding(userSelected="maybe")  # not a boolean


INVALID = {
    "bad primitive in a repeated Coding": lambda: organization(
        type=[{"coding": [coding()]}, {"coding": [coding(), BAD_CODING]}, {"coding": [BAD_CODING]}]),
    "bad primitive next to cached siblings": lambda: organization(
        contact=[{"purpose": {"coding": [coding(), coding(system=7)]}, "name": {"family": "Jansen"}}]),
    "null in a list of codings": lambda: organization(type=[{"coding": [coding(), None]}, {"coding": [coding()]}]),
    "null in a list of types": lambda: organization(type=[{"coding": [coding()]}, None]),
    "choice-type conflict in a repeated extension": lambda: organization(
        extension=[extension(), extension(valueString="QK1", valueCode="QK1"), extension()]),
    "extension without a value or url": lambda: organization(extension=[extension(), {"valueString": "x"}]),
    "extra element in a cached Coding's copy": lambda: organization(
        type=[{"coding": [coding()]}, {"coding": [coding(colour="blue")]}]),
    "a cached Coding where an Identifier belongs": lambda: organization(identifier=[coding()]),
    "a cached Period where a Reference belongs": lambda: organization(partOf={"start": "2024-01-01"}),
    "a list where a cached object belongs": lambda: organization(partOf=[{"reference": "Organization/U25294"}]),
    "a string where a cached object belongs": lambda: organization(meta="dthub-demo"),
    "a date that is not one in a cached shape": lambda: organization(
        identifier=[{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "org-1",
                     "period": {"start": "2024-13-01"}}]),
    "unknown element at the top": lambda: organization(colour="blue"),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_cached_model_pass_reports_exactly_the_uncached_errors(name):
    resource = INVALID[name]()
    expected = raw_errors_uncached(copy.deepcopy(resource))
    assert expected, "the case must be invalid"
    assert raw_errors(resource) == expected
    assert raw_errors(resource) == expected  # again, with everything valid in it now cached
    assert models.model_errors(resource) == uncached_errors(resource)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_full_validation_is_the_same_with_the_caches(name, monkeypatch):
    resource = INVALID[name]()
    assert validate_resource(organization("warm-3")) == []  # the structure memo warmed too
    with monkeypatch.context() as m:
        m.setattr(adapter.validation, "is_pure_json", lambda _resource: False)  # both caches closed
        expected = validate_resource(copy.deepcopy(resource))
    assert expected
    assert validate_resource(resource) == expected
    assert validate_resource(resource) == expected


def structure_issues(resource: dict, memo: bool) -> list:
    return structure.check_structure(resource, get_rules(), pure_json=memo)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_the_structure_memo_reports_exactly_the_issues_of_a_full_walk(name):
    structure_issues(organization("warm-3"), True)
    resource = INVALID[name]()
    expected = structure_issues(resource, False)
    assert structure_issues(resource, True) == expected
    assert structure_issues(resource, True) == expected


def test_the_structure_memo_remembers_only_values_without_issues():
    structure._memo.clear()
    assert structure_issues(organization(), True) == []
    remembered = len(structure._memo)
    assert remembered > 0
    assert structure_issues(organization(type=[{"coding": [coding(code=5)]}]), True)
    assert all(b"\"code\":5" not in key[2] for key in structure._memo)


def test_the_structure_memo_is_not_used_beside_contained_resources():
    """`#id` resolves against the container's contained resources: the same reference is
    fine in one resource and wrong in another."""
    practitioner = {"resourceType": "Practitioner", "id": "p1"}
    fine = {"resourceType": "Task", "status": "draft", "intent": "plan", "contained": [practitioner],
            "owner": {"reference": "#p1"}}
    wrong = {"resourceType": "Task", "status": "draft", "intent": "plan",
             "contained": [{"resourceType": "Practitioner", "id": "p2"}], "owner": {"reference": "#p1"}}
    assert structure_issues(fine, True) == []
    assert structure_issues(wrong, True) == structure_issues(wrong, False) != []


def test_the_structure_memo_tells_containers_apart():
    """`#` is the container itself: an Identifier.assigner (Organization) may be `#` in an
    Organization, not in a Task, though the Identifier is the same."""
    identifier = [{"system": "https://example.org/id", "value": "1", "assigner": {"reference": "#"}}]
    ok = {"resourceType": "Organization", "identifier": identifier}
    bad = {"resourceType": "Task", "status": "draft", "intent": "plan", "identifier": identifier}
    for order in ((ok, bad), (bad, ok)):
        structure._memo.clear()
        for resource in order + order:
            assert structure_issues(resource, True) == structure_issues(resource, False)
    assert structure_issues(ok, True) == [] and structure_issues(bad, True) != []


def test_an_integer_beyond_64_bits_is_validated_without_the_caches(monkeypatch):
    """orjson cannot write it, so no key: both passes walk it as usual."""
    resource = organization(extension=[extension(valueInteger=2 ** 70)])
    with monkeypatch.context() as m:
        m.setattr(adapter.validation, "is_pure_json", lambda _resource: False)
        expected = validate_resource(copy.deepcopy(resource))
    assert expected and validate_resource(resource) == expected
    assert models.model_errors(resource) == uncached_errors(resource)
