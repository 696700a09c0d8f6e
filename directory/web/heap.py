"""The per-process caches and Python's cyclic garbage collector.

A worker holds large, long-lived structures (the geography snapshot, the directory index:
hundreds of thousands of objects). Requests allocate many short-lived dicts and lists, and
every so often the collector they trigger walks the whole heap, long-lived objects
included. After a cache is rebuilt, :func:`settle` collects what the previous one left and
moves everything alive into the collector's permanent generation (``gc.freeze``), which
collections skip: the patch answer got ~8% faster in-process. It then hands the C heap's
free pages back to the system (glibc's ``malloc_trim``): a rebuild reads every row of the
directory, and what it freed would otherwise stay in the worker's RSS. A cache rebuilt on a
background thread while requests are answered (after an import, or at midnight) is frozen
without a full collection, and none starts while it is built
(``directory/usecases/background.py``): at 100,000 services those collections held every
request of the worker for up to 1.1 s. The few cyclic objects left then stay frozen
(:func:`settle`).

Requests free memory too (a page of 100 services reads and encodes a few MB), and glibc
keeps the pages it freed amid live objects: at 100,000 services a worker's RSS grew by
about 20 MB of such pages over a mixed warm-up. :class:`Trimmer` hands them back at most
once every ``TRIM_INTERVAL_S`` seconds, after a response has been sent (about 1.5 ms for a
600 MB worker: 0.15% of a busy worker's time).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time
from collections.abc import Callable

from flask import Response

from directory.usecases.background import full_collections_paused


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (macOS, musl)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


#: the least time between two hand-backs of the C heap's free pages (:class:`Trimmer`)
TRIM_INTERVAL_S = 1.0


def can_trim() -> bool:
    """Whether the C library can hand its free pages back (glibc)."""
    return _TRIM is not None


def trim() -> None:
    """Hand the C heap's free pages back to the system (glibc; elsewhere nothing)."""
    if _TRIM is not None:
        _TRIM(0)


class Trimmer:
    """An ``after_request`` hook: :func:`trim` once the response has been sent (when the
    server closes it, so no client waits for it), if ``interval`` seconds have passed since
    the last time."""

    def __init__(self, interval: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.interval = TRIM_INTERVAL_S if interval is None else interval
        self.clock = clock
        self.last = clock()

    def __call__(self, response: Response) -> Response:
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            response.call_on_close(trim)
        return response


def settle() -> None:
    """Call after rebuilding a long-lived cache (not on the request path).

    While a background job runs (:func:`~directory.usecases.background.full_collections_paused`,
    on its thread or a request's: requests are being answered meanwhile) it collects only
    the young generations before freezing: a full collection walks the new cache and,
    unfrozen, the previous one too (0.9 s at 100,000 services, every request of the worker
    waiting). The previous cache is freed by reference counting when the last request using
    it ends; what of it was in reference cycles (a few objects, at 100,000 services 5-20)
    and the rare cyclic garbage of requests that reached the old generation before or
    during the build (under one object a request, on the Open Referral and OGC routes only)
    stay frozen for the worker's life: a served worker builds inline only its first index.
    A few hundred objects a rebuild (an import, and each midnight); the master replaces a
    worker whose memory an import grew (``web/serving/recycle.py``)."""
    if full_collections_paused():
        gc.collect(1)
    else:
        gc.unfreeze()  # what an earlier settle froze may now be garbage: let it be collected
        gc.collect()
    gc.freeze()
    trim()
