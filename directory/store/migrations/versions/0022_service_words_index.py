"""SQLite: an FTS5 index of the services' loose words, kept by triggers

The SQLite fallback found a term at a word's start with ``search_text LIKE '% term%'``,
reading every service: at 100,000 services a query that matches nothing cost 80 ms and any
other 150-240 ms a page. ``service_words`` indexes the same words (an external-content FTS5
table over ``service.search_text``, its ``rowid`` the service's id) and ``q`` is matched
there: a term is a word's start (``"term"*``), a phrase its words in a row, the last
a start (``"peer ment"*``), exactly as the ``LIKE`` read it, because the ``ascii``
tokenizer's words are the row's own (loose words are letters, digits and marks, each after
a space; every character outside ASCII is a word's).

Triggers keep the index with the rows, in the transaction that writes them (so an import
is still all or nothing). Three things they need:

- ``trusted_schema`` on: FTS5 is not marked innocuous, so with it off every write of a
  service fails. It is SQLite's default, and ``directory.store.db`` sets it on every
  connection in case a build has it off.
- no ``INSERT OR REPLACE`` of a service row: its delete fires no trigger unless
  ``recursive_triggers`` is on, and the index would keep the words replaced.
- a migration that makes the service table again (``batch_alter_table`` on SQLite) drops
  them with it and must create them again: ``tests/directory/test_migrations.py`` checks
  they are there at head.

PostgreSQL has its own (``search_vector``, 0005 and 0021): nothing changes there.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: the index, then its triggers (``directory.store.repositories.search`` matches against it)
CREATE = (
    "CREATE VIRTUAL TABLE service_words USING fts5("
    "search_text, content='service', content_rowid='id', tokenize='ascii')",
    "INSERT INTO service_words(service_words) VALUES ('rebuild')",
    "CREATE TRIGGER service_words_insert AFTER INSERT ON service BEGIN "
    "INSERT INTO service_words(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER service_words_delete AFTER DELETE ON service BEGIN "
    "INSERT INTO service_words(service_words, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    # (only when the words change: an import's update of every column of an unchanged
    # service rewrites nothing here)
    "CREATE TRIGGER service_words_update AFTER UPDATE OF id, search_text ON service "
    "WHEN old.id IS NOT new.id OR old.search_text IS NOT new.search_text BEGIN "
    "INSERT INTO service_words(service_words, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO service_words(rowid, search_text) VALUES (new.id, new.search_text); END",
)
#: what this revision makes, by name (``env.py`` leaves them out of the models' comparison)
TRIGGERS = ("service_words_insert", "service_words_delete", "service_words_update")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in CREATE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.execute("DROP TABLE service_words")
