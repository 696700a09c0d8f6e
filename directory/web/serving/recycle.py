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
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

#: how long a replacement worker may take to be ready (its directory index first: 12-20 s
#: at 100,000 services) before the grown one is stopped anyway
READY_WAIT_SECONDS = 300


class Markers:
    """The marker files of one gunicorn master's workers."""

    def __init__(self, instance_dir: Path, master: int) -> None:
        self.dir = instance_dir / f"workers-{master}"

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
            pid = path.name.split(".", 1)[0]
            if not pid.isdigit() or int(pid) not in alive:
                path.unlink(missing_ok=True)

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

    def __init__(self, arbiter: Any, markers: Markers, growth_percent: int) -> None:
        self.arbiter = arbiter
        self.log = arbiter.log  # gunicorn's, in the master
        self.markers = markers
        self.growth = growth_percent / 100
        #: each worker's RSS when it was first seen ready
        self.ready_mb: dict[int, float] = {}

    def run(self) -> None:
        while True:
            time.sleep(self.CHECK_S)
            try:
                self.step()
            except Exception:  # noqa: BLE001 - logged; the workers serve on as they are
                self.log.exception("checking the workers' memory failed")

    def step(self) -> None:
        """Note the workers that became ready; replace the oldest if it has grown."""
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
        # every worker, the oldest first: one that grew less (or has not rebuilt yet) does
        # not keep a younger grown one from being replaced
        for pid in sorted(workers, key=lambda pid: workers[pid].age):
            grown = self.grown(pid)
            if grown is not None:
                self.replace(pid, set(workers), *grown)
                return

    def grown(self, pid: int) -> tuple[float, float] | None:
        """(RSS when ready, RSS now) of a worker due for replacement, else None."""
        if pid not in self.ready_mb or not self.markers.has(pid, "rebuilt"):
            return None
        now = rss_mb(pid)
        if now is None or now < self.ready_mb[pid] * (1 + self.growth):
            return None
        return self.ready_mb[pid], now

    def replace(self, grown: int, workers: set[int], ready: float, now: float) -> None:
        self.log.info(
            "replacing worker %s: %.0f MB after rebuilding its index, %.0f MB when it was ready",
            grown, now, ready,
        )  # fmt: skip
        master = os.getpid()
        os.kill(master, signal.SIGTTIN)  # one more worker, which makes its index first
        # (not gunicorn's timeout, which follows DIRECTORY_UPLOAD_SECONDS: a worker's index
        # takes as long to make however long an upload may run)
        deadline = time.monotonic() + READY_WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.2)
            new = set(self.arbiter.WORKERS) - workers
            if any(self.markers.has(pid, "ready") for pid in new):
                break
        else:
            self.log.warning("no new worker was ready in time; stopping worker %s anyway", grown)
        # gunicorn's TTOU stops the worker of the lowest age (its spawn count): made this
        # one's, so that the grown worker is the one stopped, whether or not the oldest
        current = dict(self.arbiter.WORKERS)
        if grown in current:
            current[grown].age = min(worker.age for worker in current.values()) - 1
        os.kill(master, signal.SIGTTOU)
        deadline = time.monotonic() + self.arbiter.cfg.graceful_timeout + 5
        while grown in self.arbiter.WORKERS and time.monotonic() < deadline:
            time.sleep(0.2)
