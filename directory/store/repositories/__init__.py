"""All SQL lives in this package."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, any_, bindparam, false, func
from sqlalchemy.orm import Session
from sqlalchemy.types import ARRAY


def starts_a_word(words: Any, loose: str) -> Any:
    """``words`` (a column of loose words, each after a space: ``search_text``,
    ``search_name``, ``search_title``) has ``loose`` (loose words, as
    ``directory.store.words`` makes them) at a word's start: ``LIKE '% loose%'``, its % and
    _ escaped (loose words hold none)."""
    return words.contains(" " + loose, autoescape=True)


def wanted(found: Any, exclude: bool) -> Any:
    """``found`` (a condition a row's words meet) as a name search asks it: met, or for a
    ``-word`` not met (a NULL column, or a funder none, has not the word)."""
    return ~func.coalesce(found, false()) if exclude else found


def by_name(name: Any, *then: Any) -> list[Any]:
    """ORDER BY a name as people read lists: case aside ("Action for Kids" before "Action
    Space", "Lambeth …" before "LCPF …"), on SQLite (whose own order is by code point) as on
    PostgreSQL; the name as written, then ``then``, break ties."""
    return [func.lower(name), name, *then]


def among(column: Any, values: Sequence[Any], on: Session | Connection) -> Any:
    """``column IN (values)``, for the reads and writes that go through many ids or refs a
    few hundred at a time. On PostgreSQL (``on`` is the session or connection that runs
    it) ``column = ANY(:values)``, the values one bound array: an IN list of 500 is 500
    parameters, each named by SQLAlchemy and found again in the statement's text by
    psycopg, in every statement (a no-change re-import of 10,000 services on PostgreSQL
    spent about a tenth of its time there). SQLite has no arrays: an IN list."""
    dialect = on.dialect if isinstance(on, Connection) else on.get_bind().dialect
    if dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
