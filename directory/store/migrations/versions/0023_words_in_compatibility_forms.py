"""Words written in a compatibility form are kept in lower case, as every other

``loose_key`` folded case before it made letters in a compatibility form plain, so
"𝐁𝐮𝐬 Stop" (styled text pasted from social media), "ℍaven" or "Kids™" kept capitals in
the words a row keeps ("Bus stop", "Haven", "kidsTM"). SQLite's index and PostgreSQL's
text search lower-case them and found them, while the patch's ``q``, comparing the words
as kept, did not; and "ǣ" or "ǿ" missed the letters English readers type for them. The
rule now makes such letters plain first (``directory.store.words.loose_key``).

Only text that is not all ASCII can give other words. For those rows, this migration writes
the words again, by the rule as it stood (``loose_words_20261205b``), where they differ:
- the services' ``search_text``, made from their name, organisation's name, description
  and themes' names, the themes in the order of their ids, as 0018 did;
- the services' and organisations' ``search_name`` and the grants' ``search_title``.

On SQLite the triggers of 0022 keep the index with them; PostgreSQL's vector is generated
from the same columns. Downgrading leaves the words as they are: the earlier code finds its
own words in them, a word in a compatibility form as it found it before.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from directory.store.migrations.frozen import loose_words_20261205b as _words
from directory.store.migrations.frozen import rewrite_words_20261205b as _rewrite

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, sa.column("id", sa.Integer), *(sa.column(c) for c in columns))


def upgrade() -> None:
    bind = op.get_bind()
    service = _table("service", "name", "description", "organisation_id", "search_text",
                     "search_name")  # fmt: skip
    organisation = _table("organisation", "name", "search_name")
    grant = _table("grant", "title", "search_title")
    service_theme = sa.table("service_theme", sa.column("service_id"), sa.column("theme_id"))
    theme = sa.table("theme", sa.column("id"), sa.column("name"))
    theme_names = dict(bind.execute(sa.select(theme.c.id, theme.c.name)).all())
    themes: dict[int, list[str]] = {}
    for service_id, theme_id in bind.execute(
        sa.select(service_theme.c.service_id, service_theme.c.theme_id).order_by(
            service_theme.c.service_id, service_theme.c.theme_id
        )
    ):
        themes.setdefault(service_id, []).append(theme_names.get(theme_id, theme_id))

    def service_words(row: Any) -> str:
        _, _, name, organisation_name, description = row
        parts = (name, organisation_name, description, *themes.get(row[0], ()))
        return _words(" ".join(part for part in parts if part))

    _rewrite(
        sa.select(
            service.c.id, service.c.search_text, service.c.name, organisation.c.name,
            service.c.description,
        ).select_from(
            service.outerjoin(organisation, organisation.c.id == service.c.organisation_id)
        ),
        service.c.search_text,
        service_words,
    )  # fmt: skip
    for table, source, target in (
        (service, "name", "search_name"),
        (organisation, "name", "search_name"),
        (grant, "title", "search_title"),
    ):
        _rewrite(
            sa.select(table.c.id, table.c[target], table.c[source]),
            table.c[target],
            lambda row: _words(row[2] or ""),
        )


def downgrade() -> None:
    pass
