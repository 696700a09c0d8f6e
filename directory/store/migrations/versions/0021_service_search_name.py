"""service.search_name: the name's loose words, which rank a service whose name holds q

A word of ``q`` in a service's name ranks it first: on PostgreSQL the name is weight A of
the search vector (0005), on SQLite it counts 3. Both read the name as written, while the
query is made loose ("soren", "cafe"), so a name with an accent, "ø" or another script
never had its weight ("Søren youth club" ranked as if "soren" were only in its
description). The name's loose words, each after a space, are now kept on the row, as the
organisations' are (0019), and both databases rank by them; PostgreSQL's vector is made
again from them (its weight-A part). Imports and corrections write them; this migration
fills them by the rule as it stood (copied here).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

#: PostgreSQL's vector: the name's words at weight A, then every word (0005's, the name
#: as its loose words)
VECTOR = (
    "setweight(to_tsvector('english', coalesce(search_name, '')), 'A') || "
    "to_tsvector('english', coalesce(search_text, ''))"
)
#: 0005's
EARLIER = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "to_tsvector('english', coalesce(search_text, ''))"
)

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


def _vector(expression: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_service_search_vector")
    op.execute("ALTER TABLE service DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE service ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_service_search_vector ON service USING gin (search_vector)")


def upgrade() -> None:
    op.add_column("service", sa.Column("search_name", sa.Text(), server_default="", nullable=False))
    _fill("service", "name", "search_name")
    _vector(VECTOR)


def downgrade() -> None:
    _vector(EARLIER)
    op.execute("ALTER TABLE service DROP COLUMN search_name")
