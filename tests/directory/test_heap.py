"""Freezing the heap after the per-process caches are rebuilt (directory/web/heap.py)."""

from __future__ import annotations

import gc
import weakref

import pytest

from directory.app import create_app
from directory.web import heap


@pytest.fixture()
def unfrozen():  # type: ignore[no-untyped-def]
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_settle_freezes_what_is_alive_and_frees_what_an_earlier_settle_froze(unfrozen):
    class Node:
        pass

    old = Node()
    old.cycle = old  # type: ignore[attr-defined]  # only the cyclic collector can free it
    gone = weakref.ref(old)
    heap.settle()
    assert gc.get_freeze_count() > 0
    del old
    heap.settle()  # the next rebuild: what the previous one froze is collectable again
    assert gone() is None


def test_a_worker_settles_its_heap_after_building_its_caches(geo_settings, unfrozen):
    app = create_app(geo_settings.with_overrides(freeze_heap=True))
    try:
        assert gc.get_freeze_count() == 0
        assert app.test_client().get("/api/v1/patch?postcode=KT1 1EU").status_code == 200
        assert gc.get_freeze_count() > 0
    finally:
        app.extensions["directory"].db.dispose()


def test_the_setting_turns_it_off(geo_settings, unfrozen):
    app = create_app(geo_settings.with_overrides(freeze_heap=False))
    try:
        assert app.test_client().get("/api/v1/patch?postcode=KT1 1EU").status_code == 200
        assert gc.get_freeze_count() == 0
    finally:
        app.extensions["directory"].db.dispose()
