"""The master's recycler (``directory/web/serving/recycle.py``) against a stand-in for
gunicorn's arbiter that does what gunicorn does with the signals it is sent: TTIN starts a
worker (which here is ready at once), TTOU stops the worker of the lowest age. The whole
stack, with gunicorn, is ``test_serving.py``'s."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from directory.web.serving import recycle, reload
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
        self.new_ready = True  # whether a worker started is ready (its index made)

    def signal(self, sig: int) -> None:
        if sig == signal.SIGTTIN:
            self.num_workers += 1
            self.worker_age += 1
            pid, self.next_pid = self.next_pid, self.next_pid + 1
            self.WORKERS[pid] = SimpleNamespace(age=self.worker_age)
            if self.new_ready:
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


def test_a_grown_worker_is_not_replaced_with_the_growth_limit_off(served):
    arbiter, _, rss = served
    recycler = Recycler(arbiter, arbiter.markers, growth_percent=None)
    recycler.step()
    rss.update({101: 500.0, 102: 500.0})
    recycler.step()
    assert arbiter.stopped == [] and sorted(arbiter.WORKERS) == [101, 102]


def test_a_reload_replaces_every_worker_one_at_a_time_and_answers(served):
    """``directory reload``'s request: every worker serving then is replaced, the oldest
    (by gunicorn's age, not its pid) first, each by a new worker ready before it stops;
    then the answer (what was done) takes the request's place. The markers of workers
    gone are removed, the request's files are not."""
    arbiter, recycler, _ = served
    arbiter.WORKERS[101].age = 3  # 102 is now the oldest
    markers = arbiter.markers
    answer = markers.request_reload("t1")
    recycler.step()
    assert arbiter.stopped == [102, 101] and sorted(arbiter.WORKERS) == [103, 104]
    assert markers.reload_requests() == [] and answer.exists()
    done = json.loads(answer.read_text("utf-8"))
    assert done["replaced"] == [102, 101] and done["workers"] == [103, 104]
    assert done["failed"] is None
    recycler.step()  # answered once: nothing more
    assert arbiter.stopped == [102, 101] and answer.exists()
    assert not markers.has(101, "ready") and markers.has(103, "ready")


def test_a_reload_keeps_the_old_worker_when_its_replacement_is_not_ready(
    served, monkeypatch: pytest.MonkeyPatch
):
    """A new worker not ready in time: a reload stops it, not the old one (which runs the
    code it started with), and answers that it failed."""
    arbiter, recycler, _ = served
    monkeypatch.setattr(recycle, "READY_WAIT_SECONDS", 0.3)
    arbiter.new_ready = False
    answer = arbiter.markers.request_reload("t2")
    recycler.step()
    assert arbiter.stopped == [103] and sorted(arbiter.WORKERS) == [101, 102]
    done = json.loads(answer.read_text("utf-8"))
    assert done["replaced"] == [] and "worker 101" in done["failed"]
    assert "no new worker was ready" in done["failed"]


def test_a_hup_during_a_reload_stops_it_and_no_worker_is_lost(served):
    """A HUP while a reload waits for its new worker: gunicorn sets the number of workers
    back to its setting, starts new ones and stops the old ones itself. The reload stops
    nothing more (its TTOU would have left the server a worker short for good) and
    answers that it was interrupted."""
    arbiter, recycler, _ = served
    hup = arbiter.signal

    def signal_then_hup(sig: int) -> None:
        hup(sig)
        if sig == signal.SIGTTIN:  # the HUP comes before the new worker is ready
            arbiter.num_workers = 2
            for pid in list(arbiter.WORKERS):
                del arbiter.WORKERS[pid]
            for pid in (201, 202):
                arbiter.WORKERS[pid] = SimpleNamespace(age=10)
                arbiter.markers.mark(pid, "ready")

    arbiter.signal = signal_then_hup
    answer = arbiter.markers.request_reload("t3")
    recycler.step()
    assert arbiter.stopped == [] and arbiter.num_workers == 2
    assert sorted(arbiter.WORKERS) == [201, 202]
    done = json.loads(answer.read_text("utf-8"))
    assert done["replaced"] == [] and "changed meanwhile" in done["failed"]


def test_a_reload_that_fails_is_answered_once(served, monkeypatch: pytest.MonkeyPatch):
    """An error in the middle of a reload: the request is answered with it (the command
    does not wait for ever), and the next look does not start the reload again."""
    arbiter, recycler, _ = served

    def broken(*_: object, **__: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(recycler, "replace", broken)
    answer = arbiter.markers.request_reload("t4")
    recycler.step()
    done = json.loads(answer.read_text("utf-8"))
    assert done["failed"] == "reloading failed: OSError: No space left on device"
    assert arbiter.markers.reload_requests() == []


def test_the_servers_of_an_instance_directory_are_its_live_gunicorn_masters(
    tmp_path: Path,
) -> None:
    """A master's directory left by a killed master is not counted, nor one whose pid is
    now another program's."""
    looks_like_gunicorn = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "gunicorn"]
    )
    try:
        Markers(tmp_path, looks_like_gunicorn.pid).create()
        Markers(tmp_path, os.getpid()).create()  # alive, but pytest's
        dead = subprocess.Popen(["true"])
        dead.wait()
        Markers(tmp_path, dead.pid).create()
        (tmp_path / "workers-x").mkdir()
        assert reload.masters(tmp_path) == [looks_like_gunicorn.pid]
    finally:
        looks_like_gunicorn.kill()
        looks_like_gunicorn.wait()


def test_waiting_for_a_reload_says_why_one_did_not_come(tmp_path: Path) -> None:
    """A master started before the reload existed removes the request as a stray marker;
    a master that stopped answers nothing; an answer that cannot be read is a failure:
    each is said, rather than waited on until the timeout."""
    old = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        Markers(tmp_path, old.pid).create()
        answers = reload.ask(tmp_path, [old.pid])
        Markers(tmp_path, old.pid).forget_all_but(set())  # what an older master did
        for request in Markers(tmp_path, old.pid).reload_requests():
            request.unlink()
        [(master, done)] = list(reload.wait(answers, timeout=5))
        assert master == old.pid and "did not take the request" in done["failed"]
        answers = reload.ask(tmp_path, [old.pid])
        answers[old.pid].write_text("{not json", encoding="utf-8")
        [(_, done)] = list(reload.wait(answers, timeout=5))
        assert "could not be read" in done["failed"]
        answers = reload.ask(tmp_path, [old.pid])
    finally:
        old.kill()
        old.wait()
    [(_, done)] = list(reload.wait(answers, timeout=5))
    assert done == {"failed": "the server stopped before it was reloaded"}


def test_waiting_for_a_reload_gives_up_after_its_timeout(tmp_path: Path) -> None:
    Markers(tmp_path, os.getpid()).create()
    answers = reload.ask(tmp_path, [os.getpid()])
    with pytest.raises(reload.ReloadError, match="Not reloaded after 1 s"):
        list(reload.wait(answers, timeout=1))
