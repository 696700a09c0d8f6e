"""organisation.search_name and grant.search_title: names searched case, accents and
punctuation aside

``GET /organisations?q=`` and ``GET /grants?q=`` looked for each word inside the name as
written, in lower case: "cafe" missed "Café", "women’s" (an apostrophe-less "womens")
missed "Women's", and SQLite's ``lower()`` folds only ASCII, so "søren" missed "SØREN". The
names are now kept as their loose words, each after a space
(``directory.store.words.indexed``), as a service's ``search_text`` keeps its words (its
first space since 0020), and a query's words are made loose the same way. Imports write
them; this migration fills them for the rows held, by the rule as it stood (``directory.store.migrations.frozen``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from directory.store.migrations.frozen import fill_spaced_words_20261205 as _fill

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


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
