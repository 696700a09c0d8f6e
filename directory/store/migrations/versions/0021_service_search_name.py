"""service.search_name: the name's loose words, which rank a service whose name holds q

A word of ``q`` in a service's name ranks it first: on PostgreSQL the name is weight A of
the search vector (0005), on SQLite it counts 3. Both read the name as written, while the
query is made loose ("soren", "cafe"), so a name with an accent, "ø" or another script
never had its weight ("Søren youth club" ranked as if "soren" were only in its
description). The name's loose words, each after a space, are now kept on the row, as the
organisations' are (0019), and both databases rank by them; PostgreSQL's vector is made
again from them (its weight-A part). Imports and corrections write them; this migration
fills them by the rule as it stood (``directory.store.migrations.frozen``).

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from directory.store.migrations.frozen import fill_spaced_words_20261205 as _fill

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
