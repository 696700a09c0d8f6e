"""The master's recycler (``directory/web/serving/recycle.py``) against a stand-in for
gunicorn's arbiter that does what gunicorn does with the signals it is sent: TTIN starts a
worker (which here is ready at once), TTOU stops the worker of the lowest age. The whole
stack, with gunicorn, is ``test_serving.py``'s."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest

from directory.web.serving import recycle
from directory.web.serving.recycle import Markers, Recycler


class Arbiter:
    """gunicorn's arbiter as the recycler sees it."""

    def __init__(self, markers: Markers, ages: dict[int, int]) -> None:
        self.markers = markers
        self.WORKERS = {pid: SimpleNamespace(age=age) for pid, age in ages.items()}
        self.num_workers = len(ages)
        self.worker_age = max(ages.values())
        self.timeout = 1
        self.cfg = SimpleNamespace(graceful_timeout=1)
        self.log = logging.getLogger("test-recycler")
        self.next_pid = max(ages) + 1
        self.stopped: list[int] = []

    def signal(self, sig: int) -> None:
        if sig == signal.SIGTTIN:
            self.num_workers += 1
            self.worker_age += 1
            pid, self.next_pid = self.next_pid, self.next_pid + 1
            self.WORKERS[pid] = SimpleNamespace(age=self.worker_age)
            self.markers.mark(pid, "ready")
        elif sig == signal.SIGTTOU:  # gunicorn's manage_workers: the lowest ages go
            self.num_workers -= 1
            oldest = min(self.WORKERS, key=lambda pid: self.WORKERS[pid].age)
            del self.WORKERS[oldest]
            self.stopped.append(oldest)


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """(arbiter, recycler, each worker's RSS in MB as the recycler reads it): two workers,
    101 the older, both ready at 100 MB and both having rebuilt their index after an
    import."""
    markers = Markers(tmp_path, os.getpid())
    arbiter = Arbiter(markers, {101: 1, 102: 2})
    rss = {101: 100.0, 102: 100.0}
    monkeypatch.setattr(recycle, "rss_mb", lambda pid: rss.get(pid, 100.0))
    real_kill = os.kill

    def kill(pid: int, sig: int) -> None:
        if pid == os.getpid() and sig in (signal.SIGTTIN, signal.SIGTTOU):
            arbiter.signal(sig)
        else:
            real_kill(pid, sig)

    monkeypatch.setattr(recycle.os, "kill", kill)
    for pid in (101, 102):
        markers.mark(pid, "ready")
    recycler = Recycler(arbiter, markers, growth_percent=30)
    recycler.step()  # notes both ready at 100 MB
    for pid in (101, 102):
        markers.mark(pid, "rebuilt")
    return arbiter, recycler, rss


def test_a_grown_younger_worker_is_replaced_though_the_oldest_has_not_grown(served):
    arbiter, recycler, rss = served
    rss.update({101: 110.0, 102: 150.0})  # 10% and 50%: only the younger past 30%
    recycler.step()
    assert arbiter.stopped == [102]
    assert sorted(arbiter.WORKERS) == [101, 103] and arbiter.num_workers == 2
    recycler.step()  # the older, not grown past the limit, stays; the new one is not rebuilt
    assert arbiter.stopped == [102]


def test_grown_workers_are_replaced_one_at_a_time_the_oldest_first(served):
    arbiter, recycler, rss = served
    rss.update({101: 140.0, 102: 150.0})
    recycler.step()
    assert arbiter.stopped == [101] and sorted(arbiter.WORKERS) == [102, 103]
    recycler.step()
    assert arbiter.stopped == [101, 102] and sorted(arbiter.WORKERS) == [103, 104]
    recycler.step()  # the new workers have not rebuilt: nothing more to do
    assert arbiter.stopped == [101, 102]


def test_no_worker_is_replaced_while_none_has_grown_past_the_limit(served):
    arbiter, recycler, rss = served
    rss.update({101: 129.0, 102: 120.0})
    recycler.step()
    assert arbiter.stopped == [] and sorted(arbiter.WORKERS) == [101, 102]
