"""An opportunity's contact that may not be published is taken out of its change events

Until 6 December a change to an opportunity's contact recorded the old and the new name and
email address as they were, whether or not ``contact_public`` allowed them to be shown; the
history, ``/changes`` and ``changes.atom`` then sent them to anyone. The writer now records
"(not published)" for a side that may not be shown (``directory.ingest.records.published``),
as it did for a patch contact's private email.

This migration does the same to the events already held: in each opportunity event whose
opportunity's contact is not public now (or which is gone), ``contact_name`` and
``contact_email`` become "(not published)" on both sides (an empty side stays empty). Which
side was public when the event was written is not known; the contact's present wish is
kept. Downgrading cannot bring the values back.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

PRIVATE = "(not published)"
FIELDS = ("contact_name", "contact_email")


def upgrade() -> None:
    bind = op.get_bind()
    event = sa.table(
        "change_event", sa.column("id", sa.Integer), sa.column("entity", sa.String),
        sa.column("entity_id", sa.Integer), sa.column("changes", sa.JSON),
    )  # fmt: skip
    opportunity = sa.table(
        "opportunity", sa.column("id", sa.Integer), sa.column("contact_public", sa.Boolean)
    )
    public = {
        row.id
        for row in bind.execute(
            sa.select(opportunity.c.id).where(opportunity.c.contact_public.is_(True))
        )
    }
    rows = bind.execute(
        sa.select(event.c.id, event.c.entity_id, event.c.changes).where(
            event.c.entity == "opportunity"
        )
    ).all()
    masked = []
    for row in rows:
        changes = dict(row.changes or {})
        if row.entity_id in public or not any(f in changes for f in FIELDS):
            continue
        for name in FIELDS:
            if name in changes:
                changes[name] = [v and PRIVATE for v in changes[name]]
        masked.append({"row_id": row.id, "changes": changes})
    if masked:
        bind.execute(
            sa.update(event)
            .where(event.c.id == sa.bindparam("row_id"))
            .values(changes=sa.bindparam("changes", type_=sa.JSON)),
            masked,
        )


def downgrade() -> None:
    pass
