"""service.search_text keeps a space before its first word, as its others have one

The SQLite fallback finds a term at a word's start with ``' ' || search_text LIKE
'% term%'``: joining the space to every row in the query was a fifth of the scan (at
100,000 services a count of one term 53.3 → 43.1 ms, two terms 65.7 → 51.5 ms). The words are now kept with it
(``directory.store.words.indexed``), as the organisations' ``search_name`` and the grants'
``search_title`` are (0019); PostgreSQL's vector (0005) is the same with or without it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE service SET search_text = ' ' || search_text "
        "WHERE substr(search_text, 1, 1) <> ' ' OR search_text = ''"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE service SET search_text = substr(search_text, 2) "
        "WHERE substr(search_text, 1, 1) = ' '"
    )
