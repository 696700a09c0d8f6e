"""The rules data migrations ran by, copied as they stood and never changed afterwards, so
that a migration does what it did whatever the code later becomes. Each is named by the
day it was copied; a rule that changes is copied again under a new day, and the earlier
copy stays for the migrations that use it.

``loose_words_20261205`` is ``directory.store.words.loose_key`` of 5 December 2026
(migrations 0018, 0019 and 0021): case, accents, apostrophes and punctuation aside,
letters of every script kept as words, "ø", "ß", "æ", "ł"… as English readers type them.
``loose_words_20261205b`` is the same rule as it stood at the end of that day (migration
0023), letters written in a compatibility form first made plain ("𝐁𝐮𝐬" → "bus").
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
