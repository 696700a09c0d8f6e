"""The per-process caches and Python's cyclic garbage collector.

A worker holds large, long-lived structures (the geography snapshot, the directory index:
hundreds of thousands of objects). Requests allocate many short-lived dicts and lists, and
every so often the collector they trigger walks the whole heap, long-lived objects
included. After a cache is rebuilt, :func:`settle` collects what the previous one left and
moves everything alive into the collector's permanent generation (``gc.freeze``), which
collections skip: the patch answer got ~8% faster in-process.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Call after rebuilding a long-lived cache (not on the request path)."""
    gc.unfreeze()  # what an earlier settle froze may now be garbage: let it be collected
    gc.collect()
    gc.freeze()
