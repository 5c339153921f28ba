"""The R4B model pass's cache of accepted nested elements (adapter/validation/model_cache.py):
as strict as no cache, and loud if fhir_core changes the shape it hooks."""
from __future__ import annotations

import contextlib
import copy
import enum
import uuid

import pytest
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from adapter.validation import model_cache, models, validate_resource

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
    model_cache.nested_cache = lambda _resource: contextlib.nullcontext()
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
def test_full_validation_is_the_same_with_the_cache(name):
    resource = INVALID[name]()
    with _cache_closed():
        expected = validate_resource(copy.deepcopy(resource))
    assert validate_resource(resource) == expected


def test_an_invalid_element_is_not_cached_and_stays_invalid():
    bad = organization(type=[{"coding": [BAD_CODING]}])
    first = raw_errors(bad)
    assert first and raw_errors(bad) == first
    assert models.model_errors(organization("after")) == []


def test_repeated_elements_are_validated_once():
    model_cache.clear()
    models.model_errors(organization("a"))
    misses = model_cache.stats["misses"]
    models.model_errors(organization("b"))
    # Only what differs (the identifier) is built again.
    assert model_cache.stats["misses"] - misses == 1
    assert model_cache.stats["hits"] > 0


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(model_cache, "MAX_ENTRIES", 3)
    for i in range(10):
        models.model_errors(organization(f"org-{i}"))
    assert len(model_cache._entries) == 3


def test_large_elements_are_not_cached(monkeypatch):
    monkeypatch.setattr(model_cache, "MAX_KEY_BYTES", 10)
    model_cache.clear()
    models.model_errors(organization())
    assert model_cache._entries == {} and model_cache.stats["hits"] == 0


class Colour(str, enum.Enum):
    BLUE = "blue"


@pytest.mark.parametrize("value", [
    Colour.BLUE, ("a",), uuid.UUID(int=1), float("nan"), float("inf"), {1: "a"}, b"x",
    type("S", (str,), {})("a"), type("I", (int,), {})(1),
])
def test_only_pure_json_opens_the_cache(value):
    assert not model_cache.is_pure_json({"a": [{"b": value}]})
    model_cache.clear()
    models.model_errors(organization(name="Acme", alias=[value]))
    assert model_cache.stats == {"hits": 0, "misses": 0}


def test_pure_json_is_recognised():
    assert model_cache.is_pure_json({"a": [1, 1.5, True, None, "x", {"b": []}]})


def test_a_resource_that_contains_itself_is_not_walked_forever():
    loop: dict = {"resourceType": "Organization"}
    loop["contained"] = [loop]
    assert not model_cache.is_pure_json(loop)


def test_instances_are_not_shared_outside_the_model_pass():
    cls = get_fhir_model_class("Organization")
    first, second = cls.model_validate(organization()), cls.model_validate(organization())
    assert first.type[0] is not second.type[0]


def test_the_hook_is_in_place_and_called():
    """Fails if fhir_core stops validating nested elements through the wrapped classmethod
    (the cache would then silently do nothing)."""
    assert model_cache.installed()
    model_cache.clear()
    models.model_errors(organization())
    assert model_cache.stats["misses"] > 0


def test_install_refuses_an_unknown_fhir_core_shape(monkeypatch):
    from fhir_core import types

    monkeypatch.setattr(model_cache, "_original", None)
    monkeypatch.setattr(types.FhirBase, "fhir_model_validator", classmethod(lambda cls, data: data))
    with pytest.raises(RuntimeError, match="model_cache.py"):
        model_cache.install()
