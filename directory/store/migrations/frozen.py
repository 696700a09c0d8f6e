"""The rules data migrations ran by, copied as they stood and never changed afterwards, so
that a migration does what it did whatever the code later becomes. Each is named by the
day it was copied; a rule that changes is copied again under a new day, and the earlier
copy stays for the migrations that use it.

``loose_words_20261205`` is ``directory.store.words.loose_key`` of 5 December 2026
(migrations 0018, 0019 and 0021): case, accents, apostrophes and punctuation aside,
letters of every script kept as words, "ø", "ß", "æ", "ł"… as English readers type them.
``loose_words_20261205b`` is the same rule as it stood at the end of that day (migration
0023), letters written in a compatibility form first made plain ("𝐁𝐮𝐬" → "bus").
``loose_words_20261206`` is that rule with the characters that are not seen (a soft
hyphen, the joiners, a byte-order mark) left out first (migration 0025).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

#: rows read and written at a time
BATCH = 2000

_NOT_WORD_20261205 = re.compile(r"[^a-z0-9]+")
_LETTERS_20261205 = str.maketrans(
    {
        "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
        "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "'": "", "’": "", "‘": "", "‛": "", "ʼ": "",
    }
)  # fmt: skip


def loose_words_20261205(text: str) -> str:
    if text.isascii():
        text = text.casefold().replace("&", " and ").replace("'", "")
        return " ".join(_NOT_WORD_20261205.sub(" ", text).split())
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS_20261205))
    text = unicodedata.normalize(
        "NFC", "".join(c for c in text if not unicodedata.combining(c))
    ).replace("&", " and ")
    return " ".join(
        "".join(
            c if c.isalnum() or unicodedata.category(c)[0] == "M" else " " for c in text
        ).split()
    )


def loose_words_20261205b(text: str) -> str:
    """``loose_key`` as it stood at the end of 5 December (migration 0023): the rule above,
    letters written in a compatibility form first made plain ("𝐁𝐮𝐬 Stop" → "bus stop",
    not "Bus stop"; "ǣ" → "ae")."""
    return loose_words_20261205(text if text.isascii() else unicodedata.normalize("NFKD", text))


_INVISIBLE_20261206 = str.maketrans(dict.fromkeys("\u00ad\u200c\u200d\u2060\ufeff"))


def loose_words_20261206(text: str) -> str:
    """``loose_key`` as it stood on 6 December (migration 0025): the rule of 0023, a soft
    hyphen, a zero-width joiner or non-joiner, a word joiner and a byte-order mark left out
    first ("men\u00adtoring" → "mentoring", not "men toring")."""
    return loose_words_20261205b(text if text.isascii() else text.translate(_INVISIBLE_20261206))


def rewrite_words_20261205b(
    rows: sa.Select[Any], target: sa.Column[Any], words_of: Callable[[Sequence[Any]], str]
) -> int:
    """Write ``target`` (a column of loose words, each after a space) again where its row's
    text is not all ASCII and ``words_of`` the row (``rows``' columns: the id, the words
    held, then the texts they are made of) gives other words (not only the same in another
    order); ``BATCH`` rows at a time by id. How many were written."""
    bind = op.get_bind()
    id_column = rows.selected_columns[0]
    update = (
        sa.update(target.table)
        .where(target.table.c.id == sa.bindparam("row_id"))
        .values({target.name: sa.bindparam("words")})
    )
    last, written = 0, 0
    while True:
        chunk = bind.execute(rows.where(id_column > last).order_by(id_column).limit(BATCH)).all()
        if not chunk:
            return written
        last = chunk[-1][0]
        changed = [
            {"row_id": row[0], "words": words}
            for row in chunk
            if not all((text or "").isascii() for text in row[2:])
            # (the same words in another order, as a service's themes may be: kept)
            and sorted((words := " " + words_of(row)).split()) != sorted(row[1].split())
        ]
        if changed:
            bind.execute(update, changed)
            written += len(changed)


def fill_spaced_words_20261205(table: str, source: str, target: str) -> None:
    """Set every row's ``target`` to ``source``'s loose words (``loose_words_20261205``),
    each after a space, ``BATCH`` rows at a time by id."""
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(source, sa.Text),
                    sa.column(target, sa.Text))  # fmt: skip
    update = (
        sa.update(rows)
        .where(rows.c.id == sa.bindparam("row_id"))
        .values({target: sa.bindparam("words")})
    )
    last = 0
    while True:
        chunk = bind.execute(
            sa.select(rows.c.id, rows.c[source])
            .where(rows.c.id > last)
            .order_by(rows.c.id)
            .limit(BATCH)
        ).all()
        if not chunk:
            return
        last = chunk[-1][0]
        words = [
            {"row_id": row_id, "words": " " + loose_words_20261205(text or "")}
            for row_id, text in chunk
        ]
        bind.execute(update, words)


def rewrite_held_words_20261205b(words: Callable[[str], str]) -> None:
    """Write again, by the rule ``words``, the loose words held for rows whose text is not
    all ASCII, where they differ (``rewrite_words_20261205b``; migrations 0023 and 0025):
    the services' ``search_text``, made from their name, organisation's name, description
    and themes' names, the themes in the order of their ids, as 0018 did; the services'
    and organisations' ``search_name`` and the grants' ``search_title``. On SQLite the
    triggers of 0022 keep the index with them; PostgreSQL's vectors are generated from the
    same columns."""
    bind = op.get_bind()

    def table(name: str, *columns: str) -> sa.TableClause:
        return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c) for c in columns))

    service = table("service", "name", "description", "organisation_id", "search_text",
                    "search_name")  # fmt: skip
    organisation = table("organisation", "name", "search_name")
    grant = table("grant", "title", "search_title")
    service_theme = sa.table("service_theme", sa.column("service_id"), sa.column("theme_id"))
    theme = sa.table("theme", sa.column("id"), sa.column("name"))
    theme_names = dict(bind.execute(sa.select(theme.c.id, theme.c.name)).all())
    themes: dict[int, list[str]] = {}
    for service_id, theme_id in bind.execute(
        sa.select(service_theme.c.service_id, service_theme.c.theme_id).order_by(
            service_theme.c.service_id, service_theme.c.theme_id
        )
    ):
        themes.setdefault(service_id, []).append(theme_names.get(theme_id, theme_id))

    def service_words(row: Any) -> str:
        _, _, name, organisation_name, description = row
        parts = (name, organisation_name, description, *themes.get(row[0], ()))
        return words(" ".join(part for part in parts if part))

    rewrite_words_20261205b(
        sa.select(
            service.c.id, service.c.search_text, service.c.name, organisation.c.name,
            service.c.description,
        ).select_from(
            service.outerjoin(organisation, organisation.c.id == service.c.organisation_id)
        ),
        service.c.search_text,
        service_words,
    )  # fmt: skip
    for t, source, target in (
        (service, "name", "search_name"),
        (organisation, "name", "search_name"),
        (grant, "title", "search_title"),
    ):
        rewrite_words_20261205b(
            sa.select(t.c.id, t.c[target], t.c[source]),
            t.c[target],
            lambda row: words(row[2] or ""),
        )
