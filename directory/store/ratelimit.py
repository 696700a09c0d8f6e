"""Rate-limit counters in the directory's own database, for Flask-Limiter.

A storage backend of the ``limits`` library (which Flask-Limiter counts with) over the
``rate_limit`` table, so that every worker and every server on one database shares the
counts (``DIRECTORY_RATE_LIMIT_STORAGE=database``). Only the fixed-window strategy is
needed: each count is one upsert (``INSERT … ON CONFLICT DO UPDATE … RETURNING``, which
SQLite 3.35+ and PostgreSQL both do atomically), restarting the window when it has ended.

A counter whose window has ended is dead weight (the next count restarts it as if it were
not there), so every :data:`PURGE_EVERY`-th count a worker writes also deletes, in the same
transaction, up to :data:`PURGE_BATCH` of them: up to 10 purged for each count written,
and a count adds at most one row, so the table holds the counters of the live windows and
little more. On PostgreSQL the rows are picked ``FOR UPDATE SKIP LOCKED`` (workers purging
at once neither wait for each other nor deadlock) and a row is deleted only if its window
has still ended (one restarted meanwhile is kept); SQLite writes one transaction at a time.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from limits.storage import Storage
from sqlalchemy import Connection, Engine, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from directory.settings import shown_url
from directory.store.models import RateLimit

#: the URI scheme Flask-Limiter is given for this storage (``directory-db://``); the engine
#: goes in the storage options
SCHEME = "directory-db"
#: a worker purges ended windows' counters once in this many counts it writes …
PURGE_EVERY = 100
#: … at most this many at a time
PURGE_BATCH = 1000


class DatabaseStorage(Storage):
    """Fixed-window counters in the ``rate_limit`` table."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.engine: Engine = options["engine"]
        self._insert = (
            postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        )
        self._counts = itertools.count(1)

    @property
    def storage(self) -> str:
        """Where the counters are (Flask-Limiter's `limiter config` shows each storage's
        ``storage``, its client, and failed on one without)."""
        return f"{RateLimit.__tablename__} in {shown_url(self.engine.url.render_as_string(hide_password=False))}"

    @property
    def base_exceptions(self) -> type[Exception]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        table = RateLimit.__table__
        statement = self._insert(table).values(key=key, count=amount, expires_at=now + expiry)
        ended = table.c.expires_at <= now
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((ended, amount), else_=table.c.count + amount),
                "expires_at": case((ended, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.count)
        with self.engine.begin() as connection:
            count = int(connection.execute(statement).scalar_one())
            if next(self._counts) % PURGE_EVERY == 0:
                self._purge(connection, now, PURGE_BATCH)
            return count

    def purge(self, batch: int = PURGE_BATCH) -> int:
        """Delete up to ``batch`` counters whose window has ended; how many were."""
        with self.engine.begin() as connection:
            return self._purge(connection, time.time(), batch)

    @staticmethod
    def _purge(connection: Connection, now: float, batch: int) -> int:
        table = RateLimit.__table__
        ended = table.c.expires_at <= now
        # SKIP LOCKED is PostgreSQL's (SQLite's compiler leaves FOR UPDATE out); ``ended`` is
        # asked again of each row deleted, so a window restarted meanwhile is kept
        picked = select(table.c.key).where(ended).limit(batch).with_for_update(skip_locked=True)
        return connection.execute(delete(table).where(table.c.key.in_(picked), ended)).rowcount

    def _row(self, key: str) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(
                select(RateLimit.count, RateLimit.expires_at).where(RateLimit.key == key)
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return 0 if row is None or row.expires_at <= time.time() else int(row.count)

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return time.time() if row is None else float(row.expires_at)

    def check(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(select(RateLimit.key).limit(1)).all()
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self.engine.begin() as connection:
            return connection.execute(delete(RateLimit)).rowcount

    def clear(self, key: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(RateLimit).where(RateLimit.key == key))
