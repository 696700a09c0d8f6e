"""service.search_vector on PostgreSQL: the weighted text vector, stored and GIN-indexed

Ranking with ts_rank over a vector computed per row made searches for common words slow
(every matching row rebuilt its vector). The vector is now a generated column, the service
name at weight A before the search text, and both the match and the rank read it. PostgreSQL
only: SQLite's portable search reads search_text and needs nothing here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VECTOR = (
    "setweight(to_tsvector('english', coalesce(name, '')), 'A') || "
    "to_tsvector('english', coalesce(search_text, ''))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE service ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({VECTOR}) STORED"
    )
    op.execute("CREATE INDEX ix_service_search_vector ON service USING gin (search_vector)")
    op.execute("DROP INDEX ix_service_search")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX ix_service_search ON service USING gin (to_tsvector('english', search_text))"
    )
    op.execute("DROP INDEX ix_service_search_vector")
    op.execute("ALTER TABLE service DROP COLUMN search_vector")
