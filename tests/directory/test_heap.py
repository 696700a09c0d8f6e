"""Freezing the heap after the per-process caches are rebuilt (directory/web/heap.py)."""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref

import pytest

from directory.app import create_app
from directory.usecases.background import SWITCH_S, BackgroundJob, full_collections_paused, let_go
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


class _Generations:
    """The generations Python's collector starts collecting while the block runs."""

    def __init__(self) -> None:
        self.started: list[int] = []

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started.append(info["generation"])

    def __enter__(self) -> _Generations:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def _run(job: BackgroundJob, work) -> BaseException | None:  # type: ignore[no-untyped-def]
    """Run ``work`` as ``job`` to its end: what it raised (its assertions included)."""
    assert job.start(work)
    job.wait(30)
    assert not job.running
    return job.last_error


def test_while_a_background_job_runs_no_full_collection_starts_though_young_ones_do(unfrozen):
    gc.freeze()  # as a worker's heap is, and its count of long-lived objects reset:
    gc.collect()  # the next full collection is due a few hundred thousand objects later
    thresholds = gc.get_threshold()
    made: list[list[int]] = []

    def build() -> None:  # long-lived objects, as an index build makes
        assert full_collections_paused()
        assert gc.get_threshold()[:2] == thresholds[:2]
        made.extend([i] for i in range(300_000))

    with _Generations() as collections:
        assert _run(BackgroundJob("build", "build failed"), build) is None
    assert len(made) == 300_000
    assert 0 in collections.started  # the young generations are collected as before
    assert 2 not in collections.started
    assert not full_collections_paused() and gc.get_threshold() == thresholds
    gc.freeze()
    gc.collect()
    with _Generations() as collections:  # no job: the same allocations set off full ones
        again = [[i] for i in range(300_000)]
    assert len(again) == 300_000 and 2 in collections.started


def test_full_collections_resume_when_the_last_of_several_jobs_ends_failed_or_not(caplog):
    thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
    first, second = BackgroundJob("first", "first failed"), BackgroundJob("second", "second failed")
    release = threading.Event()
    assert first.start(lambda: release.wait(30))

    def broken() -> None:
        raise RuntimeError("database went away")

    assert isinstance(_run(second, broken), RuntimeError)
    assert full_collections_paused()  # the first still runs
    assert sys.getswitchinterval() == min(SWITCH_S, switch)  # the lock changes hands sooner
    release.set()
    first.wait(30)
    assert not full_collections_paused() and gc.get_threshold() == thresholds
    assert sys.getswitchinterval() == switch


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_process_forked_while_a_job_runs_collects_as_before():
    thresholds, switch = gc.get_threshold(), sys.getswitchinterval()
    job, release = BackgroundJob("held", "held failed"), threading.Event()
    assert job.start(lambda: release.wait(30))
    try:
        assert full_collections_paused()
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: the job's thread was not forked
            ok = not full_collections_paused() and gc.get_threshold() == thresholds
            ok = ok and sys.getswitchinterval() == switch
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert answer == b"1"
    finally:
        release.set()
        job.wait(30)


def test_settle_on_a_background_job_freezes_without_a_full_collection(unfrozen):
    class Node:
        pass

    old = Node()
    old.cycle = old  # type: ignore[attr-defined]  # garbage only the full collector finds
    gone = weakref.ref(old)
    heap.settle()  # an inline build's: frozen with the rest
    del old
    made: list[list[int]] = []

    def build() -> None:
        made.extend([i] for i in range(1000))
        with _Generations() as collections:
            heap.settle()
        assert collections.started and max(collections.started) <= 1

    assert _run(BackgroundJob("build", "build failed"), build) is None
    assert not any(o is made for o in gc.get_objects())  # frozen, skipped by collections
    assert gone() is not None  # left frozen: no full collection walked the heap
    heap.settle()  # the next inline build's: what was frozen is collected
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


class _Node:
    pass


def test_let_go_empties_what_only_the_value_holds_and_nothing_shared():
    value, inner = _Node(), _Node()
    value.services = {n: _Node() for n in range(5000)}  # type: ignore[attr-defined]
    value.order = list(range(5000))  # type: ignore[attr-defined]
    value.inner = inner  # type: ignore[attr-defined]
    inner.cells = {n: [n] * 3 for n in range(3000)}  # type: ignore[attr-defined]
    shared_list, shared_dict, shared_node = [1, 2, 3], {"a": 1}, _Node()
    shared_node.kept = [4, 5]  # type: ignore[attr-defined]
    value.shared_list, value.shared_dict = shared_list, shared_dict  # type: ignore[attr-defined]
    value.shared_node = shared_node  # type: ignore[attr-defined]
    long_shared = list(range(500))  # longer than a piece: the dict branch looks inside
    value.both = {"shared": shared_list, "own": list(range(2000)), "long": long_shared}  # type: ignore[attr-defined]
    pieces: list[int] = []

    class Recorded(list):  # type: ignore[type-arg]
        def __delitem__(self, key: slice) -> None:  # type: ignore[override]
            pieces.append(len(self[key]))
            super().__delitem__(key)

    value.sites = Recorded(range(1050))  # type: ignore[attr-defined]
    one = weakref.ref(value.services[7])  # type: ignore[attr-defined]
    inner_gone = weakref.ref(inner)
    del inner
    assert let_go(value, chunk=100)
    assert vars(value) == {} and one() is None and inner_gone() is None
    assert shared_list == [1, 2, 3] and shared_dict == {"a": 1}
    assert shared_node.kept == [4, 5]  # type: ignore[attr-defined]
    assert long_shared == list(range(500))
    assert pieces == [100] * 10 + [50]  # a hundred at a time


def test_let_go_leaves_a_value_something_else_still_reads():
    value = _Node()
    value.services = list(range(1000))  # type: ignore[attr-defined]
    reader = {"index": value}  # a request still answering from it
    assert not let_go(value)
    assert reader["index"].services == list(range(1000))


def test_sorted_in_pieces_is_sorted_and_stable():
    import random

    from directory.usecases.background import sorted_in_pieces

    rng = random.Random(7)
    items = [(rng.choice("abcdef") * rng.randint(1, 4), n) for n in range(20_000)]
    by_name = lambda item: item[0]  # noqa: E731 - ties: stability decides their order
    assert sorted_in_pieces(items, by_name, piece=1000) == sorted(items, key=by_name)
    assert sorted_in_pieces(items[:5], by_name, piece=1000) == sorted(items[:5], key=by_name)
    assert sorted_in_pieces([], by_name) == []
