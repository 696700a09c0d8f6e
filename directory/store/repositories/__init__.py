"""All SQL lives in this package."""

from typing import Any

from sqlalchemy import false, func


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
