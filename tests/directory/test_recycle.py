"""The master's recycler (``directory/web/serving/recycle.py``) against a stand-in for
gunicorn's arbiter that does what gunicorn does with the signals it is sent: TTIN starts a
worker (which here is ready at once), TTOU stops the worker of the lowest age. The whole
stack, with gunicorn, is ``test_serving.py``'s."""

from __future__ import annotations

import json
import logging
import os
import pwd
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from directory.settings import Settings
from directory.store.db import sqlite_path
from directory.web.serving import gunicorn as gunicorn_settings
from directory.web.serving import recycle, reload
from directory.web.serving.recycle import Markers, Recycler
from tests.conftest import demo_copy, files_limited_to
from tests.servers import DIRECTORY, settings_env


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
        self.started_with: list[dict[str, str] | None] = []  # each new worker's settings

    def signal(self, sig: int) -> None:
        if sig == signal.SIGTTIN:
            self.started_with.append(self.markers.settings())  # (what a new worker reads)
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


def test_with_a_growth_limit_of_0_every_rebuilt_worker_is_replaced_whatever_its_memory(
    served,
):
    """0 is "after every rebuild": a small worker's RSS moves by a few MB either way (glibc's
    trim), and one that reads less than when it was ready is replaced all the same; a worker
    that has not rebuilt is not."""
    arbiter, _, rss = served
    recycler = Recycler(arbiter, arbiter.markers, growth_percent=0)
    recycler.step()  # notes both ready at 100 MB
    rss.update({101: 97.0, 102: 100.0})
    recycler.step()
    recycler.step()
    assert arbiter.stopped == [101, 102] and sorted(arbiter.WORKERS) == [103, 104]
    recycler.step()  # the new workers have not rebuilt
    assert arbiter.stopped == [101, 102]


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


def test_a_reload_whose_answer_cannot_be_written_says_so(served):
    """On a full disk the master reloaded but could not write its answer: it removed the
    request, leaving an empty ``.partial``, and the command said "the server did not take
    the request: one started before `directory reload` existed removes it; restart that
    server once". The request is now left as taken but not answered, the command says so,
    and nothing of it stays."""
    arbiter, recycler, _ = served
    markers = arbiter.markers
    answer = markers.request_reload("t9")
    with files_limited_to(0):  # (the answer's bytes are refused; names and renames are not)
        recycler.step()
    assert arbiter.stopped == [101, 102]  # the reload ran
    assert sorted(p.name for p in markers.dir.glob("reload-t9*")) == ["reload-t9.unanswered"]
    [(master, done)] = list(reload.wait({os.getpid(): answer}, timeout=5))
    assert master == os.getpid()
    assert done["failed"].startswith("the server took the request but could not write its answer")
    assert "restart" not in done["failed"]
    assert list(markers.dir.glob("reload-t9*")) == []
    recycler.step()  # not run again
    assert arbiter.stopped == [101, 102]


def test_a_master_that_cannot_make_its_workers_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An instance directory the server cannot write (read-only, full, a file) leaves it
    no folder for its workers' markers: no reload reaches it and no grown worker is
    replaced. That was silent until `directory reload` found no server; the master's log
    now says so at its start."""
    instance = tmp_path / "instance"
    instance.write_text("a file where the instance folder should be")
    monkeypatch.setenv("DIRECTORY_INSTANCE_DIR", str(instance))
    monkeypatch.setenv("DIRECTORY_DATABASE_URL", f"sqlite:///{tmp_path / 'd.sqlite3'}")
    started: list[str] = []
    monkeypatch.setattr(
        gunicorn_settings.threading,
        "Thread",
        lambda **kwargs: SimpleNamespace(start=lambda: started.append(kwargs["name"])),
    )
    master = SimpleNamespace(pid=os.getpid(), log=logging.getLogger("test-master"))
    with caplog.at_level(logging.WARNING, "test-master"):
        gunicorn_settings.when_ready(master)
    [record] = caplog.records
    said = record.getMessage()
    assert said.startswith(f"cannot make {instance}/workers-{os.getpid()} (Not a directory)")
    assert "`directory reload` cannot reach this server" in said
    assert started == ["directory-recycler"]  # (it serves on as before)


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


def test_a_request_taken_back_during_its_reload_leaves_no_answer(served):
    """A command that stopped waiting (its timeout, Ctrl-C) takes its request back; the
    reload already under way goes on, but writes no answer that no one would read or
    remove."""
    arbiter, recycler, _ = served
    answer = arbiter.markers.request_reload("t5")
    started = arbiter.signal

    def taken_back_meanwhile(sig: int) -> None:
        started(sig)
        Markers.request_of(answer).unlink(missing_ok=True)

    arbiter.signal = taken_back_meanwhile
    recycler.step()
    assert arbiter.stopped == [101, 102]  # the reload went on
    assert not answer.exists()
    assert not [p for p in arbiter.markers.dir.iterdir() if p.suffix in (".done", ".partial")]


def test_waiting_for_a_reload_removes_an_answer_that_came_as_it_gave_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An answer written after the command's last look, as it gives up, is removed with the
    request: nothing of the reload is left in the workers' directory."""
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    answers = reload.ask(tmp_path, [os.getpid()])
    [answer] = answers.values()

    def answered_after_the_look(master: int, path: Path) -> None:
        markers.answer_reload(Markers.request_of(path), {"failed": None})

    monkeypatch.setattr(reload, "_answer", answered_after_the_look)
    with pytest.raises(reload.ReloadError, match="Not reloaded after 0 s"):
        list(reload.wait(answers, timeout=0))
    assert not answer.exists() and not Markers.request_of(answer).exists()
    assert sorted(p.name for p in markers.dir.iterdir()) == [recycle.TAKES_SETTINGS]


@pytest.fixture()
def master_environment():
    """The process's DIRECTORY_* environment as a served master's; the whole environment
    put back after (a worker's settings are set in it directly, as in a worker)."""
    kept = dict(os.environ)
    for name in [name for name in os.environ if name.startswith("DIRECTORY_")]:
        del os.environ[name]
    os.environ["DIRECTORY_PUBLIC_URL"] = "https://old.example"
    yield
    os.environ.clear()
    os.environ.update(kept)


def _directory_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name.startswith("DIRECTORY_")}


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _done(answer: Path) -> dict:
    return json.loads(answer.read_text("utf-8"))


def test_a_reload_with_settings_gives_them_to_every_worker_started_since(
    served, master_environment
):
    """``directory reload --settings``: the request (mode 0600: it may hold a database
    password) names the command's DIRECTORY_* environment; the master writes it, 0600 too,
    where every worker it starts from then on reads it, before the first, replaces every
    worker, and says so. Its own environment does not change. A setting the master's
    code does not know (a newer one the command's does) is not its to refuse."""
    arbiter, recycler, _ = served
    new = {"DIRECTORY_PUBLIC_URL": "https://new.example", "DIRECTORY_NEWER_SETTING": "6"}
    answer = arbiter.markers.request_reload("s1", new)
    assert _mode(arbiter.markers.request("s1")) == 0o600
    recycler.step()
    done = _done(answer)
    assert done["failed"] is None and done["settings"] is True and done["replaced"] == [101, 102]
    assert arbiter.started_with == [new, new]
    assert _mode(arbiter.markers.dir / recycle.SETTINGS_FILE) == 0o600
    assert _directory_environment() == {"DIRECTORY_PUBLIC_URL": "https://old.example"}
    arbiter.markers.forget_all_but(set())  # (the workers' markers go; the settings stay)
    assert arbiter.markers.settings() == new
    answer = arbiter.markers.request_reload("s2")  # no settings (an empty file, as before)
    assert arbiter.markers.request("s2").read_text() == ""
    recycler.step()
    assert _done(answer)["settings"] is False and arbiter.started_with[2:] == [new, new]


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("DIRECTORY_UPLOAD_SECONDS", "240", "DIRECTORY_UPLOAD_SECONDS would change"),
        ("DIRECTORY_LOG_FORMAT", "json", "DIRECTORY_LOG_FORMAT would change"),
        ("DIRECTORY_LOG_LEVEL", "DEBUG", "DIRECTORY_LOG_LEVEL would change"),
        ("DIRECTORY_INSTANCE_DIR", "/elsewhere", "DIRECTORY_INSTANCE_DIR would change"),
        ("DIRECTORY_WORKER_RECYCLE_GROWTH", "10", "DIRECTORY_WORKER_RECYCLE_GROWTH would change"),
        ("DIRECTORY_INDEX_REBUILD", "inline", "DIRECTORY_INDEX_REBUILD would change"),
        ("DIRECTORY_LOG_FORMAT", "s3cr3t", "not what the server's master can read"),
    ],
)
def test_a_reload_refuses_settings_the_master_reads_itself(
    served, master_environment, setting: str, value: str, said: str
):
    """A setting gunicorn's master took at its start (its worker timeout, its logging,
    where these files are, its recycling) cannot change without a restart: nothing is
    replaced, no worker is given the settings, and the answer names them, never a value."""
    arbiter, recycler, _ = served
    answer = arbiter.markers.request_reload("s3", {**_directory_environment(), setting: value})
    recycler.step()
    done = _done(answer)
    assert said in done["failed"] and "nothing was reloaded" in done["failed"]
    assert value not in done["failed"]
    assert done["replaced"] == [] and arbiter.stopped == [] and done["settings"] is False
    assert arbiter.markers.settings() is None


def test_a_request_that_cannot_be_read_is_answered_and_the_others_run(served, master_environment):
    """One request giving what is not DIRECTORY_* settings is refused alone; the plain
    requests queued with it are one round, answered together."""
    arbiter, recycler, _ = served
    bad = arbiter.markers.request_reload("1-bad", {"DIRECTORY_PUBLIC_URL": "x"})
    arbiter.markers.request("1-bad").write_text('{"settings": {"PATH": "/bin"}}')
    plain = [arbiter.markers.request_reload(f"2-plain-{i}") for i in range(2)]
    recycler.step()
    assert "could not be read" in _done(bad)["failed"]
    assert [_done(answer)["replaced"] for answer in plain] == [[101, 102], [101, 102]]
    assert arbiter.markers.settings() is None and arbiter.stopped == [101, 102]


def test_a_request_giving_settings_is_a_round_of_its_own_in_the_order_asked(
    served, master_environment
):
    """A request giving settings is a round of its own, in the order asked: plain requests
    asked before it share a round, those asked after it wait for the next."""
    arbiter, recycler, _ = served
    new = {"DIRECTORY_PUBLIC_URL": "https://new.example"}
    before = arbiter.markers.request_reload("1-before")
    giving = arbiter.markers.request_reload("2-giving", new)
    after = arbiter.markers.request_reload("3-after")
    recycler.step()
    assert _done(before)["settings"] is False and not giving.exists() and not after.exists()
    recycler.step()
    assert _done(giving)["settings"] is True and not after.exists()
    recycler.step()
    assert _done(after)["settings"] is False
    assert arbiter.started_with == [None, None, new, new, new, new]


def test_a_reload_with_settings_that_fails_says_they_stay(
    served, master_environment, monkeypatch: pytest.MonkeyPatch
):
    """No new worker ready in time: the workers serving keep the settings they started
    with, and the new settings stay for any worker started later (one may have started
    with them), which the answer says."""
    arbiter, recycler, _ = served
    monkeypatch.setattr(recycle, "READY_WAIT_SECONDS", 0.3)
    arbiter.new_ready = False
    new = {"DIRECTORY_PUBLIC_URL": "https://new.example"}
    answer = arbiter.markers.request_reload("s5", new)
    recycler.step()
    done = _done(answer)
    assert "no new worker was ready" in done["failed"] and "settings stay" in done["failed"]
    assert sorted(arbiter.WORKERS) == [101, 102] and arbiter.markers.settings() == new


def test_settings_are_written_for_the_servers_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request and the settings are 0600; written by root for a server of another user
    (the directory's owner), they are given to that user: the server can read them, and
    no one else. A plain request is an empty file, which the master does not open (root's
    own, of whatever mode its umask gives)."""
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    owner = markers.dir.stat()
    given: list[tuple[int, int]] = []
    monkeypatch.setattr(recycle.os, "geteuid", lambda: 0)
    monkeypatch.setattr(recycle.os, "fchown", lambda fd, uid, gid: given.append((uid, gid)))
    monkeypatch.setattr(
        Path, "stat",
        lambda self, **kw: _owned_by(os.stat(self, **kw), 4321) if self == markers.dir
        else os.stat(self, **kw),
    )  # fmt: skip
    markers.request_reload("t", {"DIRECTORY_PUBLIC_URL": "https://n.example"})
    markers.give_settings({"DIRECTORY_PUBLIC_URL": "https://n.example"})
    assert given == [(4321, owner.st_gid), (4321, owner.st_gid)]
    monkeypatch.undo()
    for path in (markers.request("t"), markers.dir / recycle.SETTINGS_FILE):
        assert _mode(path) == 0o600
    markers.request_reload("u")

    def unreadable(*_: object, **__: object) -> str:
        raise PermissionError(13, "Permission denied")  # (as another user's may be)

    monkeypatch.setattr(Path, "read_text", unreadable)
    assert Markers.requested_settings(markers.request("u")) is None


def _owned_by(found: os.stat_result, uid: int) -> os.stat_result:
    fields = list(found)
    fields[4] = uid  # st_uid
    return os.stat_result(fields)


def test_a_new_worker_takes_the_settings_a_reload_gave(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, master_environment, caplog
):
    """``post_fork``: a worker started after ``reload --settings`` has exactly the settings
    it gave (a DIRECTORY_* setting it did not name is gone); without any, the master's; a
    file that cannot be read, or settings no environment can hold, are logged and the
    master's kept."""
    monkeypatch.setattr(
        gunicorn_settings, "_SETTINGS", Settings.from_env({"DIRECTORY_INSTANCE_DIR": str(tmp_path)})
    )
    worker = SimpleNamespace(ppid=os.getpid(), pid=4242, log=logging.getLogger("test-worker"))
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    gunicorn_settings._take_reloaded_settings(worker)
    assert _directory_environment() == {"DIRECTORY_PUBLIC_URL": "https://old.example"}
    for text, said in [
        ("[1, 2", "cannot be read"),
        ('{"DIRECTORY_PUBLIC_URL": "a\\u0000b"}', "cannot be read"),  # (JSON's escape)
        ('{"DIRECTORY_PUBLIC_URL": "\\ud800"}', "cannot be set"),  # (none can be encoded)
    ]:
        (markers.dir / recycle.SETTINGS_FILE).write_text(text, encoding="utf-8")
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="test-worker"):
            gunicorn_settings._take_reloaded_settings(worker)
        assert said in caplog.text, text
        assert _directory_environment() == {"DIRECTORY_PUBLIC_URL": "https://old.example"}
    markers.give_settings({"DIRECTORY_GZIP_LEVEL": "6"})
    gunicorn_settings._take_reloaded_settings(worker)
    assert _directory_environment() == {"DIRECTORY_GZIP_LEVEL": "6"}


def test_asking_for_a_reload_with_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A master started before ``--settings`` existed (no sign that it takes them), or of
    another user when the command is not root, is refused before any is asked."""
    settings = {"DIRECTORY_PUBLIC_URL": "https://n.example"}
    markers = Markers(tmp_path, os.getpid())
    markers.mark(1, "ready")  # (its directory, without the sign)
    with pytest.raises(reload.ReloadError, match="started before .* cannot take new settings"):
        reload.ask(tmp_path, [os.getpid()], settings)
    markers.create()
    markers.forget_all_but(set())  # (the sign stays while the master lives)
    assert markers.takes_settings()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        Markers(tmp_path, other.pid).mark(1, "ready")  # (a second server, started before)
        with pytest.raises(reload.ReloadError, match=f"Server {other.pid} was started before"):
            reload.ask(tmp_path, [os.getpid(), other.pid], settings)
        assert markers.reload_requests() == []  # (the first was not asked either)
    finally:
        other.kill()
        other.wait()
    monkeypatch.setattr(reload.os, "geteuid", lambda: 4321)
    with pytest.raises(reload.ReloadError, match="run `directory reload --settings` as that"):
        reload.ask(tmp_path, [os.getpid()], settings)
    assert markers.reload_requests() == []


def test_the_settings_are_checked_with_the_rights_of_the_servers_user(tmp_path: Path):
    """``reload --settings`` checks that the settings reach their database as the servers'
    new workers will: run as root for another user's server, in a child process that has
    become that user (peer authentication and an SQLite file's permissions answer as they
    will to the workers, and the files the check makes are theirs); as the server's own
    user, here."""
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    private = tmp_path / "private"  # (a database only root reaches)
    private.mkdir(mode=0o700)
    database = private / "directory.sqlite3"
    sqlite3.connect(database).execute("CREATE TABLE t (x)").connection.close()

    def whose() -> None:
        raise RuntimeError(
            f"checked as user {os.geteuid()}, group {os.getegid()}, groups {sorted(os.getgroups())}"
        )

    def opens() -> None:
        sqlite3.connect(f"file:{database}?mode=rw", uri=True).execute("SELECT x FROM t").close()

    gone = 2**22 + 1  # (a server stopped since it was found: no marker folder, no owner)
    with pytest.raises(RuntimeError, match=f"checked as user {os.geteuid()},"):  # (here)
        reload.check_as_servers_users(tmp_path, [gone, os.getpid()], whose)
    if os.geteuid() != 0:  # the server's own user: the check runs here, as it is
        with pytest.raises(RuntimeError, match=f"checked as user {os.geteuid()},"):
            reload.check_as_servers_users(tmp_path, [os.getpid()], whose)
        reload.check_as_servers_users(tmp_path, [os.getpid()], opens)
        return
    reload.check_as_servers_users(tmp_path, [os.getpid()], opens)  # root's own server
    os.chown(markers.dir, 65534, 65534)  # a server run as another user (nobody)
    nobody = pwd.getpwuid(65534)
    groups = sorted(os.getgrouplist(nobody.pw_name, nobody.pw_gid))
    with pytest.raises(reload.ReloadError, match=re.escape(
        f"As user {nobody.pw_name}, the servers' user: checked as user 65534, group "
        f"{nobody.pw_gid}, groups {groups}"
    )):  # fmt: skip
        reload.check_as_servers_users(tmp_path, [os.getpid()], whose)
    with pytest.raises(reload.ReloadError, match="unable to open database file"):
        reload.check_as_servers_users(tmp_path, [os.getpid()], opens)  # (root alone reaches it)
    reload.check_as_servers_users(tmp_path, [os.getpid()], lambda: None)
    os.chown(markers.dir, 54321, 54322)  # a user the system does not know: its folder's group
    with pytest.raises(reload.ReloadError, match=re.escape(
        "As user 54321, the servers' user: checked as user 54321, group 54322, groups [54322]"
    )):  # fmt: skip
        reload.check_as_servers_users(tmp_path, [os.getpid()], whose)
    # a server of root's and one of another user's: each checked with its user's rights
    Markers(tmp_path, os.getppid()).create()

    def fails_as(uid: int) -> Callable[[], None]:
        def check() -> None:
            if os.geteuid() == uid:
                raise RuntimeError(f"failed as {uid}")

        return check

    with pytest.raises(RuntimeError, match="failed as 0"):  # (here, as root)
        reload.check_as_servers_users(tmp_path, [os.getppid(), os.getpid()], fails_as(0))
    with pytest.raises(reload.ReloadError, match="failed as 54321"):
        reload.check_as_servers_users(tmp_path, [os.getppid(), os.getpid()], fails_as(54321))


def test_the_settings_are_checked_in_the_environment_of_the_servers_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """``reload --settings`` checks the database in the environment the new workers will
    have: the master's own (its ``HOME``, whose ``~/.pgpass`` libpq reads, its
    ``PGPASSFILE`` …) with the command's ``DIRECTORY_*`` settings in place of the master's,
    a relative path among them made absolute; run as root for another user's server, in the
    child that has become them. The command's own environment is put back after the check;
    a master whose environment cannot be read is checked in the command's."""
    home = tmp_path / "home"
    master = subprocess.Popen(["sleep", "60"], env={
        "PATH": os.environ["PATH"], "HOME": str(home), "PGPASSFILE": str(home / "pgpass"),
        "DIRECTORY_PUBLIC_URL": "https://old.example", "DIRECTORY_LOG_LEVEL": "DEBUG",
    })  # fmt: skip
    # (Popen returns once the exec has begun; the kernel gives the new program's environment
    # to /proc a moment later: read before, it is empty, as it was once on a loaded machine)
    deadline = time.monotonic() + 10
    while b"HOME=" not in Path(f"/proc/{master.pid}/environ").read_bytes():
        assert time.monotonic() < deadline, "sleep's environment never showed in /proc"
        time.sleep(0.01)
    try:
        markers = Markers(tmp_path, master.pid)
        markers.create()
        monkeypatch.setenv("HOME", "/root-of-the-command")
        monkeypatch.setenv("PGPASSFILE", "/root-of-the-command/pgpass")
        monkeypatch.setenv("DIRECTORY_PUBLIC_URL", "https://new.example")
        monkeypatch.delenv("DIRECTORY_LOG_LEVEL", raising=False)
        monkeypatch.setenv("DIRECTORY_GEODATA_DIR", "relative/geodata")
        names = ("HOME", "PGPASSFILE", "DIRECTORY_PUBLIC_URL", "DIRECTORY_LOG_LEVEL",
                 "DIRECTORY_GEODATA_DIR")  # fmt: skip
        command = dict(os.environ)

        def seen() -> None:
            raise RuntimeError(json.dumps({name: os.environ.get(name) for name in names}))

        workers = {
            "HOME": str(home), "PGPASSFILE": str(home / "pgpass"),
            "DIRECTORY_PUBLIC_URL": "https://new.example", "DIRECTORY_LOG_LEVEL": None,
            "DIRECTORY_GEODATA_DIR": str(Path("relative/geodata").resolve()),
        }  # fmt: skip
        with pytest.raises(RuntimeError) as raised:  # the server's own user (or root's)
            reload.check_as_servers_users(tmp_path, [master.pid], seen)
        assert json.loads(str(raised.value)) == workers
        assert dict(os.environ) == command
        if os.geteuid() == 0:  # root, for a server run as nobody: in the child, as nobody
            os.chown(markers.dir, 65534, 65534)
            with pytest.raises(reload.ReloadError) as failed:
                reload.check_as_servers_users(tmp_path, [master.pid], seen)
            said = str(failed.value).removeprefix(
                f"As user {pwd.getpwuid(65534).pw_name}, the servers' user: "
            )  # fmt: skip
            assert json.loads(said) == workers
            assert dict(os.environ) == command
            os.chown(markers.dir, 0, 0)
    finally:
        master.kill()
        master.wait()
    # the master gone, its marker folder left: no environment to read, the command's
    with pytest.raises(RuntimeError) as raised:
        reload.check_as_servers_users(tmp_path, [master.pid], seen)
    assert json.loads(str(raised.value)) == {name: command.get(name) for name in names}


def test_waiting_for_a_reload_with_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A server that reloaded without taking the settings asked for failed; a request not
    answered in time, or when the command is stopped, is removed, with what it held."""
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    settings = {"DIRECTORY_PUBLIC_URL": "https://n.example"}
    answers = reload.ask(tmp_path, [os.getpid()], settings)
    assert len(markers.reload_requests()) == 1
    with pytest.raises(reload.ReloadError, match="one not begun will not start"):
        list(reload.wait(answers, timeout=1, settings=True))
    assert markers.reload_requests() == []
    answers = reload.ask(tmp_path, [os.getpid()], settings)

    def stopped(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(reload.time, "sleep", stopped)
    with pytest.raises(KeyboardInterrupt):
        list(reload.wait(answers, timeout=60, settings=True))
    assert markers.reload_requests() == []
    monkeypatch.undo()
    answers = reload.ask(tmp_path, [os.getpid()], settings)
    [answer] = answers.values()
    answer.write_text(json.dumps({"replaced": [7], "workers": [8], "failed": None}))
    [(_, done)] = list(reload.wait(answers, timeout=5, settings=True))
    assert "without the settings" in done["failed"]


def test_a_reload_gives_relative_paths_as_the_command_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--settings`` gives only the ``DIRECTORY_*`` variables, a relative path among them
    (a directory, a file, an SQLite database) made absolute from the command's working
    directory, where it was checked; others as they are."""
    monkeypatch.chdir(tmp_path)
    environ = {
        "DIRECTORY_INSTANCE_DIR": "instance", "DIRECTORY_GEODATA_DIR": " geodata/london ",
        "DIRECTORY_SOURCES_FILE": "/etc/directory/sources.toml",
        "DIRECTORY_DATABASE_URL": "sqlite:///data/directory.sqlite3?timeout=5",
        "DIRECTORY_PUBLIC_URL": "https://directory.example", "PGPASSWORD": "secret",
    }  # fmt: skip
    assert reload.settings_to_give(environ) == {
        "DIRECTORY_INSTANCE_DIR": str(tmp_path / "instance"),
        "DIRECTORY_GEODATA_DIR": str(tmp_path / "geodata" / "london"),
        "DIRECTORY_SOURCES_FILE": "/etc/directory/sources.toml",
        "DIRECTORY_DATABASE_URL": f"sqlite:///{tmp_path / 'data' / 'directory.sqlite3'}?timeout=5",
        "DIRECTORY_PUBLIC_URL": "https://directory.example",
    }
    for url in (
        "sqlite:////srv/directory.sqlite3", "sqlite:///file:directory.sqlite3?uri=true&mode=ro",
        "sqlite://", "postgresql+psycopg://directory:p%40ss@db.internal/directory",
    ):  # fmt: skip
        assert reload.settings_to_give({"DIRECTORY_DATABASE_URL": url}) == {
            "DIRECTORY_DATABASE_URL": url
        }


def test_a_reload_command_stopped_while_it_waits_takes_its_request_back(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """``directory reload --settings`` stopped by a TERM (systemd's ``TimeoutStartSec``)
    while the server has not taken its request: it exits 143 and removes the request, and
    the settings it held, so that the reload never starts."""
    settings = demo_copy(request, "sqlite", tmp_path)
    server = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "gunicorn"])
    try:
        markers = Markers(settings.instance_dir, server.pid)
        markers.create()  # (a server that takes settings, and never answers)
        # the database and the instance directory named relative to the command's directory
        database = sqlite_path(settings.database_url)
        assert database is not None and database.is_absolute()
        relative = os.path.relpath(database, tmp_path)
        env = settings_env(
            settings, DIRECTORY_DATABASE_URL=f"sqlite:///{relative}",
            DIRECTORY_INSTANCE_DIR=os.path.relpath(settings.instance_dir, tmp_path),
        )  # fmt: skip
        command = subprocess.Popen(
            [str(DIRECTORY), "reload", "--pid", str(server.pid), "--settings"],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not markers.reload_requests():
            if command.poll() is not None:
                pytest.fail(f"the command ended first: {command.communicate()}")
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # ...given as the absolute paths checked, whatever directory the server runs in
        given = Markers.requested_settings(markers.reload_requests()[0])
        assert given is not None
        assert given["DIRECTORY_DATABASE_URL"] == f"sqlite:///{database}"
        assert given["DIRECTORY_INSTANCE_DIR"] == str(settings.instance_dir)
        command.send_signal(signal.SIGTERM)
        _, said = command.communicate(timeout=30)
        assert command.returncode == 143, said
        assert sorted(path.name for path in markers.dir.iterdir()) == [recycle.TAKES_SETTINGS]
    finally:
        server.kill()
        server.wait()


def test_a_request_taken_back_as_its_answer_is_written_leaves_no_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command may take its request back after the master looked for it and before the
    answer is in place: the master then finds the request gone and removes the answer."""
    markers = Markers(tmp_path, os.getpid())
    markers.create()
    answer = markers.request_reload("t6")
    request = Markers.request_of(answer)
    replace = Path.replace

    def taken_back_meanwhile(self: Path, target: Path) -> Path:
        request.unlink(missing_ok=True)  # (the command gives up, and finds no answer yet)
        return replace(self, target)

    monkeypatch.setattr(Path, "replace", taken_back_meanwhile)
    markers.answer_reload(request, {"failed": None})
    monkeypatch.undo()
    assert sorted(p.name for p in markers.dir.iterdir()) == [recycle.TAKES_SETTINGS]
