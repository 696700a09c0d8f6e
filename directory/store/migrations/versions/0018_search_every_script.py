"""service.search_text keeps words of every script, and Latin letters Unicode keeps whole

Before, a service's words were only a-z and 0-9 after accents were taken off: a name in
Bengali, Arabic or Cyrillic had no words (nothing found it), and "ø", "ß", "æ" or "ł" were
dropped ("Søren" kept as "sren", which "soren" does not start). The rule
(``directory.store.words.loose_key``) now keeps every script's letters and writes those
Latin letters as English readers type them ("soren", "strasse").

Text that is all ASCII gives the same words as before, so only the services whose name,
description or organisation's name is not are written again, from those columns and their
themes' names in the order of their ids (the stored words had already lost the letters; an
import writes them in the order its file lists them: the same words). The rule is copied
here, as it stood, so that this migration does what it did whatever the code later becomes.
Downgrading leaves the words as they are: the earlier code finds its own words in them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from directory.store.migrations.frozen import BATCH, loose_words_20261205

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    service = sa.table(
        "service",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("organisation_id", sa.Integer),
        sa.column("search_text", sa.Text),
    )
    organisation = sa.table(
        "organisation", sa.column("id", sa.Integer), sa.column("name", sa.String)
    )
    service_theme = sa.table(
        "service_theme", sa.column("service_id", sa.Integer), sa.column("theme_id", sa.String)
    )
    theme = sa.table("theme", sa.column("id", sa.String), sa.column("name", sa.String))
    theme_names = dict(bind.execute(sa.select(theme.c.id, theme.c.name)).all())
    update = (
        sa.update(service)
        .where(service.c.id == sa.bindparam("row_id"))
        .values(search_text=sa.bindparam("words"))
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(service.c.id, service.c.name, service.c.description, organisation.c.name)
            .select_from(
                service.outerjoin(organisation, organisation.c.id == service.c.organisation_id)
            )
            .where(service.c.id > last)
            .order_by(service.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1][0]
        wanted = [row for row in rows if not all((text or "").isascii() for text in row[1:])]
        if not wanted:
            continue
        themes: dict[int, list[str]] = {}
        for service_id, theme_id in bind.execute(
            sa.select(service_theme.c.service_id, service_theme.c.theme_id)
            .where(service_theme.c.service_id.in_([row[0] for row in wanted]))
            .order_by(service_theme.c.service_id, service_theme.c.theme_id)
        ):
            themes.setdefault(service_id, []).append(theme_names.get(theme_id, theme_id))
        bind.execute(
            update,
            [
                {
                    "row_id": row_id,
                    "words": loose_words_20261205(
                        " ".join(
                            part
                            for part in (name, org, description, *themes.get(row_id, ()))
                            if part
                        )
                    ),
                }
                for row_id, name, description, org in wanted
            ],
        )


def downgrade() -> None:
    pass
