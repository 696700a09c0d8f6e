"""The rules data migrations ran by, copied as they stood and never changed afterwards, so
that a migration does what it did whatever the code later becomes. Each is named by the
day it was copied; a rule that changes is copied again under a new day, and the earlier
copy stays for the migrations that use it.

``loose_words_20261205`` is ``directory.store.words.loose_key`` of 5 December 2026
(migrations 0018, 0019 and 0021): case, accents, apostrophes and punctuation aside,
letters of every script kept as words, "ø", "ß", "æ", "ł"… as English readers type them.
"""

from __future__ import annotations

import re
import unicodedata

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
