"""service.search_text keeps its loose words: text search compares words, not fragments

Before, the SQLite fallback (and the patch's ``q``) looked for each term anywhere in the
text: "men" found "women", "ham" found "Lewisham", and "Women’s", "Café" or "Kensington &
Chelsea" missed "Women's", "Cafe" and "Kensington and Chelsea". The text is now kept as
its loose words (``directory.store.words``), which a term must start; PostgreSQL's vector
is generated from it.

The rule is copied here, as it stood, so that this migration does what it did whatever
the code later becomes. Downgrading leaves the words as they are: the earlier code then
still finds plain words in them, but not a term with an apostrophe, an accent, "&" or a
hyphen (until an import writes the service again).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

import re
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_BATCH = 2000
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _loose(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.casefold().replace("&", " and ").replace("'", "")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def upgrade() -> None:
    bind = op.get_bind()
    service = sa.table("service", sa.column("id", sa.Integer), sa.column("search_text", sa.Text))
    update = (
        sa.update(service)
        .where(service.c.id == sa.bindparam("row_id"))
        .values(search_text=sa.bindparam("words"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(service.c.id, service.c.search_text)
            .where(service.c.id > last)
            .order_by(service.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        changed = [
            {"row_id": row_id, "words": words}
            for row_id, text in rows
            if (words := _loose(text or "")) != text
        ]
        if changed:
            bind.execute(update, changed)
        last = rows[-1][0]


def downgrade() -> None:
    pass
