"""adapter.heap: the garbage collector's settings for a gunicorn worker and for an import."""
from __future__ import annotations

import gc
import re
import weakref

import pytest

from adapter.heap import YOUNG_THRESHOLD, fewer_young_collections, post_worker_init, settle_heap


class _Node:
    itself = None


class _Log:
    def __init__(self):
        self.lines = []

    def info(self, message, *args):
        self.lines.append(message % args)


class _Worker:
    def __init__(self):
        self.log = _Log()


@pytest.fixture
def restored_gc():
    before = gc.get_threshold()
    yield before
    gc.unfreeze()
    gc.set_threshold(*before)


def _cycle_is_collected() -> bool:
    node = _Node()
    node.itself = node
    gone = weakref.ref(node)
    del node
    gc.collect()
    return gone() is None


def test_settling_freezes_what_exists_and_later_garbage_is_still_collected(restored_gc):
    frozen = settle_heap()
    assert frozen > 0 and gc.get_freeze_count() > 0  # not equal: frozen objects may be freed since
    assert gc.get_threshold() == (YOUNG_THRESHOLD, *restored_gc[1:])
    # Garbage made after the freeze (a cycle, as a parsed request body can hold) is collected.
    assert _cycle_is_collected()


def test_the_gunicorn_hook_settles_the_heap_and_logs_what_it_froze(restored_gc):
    worker = _Worker()
    post_worker_init(worker)
    assert gc.get_freeze_count() > 0
    # The count is the one at freezing time: frozen objects freed since (their last reference
    # dropped, e.g. by another thread) leave the permanent generation, so it is not compared with now.
    [line] = worker.log.lines
    found = re.fullmatch(r"dthub: worker heap settled, (\d+) start-up objects frozen out of garbage collection", line)
    assert found and int(found.group(1)) > 0


def test_an_import_collects_less_often_while_it_runs_and_leaves_the_settings_as_they_were(restored_gc):
    with fewer_young_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *restored_gc[1:])
        assert _cycle_is_collected()
    assert gc.get_threshold() == restored_gc
    with pytest.raises(KeyboardInterrupt):
        with fewer_young_collections():
            raise KeyboardInterrupt
    assert gc.get_threshold() == restored_gc
