"""Replacing a worker whose memory an import left grown, one at a time, with no stall.

After an import a worker builds its next directory index beside the previous one, which
answers meanwhile (``DIRECTORY_INDEX_REBUILD=background``). The previous index is freed
once the next is in, but not the memory: CPython's allocator hands an arena (1 MB) back
only when no live object is left in it, and the objects made while both indexes were
alive are spread over the old arenas. At 100,000 services a worker of 530-560 MB stayed
at 785-835 MB after every import. A new worker starts at the first figure again.

So gunicorn's master runs :class:`Recycler` on a thread: when a worker has swapped in an
index built after an import and its RSS has grown by more than
``DIRECTORY_WORKER_RECYCLE_GROWTH`` percent since it was ready (0: whatever its memory;
the oldest such worker first), the master starts one more worker (SIGTTIN, as an operator
would), waits until it has made its own index (it takes no request before:
``post_worker_init``), then stops the grown one (SIGTTOU: gunicorn stops its oldest worker, gracefully, and the grown one is made
the oldest first), and looks again. Every worker keeps answering meanwhile.

The workers tell the master through files in a directory of its own
(``<instance dir>/workers-<master pid>``): ``<pid>.ready`` once a worker has made its
index, ``<pid>.rebuilt`` once it has swapped in one built after an import (or after
midnight: an index is of a day too, for grant statuses, and its rebuild grows a worker the
same way).

The same thread replaces every worker on request, one at a time, in the same way: ``directory
reload`` (a rolling reload, for a deploy: each new worker imports the code as it is on disk
then, ``post_fork``) leaves ``reload-<token>.requested`` in that directory; once every worker
that was serving then has been replaced, the master renames it ``reload-<token>.done`` and
writes there what it did (JSON), which the command waits for. With ``--settings`` the request
carries the command's ``DIRECTORY_*`` environment: the master checks that none it reads itself
would change, and writes it to ``settings.json`` there before starting the first new worker.
Every worker started from then on (the reload's, a ``HUP``'s, a dead worker's replacement)
takes it in place of the master's own (``post_fork``); the master's environment is never
changed, so no thread changes it while gunicorn forks. Both files are the owner's alone
(mode 0600: they may hold a database password).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from directory.settings import PREFIX, Settings, SettingsError

#: how long a replacement worker may take to be ready (its directory index first: 12-20 s
#: at 100,000 services) before the grown one is stopped anyway
READY_WAIT_SECONDS = 300
#: the name of a reload request (``reload-<token>.requested``) and of its answer
RELOAD_PREFIX, REQUESTED, DONE = "reload-", ".requested", ".done"
#: a request the master took but could not answer (its answer could not be written)
UNANSWERED = ".unanswered"
#: the ``DIRECTORY_*`` settings ``directory reload --settings`` gave the workers started since
SETTINGS_FILE = "settings.json"
#: left by a master that can give its workers new settings (one started before could not)
TAKES_SETTINGS = f"{RELOAD_PREFIX}settings"
#: what the master itself takes from the settings at its start (by the setting that sets
#: it): gunicorn's worker timeout, its logging, where these files are, and this thread's
#: own; a reload that would change one is refused (the server needs a restart)
MASTER_SETTINGS = {
    "request_seconds": "UPLOAD_SECONDS", "log_format": "LOG_FORMAT", "log_level": "LOG_LEVEL",
    "instance_dir": "INSTANCE_DIR", "worker_recycle_growth": "WORKER_RECYCLE_GROWTH",
    "index_rebuild": "INDEX_REBUILD",
}  # fmt: skip


def _write_private(path: Path, document: Any) -> None:
    """``document`` as JSON at ``path``, written whole before it appears there, readable by
    its directory's owner alone (the server's user: root running the command gives it
    to them)."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with open(descriptor, "w", encoding="utf-8") as out:
            json.dump(document, out)
            owner = path.parent.stat()
            if os.geteuid() == 0 and owner.st_uid != 0:
                os.fchown(out.fileno(), owner.st_uid, owner.st_gid)
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)  # (what it held is not left behind)
        raise


def _settings_or_none(document: Any) -> dict[str, str] | None:
    """``document`` as ``DIRECTORY_*`` settings (names to values), None for None; ValueError
    if it is neither."""
    if document is None:
        return None
    if not isinstance(document, dict) or not all(
        isinstance(name, str) and name.startswith(PREFIX) and isinstance(value, str)
        and "=" not in name and "\0" not in name + value  # (what an environment can hold)
        for name, value in document.items()
    ):  # fmt: skip
        raise ValueError("not a mapping of DIRECTORY_* names to text")
    return document


class Markers:
    """The marker files of one gunicorn master's workers."""

    def __init__(self, instance_dir: Path, master: int) -> None:
        self.dir = instance_dir / f"workers-{master}"

    def create(self) -> OSError | None:
        """Make the folder; the system's refusal if it cannot be made (a read-only or full
        instance directory: then no worker is replaced, and no reload reaches the master)."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / TAKES_SETTINGS).touch()
        except OSError as error:
            return error
        return None

    def takes_settings(self) -> bool:
        """Whether the master can give its workers new settings."""
        return (self.dir / TAKES_SETTINGS).exists()

    def mark(self, pid: int, kind: str) -> None:
        """Leave a marker; one that cannot be written (a read-only instance directory)
        only means the master never replaces this worker."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / f"{pid}.{kind}").touch()
        except OSError:
            pass

    def has(self, pid: int, kind: str) -> bool:
        return (self.dir / f"{pid}.{kind}").exists()

    def forget_all_but(self, alive: set[int]) -> None:
        """Remove the markers of workers no longer alive."""
        if not self.dir.is_dir():
            return
        for path in self.dir.iterdir():
            if path.name.startswith((RELOAD_PREFIX, SETTINGS_FILE)):
                continue  # a reload's request, answer or settings (the command removes its answer)
            pid = path.name.split(".", 1)[0]
            if not pid.isdigit() or int(pid) not in alive:
                path.unlink(missing_ok=True)

    def request_reload(self, token: str, settings: dict[str, str] | None = None) -> Path:
        """Ask the master to replace every worker (``directory reload``), giving the new
        ones ``settings`` (the ``DIRECTORY_*`` environment) if given, in a request only the
        server's user can read (without, an empty file anyone's master reads, as before);
        returns the path of its answer, which appears once it has."""
        if settings is None:
            self.request(token).touch()
        else:
            _write_private(self.request(token), {"settings": settings})
        return self.dir / f"{RELOAD_PREFIX}{token}{DONE}"

    def request(self, token: str) -> Path:
        return self.dir / f"{RELOAD_PREFIX}{token}{REQUESTED}"

    @staticmethod
    def requested_settings(request: Path) -> dict[str, str] | None:
        """The settings a reload request gives (None: the workers keep theirs); OSError or
        ValueError if it cannot be read. An empty one (a plain request, which may be
        another user's, as root's ``touch`` makes it) is not opened."""
        if request.stat().st_size == 0:
            return None
        text = request.read_text("utf-8")
        document = json.loads(text) if text.strip() else {}
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return _settings_or_none(document.get("settings"))

    def settings(self) -> dict[str, str] | None:
        """The settings a reload gave the workers started since (None: the master's own);
        OSError or ValueError if they cannot be read."""
        try:
            text = (self.dir / SETTINGS_FILE).read_text("utf-8")
        except FileNotFoundError:
            return None
        return _settings_or_none(json.loads(text))

    def give_settings(self, settings: dict[str, str]) -> None:
        """Make ``settings`` those of every worker started from now on."""
        _write_private(self.dir / SETTINGS_FILE, settings)

    @staticmethod
    def request_of(answer: Path) -> Path:
        """The request whose answer will be at ``answer``."""
        return answer.with_name(answer.name.removesuffix(DONE) + REQUESTED)

    @staticmethod
    def unanswered(request_or_answer: Path) -> Path:
        """Where a request taken but not answered is left for its command to find."""
        name = request_or_answer.name.removesuffix(DONE).removesuffix(REQUESTED)
        return request_or_answer.with_name(name + UNANSWERED)

    def not_answered(self, request: Path) -> None:
        """Leave ``request`` for its command as taken but not answered (an answer that
        could not be written: a full disk). Renaming needs no room for data; where even
        that fails, it is removed, and the command cannot tell why."""
        try:
            request.replace(self.unanswered(request))
        except OSError:
            request.unlink(missing_ok=True)

    def reload_requests(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob(f"{RELOAD_PREFIX}*{REQUESTED}"))  # (the oldest first)

    def answer_reload(self, request: Path, answer: dict[str, Any]) -> None:
        """Answer a reload request: its ``.done`` file, written whole before it appears. A
        request its command took back while the reload ran (it stopped waiting) is not
        answered: no one would read the answer, and nothing else removes it."""
        if not request.exists():
            return
        done = request.with_name(
            request.name.removesuffix(REQUESTED) + DONE
        )  # (request_of, reversed)
        partial = done.with_suffix(".partial")
        try:
            partial.write_text(json.dumps(answer), encoding="utf-8")
            partial.replace(done)
        except OSError:
            partial.unlink(missing_ok=True)
            raise
        try:
            request.unlink()
        except FileNotFoundError:  # taken back since the look above: its command is gone
            done.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def rss_mb(pid: int) -> float | None:
    """A process's resident memory, in MB; None where unknown."""
    found = status_mb(pid, "VmRSS")
    return found[0] if found else None


def status_mb(pid: int | str, *fields: str) -> tuple[float, ...] | None:
    """Memory figures of a process (``pid``, or ``"self"``) from ``/proc/<pid>/status``
    (``VmRSS``, ``VmHWM``…), in MB; None where unknown (no such process, a zombie, not
    Linux). The benchmarks read the workers' through it too."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            values = dict(line.split(":", 1) for line in status if ":" in line)
        return tuple(int(values[field].split()[0]) / 1024 for field in fields)
    except (OSError, ValueError, IndexError, KeyError):
        return None


class Recycler:
    """The master's thread (see the module's docstring). ``arbiter`` is gunicorn's."""

    #: seconds between two looks at the workers
    CHECK_S = 2.0

    def __init__(self, arbiter: Any, markers: Markers, growth_percent: int | None) -> None:
        self.arbiter = arbiter
        self.log = arbiter.log  # gunicorn's, in the master
        self.markers = markers
        #: None: grown workers are not replaced (only a reload replaces workers)
        self.growth = None if growth_percent is None else growth_percent / 100
        #: each worker's RSS when it was first seen ready
        self.ready_mb: dict[int, float] = {}

    def run(self) -> None:
        while True:
            time.sleep(self.CHECK_S)
            try:
                self.step()
            except Exception:  # noqa: BLE001 - logged; the workers serve on as they are
                self.log.exception("checking the workers failed")

    def step(self) -> None:
        """Note the workers that became ready; replace them all if a reload is asked for,
        else the oldest that has grown."""
        workers = dict(self.arbiter.WORKERS)
        self.markers.forget_all_but(set(workers))
        self.ready_mb = {pid: mb for pid, mb in self.ready_mb.items() if pid in workers}
        for pid in workers:
            if pid not in self.ready_mb and self.markers.has(pid, "ready"):
                mb = rss_mb(pid)
                if mb is not None:
                    self.ready_mb[pid] = mb
        requests = self.markers.reload_requests()
        if requests and self.arbiter.num_workers == 0:  # (a master being retired: USR2)
            self.answer(requests, Reloaded(failed="the server has no workers to reload"))
            return
        if len(workers) != self.arbiter.num_workers or not workers:
            return  # starting or stopping workers (an operator's TTIN or TTOU): not now
        if requests:
            self.reload(requests, workers)
            return
        if self.growth is None:
            return
        # every worker, the oldest first: one that grew less (or has not rebuilt yet) does
        # not keep a younger grown one from being replaced
        for pid in sorted(workers, key=lambda pid: workers[pid].age):
            grown = self.grown(pid)
            if grown is not None:
                ready, now = grown
                why = (
                    f"replacing worker {pid}: {now:.0f} MB after rebuilding its index, "
                    f"{ready:.0f} MB when it was ready"
                )
                self.replace(pid, why, stop_anyway=True)
                return

    def grown(self, pid: int) -> tuple[float, float] | None:
        """(RSS when ready, RSS now) of a worker due for replacement, else None."""
        if self.growth is None or pid not in self.ready_mb:
            return None
        if not self.markers.has(pid, "rebuilt"):
            return None
        now = rss_mb(pid)
        if now is None:
            return None
        # 0: every worker that rebuilt, whatever its memory (glibc's trim moves a small
        # worker's RSS by a few MB either way: it may read less than when it was ready)
        if self.growth and now < self.ready_mb[pid] * (1 + self.growth):
            return None
        return self.ready_mb[pid], now

    def reload(self, requests: list[Path], workers: dict[int, Any]) -> None:
        """Replace every worker serving now, the oldest first, one at a time; then answer,
        whatever happened. The oldest request giving settings is a round of its own, its
        settings given to every worker started from then on; else the requests giving
        none are answered together (a request made meanwhile waits for a round of its
        own)."""
        started, done = time.monotonic(), Reloaded()
        given = []
        for request in requests:
            try:
                given.append((request, self.markers.requested_settings(request)))
            except (OSError, ValueError) as error:  # (that one is answered, and not run)
                failed = f"the request could not be read ({error}); nothing was reloaded"
                self.answer([request], Reloaded(failed=failed))
        if not given:
            return
        request, settings = given[0]
        if settings is None:  # the plain ones asked before the next giving settings
            requests = []
            for asked, its_settings in given:
                if its_settings is not None:
                    break
                requests.append(asked)
        else:
            requests = [request]
            try:
                refused = master_settings_differ(settings)
                if not refused:
                    self.markers.give_settings(settings)
            except OSError as error:
                refused = f"the settings could not be given ({error}); nothing was reloaded"
            if refused:
                done.failed = refused
                self.answer(requests, done)
                return
            done.settings = True
        old = sorted(workers, key=lambda pid: workers[pid].age)
        self.log.info(
            "reloading: replacing %d workers, one at a time%s",
            len(old), " with new settings" if done.settings else "",
        )  # fmt: skip
        try:
            for pid in old:
                if pid not in self.arbiter.WORKERS:
                    continue  # stopped meanwhile (replaced for its memory, or by an operator)
                failed = self.replace(pid, f"replacing worker {pid}: reloading the code")
                if failed is not None:
                    done.failed = (
                        f"{failed}: worker {pid}, and any not replaced yet, serve on with the "
                        "code and settings they started with"
                    )
                    break
                done.replaced.append(pid)
        except Exception as error:  # noqa: BLE001 - the command is answered, and the log says
            self.log.exception("reloading failed")
            done.failed = f"reloading failed: {type(error).__name__}: {error}"
        finally:
            if done.failed and done.settings:
                # (kept: a worker may have started with them; any started later takes them)
                done.failed += (
                    "; the new settings stay for every worker started from now on: "
                    "reload again to give them to the others"
                )
            done.seconds = round(time.monotonic() - started, 1)
            self.answer(requests, done)

    def answer(self, requests: list[Path], done: Reloaded) -> None:
        done.workers = sorted(self.arbiter.WORKERS)
        if done.failed:
            self.log.warning("reload: %s", done.failed)
        else:
            self.log.info(
                "reloaded: %d workers replaced in %.1f s", len(done.replaced), done.seconds
            )
        for request in requests:
            try:
                self.markers.answer_reload(request, done.as_json())
            except OSError:  # (a full disk): the request goes all the same, not run again
                self.log.exception("answering the reload request %s failed", request.name)
                self.markers.not_answered(request)

    def replace(self, old: int, why: str, *, stop_anyway: bool = False) -> str | None:
        """Start one more worker, wait until it is ready, then stop ``old``; None when
        done, else why not. A new worker not ready within ``READY_WAIT_SECONDS``: ``old``
        is stopped all the same when ``stop_anyway`` (it has grown), else the new one is.
        The number of workers changed meanwhile by another hand (a ``HUP``, which starts
        new workers and stops the old ones itself; an operator's ``TTIN`` or ``TTOU``):
        ``old`` is not stopped, as the master's count is no longer the one this started
        from (a stop then would leave the server a worker short for good)."""
        self.log.info("%s", why)
        started, before = time.monotonic(), set(self.arbiter.WORKERS)
        original = self.arbiter.num_workers
        os.kill(os.getpid(), signal.SIGTTIN)  # one more worker, which makes its index first
        # (not gunicorn's timeout, which follows DIRECTORY_UPLOAD_SECONDS: a worker's index
        # takes as long to make however long an upload may run)
        counted = ready = False  # (the master handles the TTIN on its own loop)
        while not ready and time.monotonic() - started < READY_WAIT_SECONDS:
            time.sleep(0.2)
            workers = set(self.arbiter.WORKERS)
            if self.arbiter.num_workers == original + 1:
                counted = True
            elif counted or not before <= workers or time.monotonic() - started > 30:
                return self._interrupted(original)
            ready = counted and any(self.markers.has(pid, "ready") for pid in workers - before)
        expected = original + 1
        if not ready and not stop_anyway:  # the new worker goes, and the old one serves on
            self.log.warning("no new worker was ready in time; worker %s serves on", old)
            self._stop(self._newest(), expected)
            return f"no new worker was ready within {READY_WAIT_SECONDS} s"
        if not ready:
            self.log.warning("no new worker was ready in time; stopping worker %s anyway", old)
        self._stop(old, expected)
        return None

    def _interrupted(self, original: int) -> str:
        """The number of workers changed by another hand while a replacement waited: stop
        one worker only if this one's TTIN is the change that is left (a HUP sent just
        before it: gunicorn handles the signals in the order sent), and say so."""
        time.sleep(1.0)  # (for the master to handle the signals sent before)
        if self.arbiter.num_workers > original:
            os.kill(os.getpid(), signal.SIGTTOU)  # (the oldest goes)
        self.log.warning("the number of workers was changed meanwhile: nothing more is stopped")
        return "the number of workers was changed meanwhile (a HUP, TTIN or TTOU)"

    def _newest(self) -> int:
        workers = dict(self.arbiter.WORKERS)
        return max(workers, key=lambda pid: workers[pid].age)

    def _stop(self, pid: int, expected: int) -> None:
        """Stop worker ``pid`` (gracefully: it finishes the request it holds), unless the
        master's count of workers is no longer ``expected`` (see :meth:`replace`)."""
        if self.arbiter.num_workers != expected:
            return
        # gunicorn's TTOU stops the worker of the lowest age (its spawn count): made this
        # one's, so that the worker meant is the one stopped, whether or not the oldest
        current = dict(self.arbiter.WORKERS)
        if pid in current:
            current[pid].age = min(worker.age for worker in current.values()) - 1
        os.kill(os.getpid(), signal.SIGTTOU)
        deadline = time.monotonic() + self.arbiter.cfg.graceful_timeout + 5
        while pid in self.arbiter.WORKERS and time.monotonic() < deadline:
            time.sleep(0.2)


@dataclass
class Reloaded:
    """What a reload did, as ``directory reload`` reads it."""

    replaced: list[int] = field(default_factory=list)
    workers: list[int] = field(default_factory=list)
    seconds: float = 0.0
    failed: str | None = None
    #: whether the settings the request named were given to the workers started since
    settings: bool = False

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def master_settings_differ(settings: dict[str, str]) -> str | None:
    """Why the ``DIRECTORY_*`` environment ``settings`` cannot be a reload's (one the
    master itself reads would change), else None. Only those are read here, with the code
    the master started with (the command checked them all, with the code on disk, which
    may know settings the master's does not); the message names them, never their values
    (a database URL may hold a password). The master's own settings are its environment's:
    a reload never changes it."""
    names = {PREFIX + setting for setting in MASTER_SETTINGS.values()}
    try:
        now = Settings.from_env({k: v for k, v in os.environ.items() if k in names})
        new = Settings.from_env({k: v for k, v in settings.items() if k in names})
    except SettingsError:
        return (
            f"one of {', '.join(sorted(names))} is not what the server's master can read: "
            "restart the server for it; nothing was reloaded"
        )
    changed = [
        PREFIX + setting
        for name, setting in MASTER_SETTINGS.items()
        if getattr(now, name) != getattr(new, name)
    ]
    if changed:
        return (
            f"{', '.join(changed)} would change, which the server's master reads itself at "
            "its start: restart the server for that; nothing was reloaded"
        )
    return None
