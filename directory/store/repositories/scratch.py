"""A keyed scratch store: what an import must remember across a whole file (every grant
seen so far, every service ref used) kept as rows of a private temporary SQLite database
instead of dicts, so that reading a file of 100,000 rows holds no more than reading one of
1,000.

SQLite (the standard library's, not the directory's database) gives a private database
for an empty file name: it lives in its page cache, bounded here to a few megabytes, and
spills to a temporary file that is deleted when it is closed. Nothing is committed: one
transaction is opened and never ended, as nothing here must outlive the import.
"""

from __future__ import annotations

import pickle
import sqlite3
import tempfile
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

V = TypeVar("V")

#: the scratch database's page cache (KiB): what it may hold in memory before spilling
CACHE_KIB = 4 * 1024
#: rows read back from SQLite at a time when iterating
FETCH = 500


class ScratchFullError(Exception):
    """The temporary space an import sets its rows aside in (``TMPDIR``) is full or cannot
    be written: the import stops before writing anything."""

    def __init__(self, error: BaseException) -> None:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        super().__init__(
            f"The import ran out of temporary space ({reason}; the temporary directory, "
            f"TMPDIR: {tempfile.gettempdir()}): nothing was written. Free some space there, "
            "or point TMPDIR at a bigger disk, and import again."
        )


@contextmanager
def scratch_space() -> Iterator[None]:
    """Reading and writing the scratch files: a failure of theirs is a ScratchFullError."""
    try:
        yield
    except (OSError, sqlite3.OperationalError) as error:
        raise ScratchFullError(error) from None


class Ledger(Generic[V]):
    """Values by text key, in the order their keys were first added; each value is
    pickled, so a value read back is a copy: change it, then :meth:`put` it back. A full
    or failing temporary disk is a :class:`ScratchFullError`."""

    def __init__(self) -> None:
        with scratch_space():
            self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self.close = weakref.finalize(self, self._db.close)  # at the latest when collected
        with scratch_space():
            for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{CACHE_KIB}"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE entry (key TEXT PRIMARY KEY, value BLOB NOT NULL)")
            self._db.execute("BEGIN")  # one transaction, never committed (nothing is kept)
        self._count = 0

    def get(self, key: str) -> V | None:
        with scratch_space():
            row = self._db.execute("SELECT value FROM entry WHERE key = ?", (key,)).fetchone()
        return None if row is None else _loads(row[0])

    def __contains__(self, key: object) -> bool:
        with scratch_space():
            found = self._db.execute("SELECT 1 FROM entry WHERE key = ?", (key,)).fetchone()
        return found is not None

    def add(self, key: str, value: V) -> None:
        """Keep a value under a new key (a key already added is a ``KeyError``)."""
        try:
            with scratch_space():
                self._db.execute(
                    "INSERT INTO entry (key, value) VALUES (?, ?)", (key, _dumps(value))
                )
        except sqlite3.IntegrityError:
            raise KeyError(key) from None
        self._count += 1

    def put(self, key: str, value: V) -> None:
        """Replace the value of a key already added (it keeps its place in the order)."""
        with scratch_space():
            cursor = self._db.execute(
                "UPDATE entry SET value = ? WHERE key = ?", (_dumps(value), key)
            )
        if cursor.rowcount != 1:
            raise KeyError(key)

    def values(self) -> Iterator[V]:
        """Every value, in the order its key was added (none may be added or put while
        they are read)."""
        with scratch_space():
            cursor = self._db.execute("SELECT value FROM entry ORDER BY rowid")
            try:
                while rows := cursor.fetchmany(FETCH):
                    for (value,) in rows:
                        yield _loads(value)
            finally:
                cursor.close()

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"Ledger({self._count} entries)"


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _loads(blob: bytes) -> Any:
    return pickle.loads(blob)  # noqa: S301 (written by this process, just before)
