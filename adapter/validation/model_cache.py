"""A bounded cache of nested elements the R4B models have already accepted.

    with nested_cache(resource):          # on only while validating a pure-JSON resource
        cls.model_validate(resource)

Most of a resource's nested elements (meta, codings, references, periods, extensions) repeat
exactly across resources, and the models rebuild each one, with a Python hook per element.
fhir_core validates every nested complex element through one classmethod,
`FhirBase.fhir_model_validator(value, model_klass)`: for a dict it is exactly
`model_klass.model_validate(value)` plus two type checks, with no context, so its result
depends on (model_klass, value) alone. This module wraps that classmethod (fhir_core offers no
hook, hence the patch, kept here alone): while a `nested_cache` is open, a dict whose exact
JSON text was accepted before for the same class gets the instance built then. Only successes
are cached: a failing element is validated again, so errors and their locations are exactly
those of an uncached run. `install()` refuses (raises) if fhir_core no longer has that shape;
tests/unit/test_validation_caches.py fails if the hook stops being called.

The key is the element's JSON text, so it is only used for pure JSON (dict with str keys, list,
str, int, float, bool, None; `is_pure_json`): there the text decides the value, while e.g. an
Enum, a UUID or a tuple would serialise like a string or a list that validates differently.
Instances are shared between the resources that hit them: nothing may keep or change them,
which is why the cache is only open inside `models.model_errors`, which discards the model.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

import orjson

MAX_ENTRIES = 8192
MAX_KEY_BYTES = 2048  # a bigger subtree seldom repeats; its parts are cached on their own
MAX_NODES = 1_000_000  # is_pure_json gives up (no cache) beyond this many values

_open: ContextVar[bool] = ContextVar("dthub_model_cache_open", default=False)
_lock = threading.Lock()
_entries: OrderedDict[tuple[type, bytes], object] = OrderedDict()
_original = None  # fhir_core's own function, once installed
stats = {"hits": 0, "misses": 0}


_LEAVES = frozenset({str, int, bool, type(None)})


def is_pure_json(value) -> bool:
    """Only JSON's own types, exactly (no subclasses), str keys, and finite floats."""
    stack = [value]
    pop, extend = stack.pop, stack.extend
    budget = MAX_NODES  # a dict that contains itself is not JSON: stop rather than loop
    while stack:
        budget -= 1
        if budget < 0:
            return False
        item = pop()
        kind = type(item)
        if kind is dict:
            for key in item:
                if type(key) is not str:
                    return False
            extend(item.values())
        elif kind is list:
            extend(item)
        elif kind is float:
            if not math.isfinite(item):  # orjson writes NaN and infinities as null
                return False
        elif kind not in _LEAVES:
            return False
    return True


@contextmanager
def nested_cache(resource, pure_json: bool | None = None) -> Iterator[None]:
    """Open the cache for this validation when `resource` is pure JSON (else a no-op);
    `pure_json` is `is_pure_json(resource)` when the caller has found it already."""
    token = _open.set(is_pure_json(resource) if pure_json is None else pure_json)
    try:
        yield
    finally:
        _open.reset(token)


def _validator(cls, value, model_klass):
    if type(value) is not dict or not _open.get():
        return _original(cls, value, model_klass)
    try:
        text = orjson.dumps(value)
    except TypeError:  # e.g. a lone surrogate in a string: no key, validate as usual
        return _original(cls, value, model_klass)
    if len(text) > MAX_KEY_BYTES:
        return _original(cls, value, model_klass)
    key = (model_klass, text)
    with _lock:
        instance = _entries.get(key)
        if instance is not None:
            _entries.move_to_end(key)
            stats["hits"] += 1
            return instance
    instance = _original(cls, value, model_klass)  # raises on invalid input: nothing is cached
    key = (model_klass, bytes(memoryview(text)))  # orjson's bytes keep a 4 KiB buffer: an exact copy
    with _lock:
        stats["misses"] += 1
        _entries[key] = instance
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return instance


def clear() -> None:
    with _lock:
        _entries.clear()
        stats.update(hits=0, misses=0)


def install() -> None:
    """Wrap fhir_core's nested-element validator (idempotent). Raises if its shape changed."""
    global _original
    if _original is not None:
        return
    from fhir_core import types

    base = getattr(types, "FhirBase", None)
    method = vars(base).get("fhir_model_validator") if isinstance(base, type) else None
    function = getattr(method, "__func__", None)
    code = getattr(function, "__code__", None)
    if not isinstance(method, classmethod) or code is None or \
            code.co_varnames[:code.co_argcount] != ("cls", "value", "model_klass"):
        raise RuntimeError("fhir_core.types.FhirBase.fhir_model_validator(cls, value, model_klass) "
                           "is not there any more: adapter/validation/model_cache.py needs updating")
    _original = function
    base.fhir_model_validator = classmethod(_validator)


def installed() -> bool:
    from fhir_core import types

    method = vars(types.FhirBase).get("fhir_model_validator")
    return getattr(method, "__func__", None) is _validator
