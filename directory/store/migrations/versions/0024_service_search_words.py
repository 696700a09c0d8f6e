"""PostgreSQL: service.search_words, the services' words as they are, for a word typed so far

PostgreSQL matched a term of ``q`` against ``search_vector``, the words' English stems
(0005, 0021): by its stems (``mentoring`` finds "mentors") or as the start of a stem
(``ment`` finds "mentoring", whose stem is "mentor"). A word typed past its stem found
nothing: ``mentori``, ``housin`` or ``supporti``, on the way to "mentoring", "housing" or
"supporting", matched no stem and started none, while SQLite's index and the patch's ``q``
found every service with a word starting so. A search box that asks as its user types
emptied at the third letter from the end and filled again at the last.

``search_words`` is what a query is matched against: ``search_vector``'s stems followed by
``search_text`` as a ``simple`` vector (each loose word as it is, no stems, no stop words
left out), a stored generated column with a GIN index of its own. A term matches by its
stems, or its words as typed starting a stem or a word (``'mentori':*`` finds "mentoring"),
in one ``tsquery`` as before. (Two vectors, each term matching either, had the planner read
every row for "haven trust", 42 → 104-120 ms at 100,000 services, and each common word
cost 15% more; one vector twice the size costs what the stems alone did.) The rank is still
read from ``search_vector``, as before.

SQLite has its own index of the same words (``service_words``, 0022): nothing changes there.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


#: ``search_vector``'s expression (0021; a generated column may not read another), then
#: the words as they are
WORDS = (
    "setweight(to_tsvector('english', coalesce(search_name, '')), 'A') || "
    "to_tsvector('english', coalesce(search_text, '')) || "
    "to_tsvector('simple', coalesce(search_text, ''))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"ALTER TABLE service ADD COLUMN search_words tsvector GENERATED ALWAYS AS ({WORDS}) STORED"
    )
    op.execute("CREATE INDEX ix_service_search_words ON service USING gin (search_words)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_service_search_words")
    op.execute("ALTER TABLE service DROP COLUMN search_words")
