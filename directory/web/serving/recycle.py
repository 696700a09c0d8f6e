"""Replacing a worker whose memory an import left grown, one at a time, with no stall.

After an import a worker builds its next directory index beside the previous one, which
answers meanwhile (``DIRECTORY_INDEX_REBUILD=background``). The previous index is freed
once the next is in, but not the memory: CPython's allocator hands an arena (1 MB) back
only when no live object is left in it, and the objects made while both indexes were
alive are spread over the old arenas. At 100,000 services a worker of 530-560 MB stayed
at 785-835 MB after every import. A new worker starts at the first figure again.

So gunicorn's master runs :class:`Recycler` on a thread: when a worker has swapped in an
index built after an import and its RSS has grown by more than
``DIRECTORY_WORKER_RECYCLE_GROWTH`` percent since it was ready (the oldest such worker
first), the master starts one more worker (SIGTTIN, as an operator would), waits until it
has made its own index (it takes no request before: ``post_worker_init``), then stops the
grown one (SIGTTOU: gunicorn stops its oldest worker, gracefully, and the grown one is made
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
writes there what it did (JSON), which the command waits for.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

#: how long a replacement worker may take to be ready (its directory index first: 12-20 s
#: at 100,000 services) before the grown one is stopped anyway
READY_WAIT_SECONDS = 300
#: the name of a reload request (``reload-<token>.requested``) and of its answer
RELOAD_PREFIX, REQUESTED, DONE = "reload-", ".requested", ".done"


class Markers:
    """The marker files of one gunicorn master's workers."""

    def __init__(self, instance_dir: Path, master: int) -> None:
        self.dir = instance_dir / f"workers-{master}"

    def create(self) -> None:
        with contextlib.suppress(OSError):  # (read-only: no replacements, no reloads)
            self.dir.mkdir(parents=True, exist_ok=True)

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
            if path.name.startswith(RELOAD_PREFIX):
                continue  # a reload's request or answer (the command removes its answer)
            pid = path.name.split(".", 1)[0]
            if not pid.isdigit() or int(pid) not in alive:
                path.unlink(missing_ok=True)

    def request_reload(self, token: str) -> Path:
        """Ask the master to replace every worker (``directory reload``); returns the path
        of its answer, which appears once it has."""
        (self.dir / f"{RELOAD_PREFIX}{token}{REQUESTED}").touch()
        return self.dir / f"{RELOAD_PREFIX}{token}{DONE}"

    def reload_requests(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob(f"{RELOAD_PREFIX}*{REQUESTED}"))

    def answer_reload(self, request: Path, answer: dict[str, Any]) -> None:
        """Answer a reload request: its ``.done`` file, written whole before it appears."""
        done = request.with_name(request.name.removesuffix(REQUESTED) + DONE)
        partial = done.with_suffix(".partial")
        partial.write_text(json.dumps(answer), encoding="utf-8")
        partial.replace(done)
        request.unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def masters(instance_dir: Path) -> list[int]:
    """The pids of the gunicorn masters serving from ``instance_dir`` now (``directory
    serve``'s, each with its workers' directory)."""
    found = []
    for path in instance_dir.glob("workers-*"):
        pid = path.name.removeprefix("workers-")
        if pid.isdigit() and alive(int(pid)):
            found.append(int(pid))
    return sorted(found)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    return True


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
        if len(workers) != self.arbiter.num_workers or not workers:
            return  # starting or stopping workers (an operator's TTIN or TTOU): not now
        requests = self.markers.reload_requests()
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
                self.replace(pid, set(workers), why)
                return

    def grown(self, pid: int) -> tuple[float, float] | None:
        """(RSS when ready, RSS now) of a worker due for replacement, else None."""
        if pid not in self.ready_mb or not self.markers.has(pid, "rebuilt"):
            return None
        now = rss_mb(pid)
        if self.growth is None or now is None or now < self.ready_mb[pid] * (1 + self.growth):
            return None
        return self.ready_mb[pid], now

    def reload(self, requests: list[Path], workers: dict[int, Any]) -> None:
        """Replace every worker serving now, the oldest first, one at a time; then answer
        the requests (a request made meanwhile waits for a round of its own)."""
        started = time.monotonic()
        old = sorted(workers, key=lambda pid: workers[pid].age)
        self.log.info("reloading: replacing %d workers, one at a time", len(old))
        replaced: list[int] = []
        failed = None
        for pid in old:
            if pid not in self.arbiter.WORKERS:
                continue  # stopped meanwhile (replaced for its memory, or by an operator)
            why = f"replacing worker {pid}: reloading the code"
            if not self.replace(pid, set(self.arbiter.WORKERS), why, stop_anyway=False):
                failed = (
                    f"no new worker was ready within {READY_WAIT_SECONDS} s: worker {pid}, "
                    "and any not replaced yet, serve on with the code they started with"
                )
                break
            replaced.append(pid)
        answer = {
            "replaced": replaced,
            "workers": sorted(self.arbiter.WORKERS),
            "seconds": round(time.monotonic() - started, 1),
            "failed": failed,
        }
        if failed:
            self.log.warning("reloading failed: %s", failed)
        else:
            self.log.info(
                "reloaded: %d workers replaced in %.1f s", len(replaced), answer["seconds"]
            )
        for request in requests:
            self.markers.answer_reload(request, answer)

    def replace(self, old: int, workers: set[int], why: str, *, stop_anyway: bool = True) -> bool:
        """Start one more worker, wait until it is ready, then stop ``old``. A new worker
        not ready within ``READY_WAIT_SECONDS``: ``old`` is stopped all the same when
        ``stop_anyway`` (it has grown), else the new one is, and this returns False."""
        self.log.info("%s", why)
        master = os.getpid()
        os.kill(master, signal.SIGTTIN)  # one more worker, which makes its index first
        # (not gunicorn's timeout, which follows DIRECTORY_UPLOAD_SECONDS: a worker's index
        # takes as long to make however long an upload may run)
        deadline = time.monotonic() + READY_WAIT_SECONDS
        ready, new = False, set()
        while not ready and time.monotonic() < deadline:
            time.sleep(0.2)
            new = set(self.arbiter.WORKERS) - workers
            ready = any(self.markers.has(pid, "ready") for pid in new)
        stopped = old
        if not ready and stop_anyway:
            self.log.warning("no new worker was ready in time; stopping worker %s anyway", old)
        elif not ready:  # the new worker goes, and the old one serves on
            self.log.warning("no new worker was ready in time; worker %s serves on", old)
            stopped = max(new, default=old, key=lambda pid: self.arbiter.WORKERS[pid].age)
        # gunicorn's TTOU stops the worker of the lowest age (its spawn count): made this
        # one's, so that the worker meant is the one stopped, whether or not the oldest
        current = dict(self.arbiter.WORKERS)
        if stopped in current:
            current[stopped].age = min(worker.age for worker in current.values()) - 1
        os.kill(master, signal.SIGTTOU)
        deadline = time.monotonic() + self.arbiter.cfg.graceful_timeout + 5
        while stopped in self.arbiter.WORKERS and time.monotonic() < deadline:
            time.sleep(0.2)
        return ready
