"""Work a serving process does on a thread of its own so that no request waits for it: one
job at a time (:class:`BackgroundJob`), and a value made once per data version whose
previous one answers while the next is made (:class:`PerVersion`). The directory index,
the box arrays, the kept postcodes, the funding facts and the HSDS id index use them.

While any such job runs, Python's automatic *full* collections are paused (the young ones
go on; :func:`full_collections_paused`). A job makes hundreds of thousands of long-lived
objects, and each full collection the growing structure set off walked all of them while
every request of the process waited (at 100,000 services ten of 0.06–0.33 s during an index
build). A new directory index is frozen once made (``heap.settle``), so the collections
that follow skip it; a request's cyclic garbage is mostly collected young. And the
interpreter lock changes hands every :data:`SWITCH_S` rather than Python's 5 ms: a request
thread that gave it up (to read a socket or the database, or write its log line) waited
up to 5 ms to have it back each time while the job ran.
"""

from __future__ import annotations

import gc
import heapq
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


class BackgroundJob:
    """Runs one job at a time on a daemon thread named ``name``. A job that fails is logged
    (``failure``, the message) and kept as :attr:`last_error`; none starts again for
    ``retry_s`` seconds (meanwhile what the job would replace answers, or the database)."""

    def __init__(self, name: str, failure: str, *, retry_s: float = 30.0) -> None:
        self.name = name
        self.failure = failure
        self.retry_s = retry_s
        #: the last job's failure (None once one succeeds)
        self.last_error: BaseException | None = None
        #: no job starts before this (time.monotonic); tests set it to 0 to end the delay
        self.retry_at = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, job: Callable[[], object]) -> bool:
        """Start ``job`` unless one is running or the last failed less than ``retry_s`` ago;
        whether it started. No thread to be had (the interpreter shutting down) counts as a
        failure."""
        with self._lock:
            if self.running or time.monotonic() < self.retry_at:
                return False
            thread = threading.Thread(target=self._run, args=(job,), name=self.name, daemon=True)
            try:
                thread.start()
            except RuntimeError as exc:
                self._failed(exc)
                return False
            self._thread = thread
            return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running job, if any, to end (tests, benchmarks, a worker stopping)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, job: Callable[[], object]) -> None:
        try:
            with _job_running():
                job()
        except Exception as exc:  # noqa: BLE001 - the caller's fallback answers meanwhile
            self._failed(exc)
            return
        self.last_error = None

    def _failed(self, exc: BaseException) -> None:
        logger.error("%s", self.failure, exc_info=exc)
        self.last_error = exc
        self.retry_at = time.monotonic() + self.retry_s


#: a generation-2 threshold no count of generation-1 collections reaches
_NEVER = 1 << 30
#: how often the interpreter lock changes hands while a job runs (Python's default: 5 ms)
SWITCH_S = 0.001
_jobs_lock = threading.Lock()
_jobs = 0  # jobs running in this process
_full_threshold = gc.get_threshold()[2]  # what the first job found, put back by the last
_switch_s = sys.getswitchinterval()
_switch_set = _switch_s  # the interval as read back once set (whole microseconds)


@contextmanager
def _job_running() -> Iterator[None]:
    """While any job runs: no automatic full collection, and the lock handed over every
    :data:`SWITCH_S`. The first job to start sets both (they are the process's), the last
    to end puts back what it found, unless something else has set them meanwhile.
    CPython 3.11-3.13 (3.14's incremental collector reads the thresholds otherwise)."""
    global _jobs, _full_threshold, _switch_s, _switch_set
    with _jobs_lock:
        if _jobs == 0:
            young, older, _full_threshold = gc.get_threshold()
            gc.set_threshold(young, older, _NEVER)
            _switch_s = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_s, SWITCH_S))
            _switch_set = sys.getswitchinterval()
        _jobs += 1
    try:
        yield
    finally:
        with _jobs_lock:
            _jobs -= 1
            if _jobs == 0:
                _restore()


def _restore() -> None:
    young, older, full = gc.get_threshold()
    if full == _NEVER:
        gc.set_threshold(young, older, _full_threshold)
    if sys.getswitchinterval() == _switch_set:
        sys.setswitchinterval(_switch_s)


def _forked() -> None:
    """In a child process no job runs (threads are not forked): as before any job."""
    global _jobs_lock, _jobs
    _jobs_lock = threading.Lock()
    if _jobs:
        _jobs = 0
        _restore()


os.register_at_fork(after_in_child=_forked)


def full_collections_paused() -> bool:
    """Whether a background job is running, with automatic full collections paused."""
    return _jobs > 0


def let_go(value: object, *, chunk: int = 1000) -> bool:
    """Free ``value`` (a large structure: an index a job has replaced), a piece at a time,
    when nothing but the caller refers to it: the lists, dicts and objects it alone holds
    are emptied ``chunk`` items at a time, so that requests run between the pieces (freeing
    a 100,000-service index at once held the interpreter lock for 0.2 s). Whether it did;
    if something else still refers to it, nothing is touched, and it is freed when that
    lets go. What is shared stays as it is.

    The caller must pass a plain local name it owns and nothing new can reach (the count
    of references is what says no one else holds it): not an attribute or a container's
    item still in place. Only on CPython 3.11-3.13 with the GIL, whose counts this is
    written for (3.14 skips some increments): elsewhere it does nothing."""
    # the caller's reference, this call's and getrefcount's own
    if not _COUNTS_KNOWN or sys.getrefcount(value) > 3 or not hasattr(value, "__dict__"):
        return False
    _empty_fields(value, chunk, _DEPTH)
    return True


#: whether reference counts are as :func:`let_go` reads them
_COUNTS_KNOWN = (
    sys.implementation.name == "cpython"
    and (3, 11) <= sys.version_info[:2] < (3, 14)
    and getattr(sys, "_is_gil_enabled", lambda: True)()
)
#: how deep :func:`let_go` goes into objects held by objects
_DEPTH = 3


def _empty_fields(value: object, chunk: int, depth: int) -> None:
    fields = vars(value)
    # its own dict (the object's reference, this name's and getrefcount's), not a proxy's
    if type(fields) is not dict or sys.getrefcount(fields) > 3:
        return
    for name in list(fields):
        item = fields.pop(name)
        _empty(item, chunk, depth)
        del item


def _empty(value: object, chunk: int, depth: int) -> None:
    # the caller's name for it, this call's and getrefcount's references: no one else's
    if depth == 0 or sys.getrefcount(value) > 3:
        return
    if isinstance(value, list):
        while value:
            del value[-chunk:]
    elif isinstance(value, dict):
        while value:
            for _ in range(min(chunk, len(value))):
                _, item = value.popitem()
                if isinstance(item, list | dict) and len(item) > chunk:
                    _empty(item, chunk, depth - 1)
                del item
    elif hasattr(value, "__dict__") and not isinstance(value, type):
        _empty_fields(value, chunk, depth - 1)


def sorted_in_pieces(items: Iterable[T], key: Callable[[T], Any], piece: int = 4096) -> list[T]:
    """``sorted(items, key=key)``, sorted ``piece`` items at a time and then merged, for a
    job: a sort compares its keys in C with the interpreter lock held throughout (sorting
    100,000 services by name held every request of the worker 0.1-0.2 s), a piece's sort
    for a few milliseconds, and the merge hands the lock over as it goes. Stable, as
    ``sorted``."""
    everything = list(items)
    if len(everything) <= piece:
        return sorted(everything, key=key)
    pieces = [
        sorted(everything[at : at + piece], key=key) for at in range(0, len(everything), piece)
    ]
    return list(heapq.merge(*pieces, key=key))


class PerVersion(Generic[T]):
    """The value of the newest data version asked for, made once (per process).

    :meth:`get` with the version's ``key`` answers the kept value when it is that version's.
    Otherwise, with ``background`` and a value of an earlier version kept, it answers that
    one at once and makes the new one on a thread (``make_apart``: on a connection of its
    own); with none kept, or without ``background``, it makes it there and then (``make``),
    and the caller waits. Making holds a lock, so a request that must wait for the value a
    thread is making waits for that one rather than making its own."""

    def __init__(self, name: str, *, background: bool = False) -> None:
        self.background = background
        self.job = BackgroundJob(name, f"making the {name} in the background failed")
        self._key: Hashable = None
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(
        self, key: Hashable, make: Callable[[], T], make_apart: Callable[[], T] | None = None
    ) -> tuple[T, Hashable]:
        """The value for ``key`` (or, in the background, the previous one meanwhile) and
        the key of the version it is."""
        value, kept = self._value, self._key
        if value is not None and kept == key:
            return value, key
        if self.background and value is not None and make_apart is not None:
            self.job.start(lambda: self._make(key, make_apart))
            return value, kept
        return self._make(key, make), key

    def _make(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if self._value is None or self._key != key:
                self._value = make()
                self._key = key
            return self._value

    def wait(self, timeout: float | None = None) -> None:
        self.job.wait(timeout)
