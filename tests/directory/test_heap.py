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


def test_the_trimmer_hands_the_heap_back_after_a_response_at_most_once_an_interval():
    from flask import Response

    now = [100.0]
    trimmer = heap.Trimmer(interval=1.0, clock=lambda: now[0])
    trimmed: list[float] = []

    def respond() -> None:
        before = len(trimmed)
        response = trimmer(Response(b"{}"))
        assert len(trimmed) == before  # never before the response has been sent
        response.close()  # the server has sent it

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(heap, "trim", lambda: trimmed.append(now[0]))
        respond()  # within the interval of its making: nothing
        now[0] += 0.5
        respond()
        assert trimmed == []
        now[0] += 0.6
        respond()
        respond()  # the same moment: once
        assert trimmed == [101.1]
        now[0] += 5
        respond()
    assert trimmed == [101.1, 106.1]


def test_a_worker_trims_its_heap_after_responses_and_after_building_its_box_arrays(geo_settings):
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(heap, "_TRIM", lambda pad: calls.append("trim") or 1)
        patch.setattr(heap, "TRIM_INTERVAL_S", 0.0)
        app = create_app(geo_settings.with_overrides(freeze_heap=True, index_rebuild="inline"))
        try:
            client = app.test_client()
            calls.clear()
            response = client.get("/health")
            assert response.status_code == 200 and calls == []  # not before it is sent
            response.close()
            assert calls == ["trim"]
            boxes = app.extensions["directory"].boxes
            assert boxes._on_rebuild is heap.trim  # once its box arrays are built
            patch.setattr(boxes, "_on_rebuild", lambda: calls.append("boxes built"))
            whole = "/api/v1/services?bbox=-0.52,51.28,0.34,51.70"
            assert client.get(whole).status_code == 200 and boxes._index is not None
            assert calls.count("boxes built") == 1
        finally:
            app.extensions["directory"].db.dispose()
        off = create_app(geo_settings.with_overrides(freeze_heap=False, index_rebuild="inline"))
        try:
            calls.clear()
            off.test_client().get("/health").close()
            assert calls == []
        finally:
            off.extensions["directory"].db.dispose()
