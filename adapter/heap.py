"""The garbage collector's settings for how we allocate: many short-lived documents at a time.

Why: a search page parses 50 stored resources into tens of thousands of dicts and lists, and an
import batch maps and validates hundreds of records; both stay alive until the page is written or
the batch stored. CPython's defaults (a young collection every 700 allocations) then collect over
and over without finding garbage: each young collection only promotes the live documents, and
they soon trigger full collections, which walk every tracked object, including the app's own
(models, profiles, terminology, search definitions: ~95,000 objects). Measured on the all-England
store, that was more than half of a 50-entry search's time in-process (7-11 ms a page; 3.5-4 ms
with the app's objects frozen, ~3.4 ms with young collections every 20,000 allocations too), and
a fifth of an import's time (a 1,500-practice package: 16.1-16.9 s, 13.1-13.5 s).

- `settle_heap()`: for a gunicorn worker once the app is built (`post_worker_init`, set by the
  root `gunicorn.conf.py`, which gunicorn loads from the working directory by default, and by
  `dthub serve`). `gc.freeze()` moves what exists to a permanent generation that collections
  skip; garbage made later is collected as before. Never called from `create_app()`: a test
  process builds many apps, and frozen cycles are never collected.
- `fewer_young_collections()`: for the length of an import, in the importing process (restored
  after, so a caller's process is left as it was), and for good in its worker processes.

Unreachable cycles wait a little longer for their collection; memory is not otherwise affected.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000


def young_collections_less_often() -> None:
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(YOUNG_THRESHOLD, young), middle, old)


@contextmanager
def fewer_young_collections():
    before = gc.get_threshold()
    young_collections_less_often()
    try:
        yield
    finally:
        gc.set_threshold(*before)


def settle_heap() -> int:
    """Collect what start-up left over, freeze the rest and collect the young generation less
    often. Returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    young_collections_less_often()
    return gc.get_freeze_count()


def post_worker_init(worker) -> None:
    """gunicorn hook: runs in each worker just after it has loaded the app."""
    frozen = settle_heap()
    worker.log.info("dthub: worker heap settled, %d start-up objects frozen out of garbage collection", frozen)
