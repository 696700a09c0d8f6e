"""organisation.search_name and grant.search_title: names searched case, accents and
punctuation aside

``GET /organisations?q=`` and ``GET /grants?q=`` looked for each word inside the name as
written, in lower case: "cafe" missed "Café", "women’s" (an apostrophe-less "womens")
missed "Women's", and SQLite's ``lower()`` folds only ASCII, so "søren" missed "SØREN". The
names are now kept as their loose words, each after a space
(``directory.store.words.indexed``), as a service's ``search_text`` keeps its words (its
first space since 0020), and a query's words are made loose the same way. Imports write
them; this migration fills them for the rows held, by the rule as it stood (copied here).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_BATCH = 2000
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_LETTERS = str.maketrans(
    {
        "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
        "ħ": "h", "ŧ": "t", "ŋ": "n", "ĸ": "k", "'": "", "’": "", "‘": "", "‛": "", "ʼ": "",
    }
)  # fmt: skip


def _loose(text: str) -> str:
    if text.isascii():
        text = text.casefold().replace("&", " and ").replace("'", "")
        return " ".join(_NOT_WORD.sub(" ", text).split())
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    text = unicodedata.normalize(
        "NFC", "".join(c for c in text if not unicodedata.combining(c))
    ).replace("&", " and ")
    return " ".join(
        "".join(
            c if c.isalnum() or unicodedata.category(c)[0] == "M" else " " for c in text
        ).split()
    )


def _fill(table: str, source: str, target: str) -> None:
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
            .limit(_BATCH)
        ).all()
        if not chunk:
            return
        last = chunk[-1][0]
        bind.execute(
            update,
            [{"row_id": row_id, "words": " " + _loose(text or "")} for row_id, text in chunk],
        )


def upgrade() -> None:
    op.add_column(
        "organisation", sa.Column("search_name", sa.Text(), server_default="", nullable=False)
    )
    op.add_column("grant", sa.Column("search_title", sa.Text(), server_default="", nullable=False))
    _fill("organisation", "name", "search_name")
    _fill("grant", "title", "search_title")


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35 and later, as PostgreSQL): a batch copy of the
    # tables would lose organisation's index on an expression (0017), which SQLite cannot
    # reflect, and fail on the rows that refer to them
    op.execute('ALTER TABLE "grant" DROP COLUMN search_title')
    op.execute("ALTER TABLE organisation DROP COLUMN search_name")
