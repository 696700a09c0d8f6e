"""change_event.actor and patch_contact.email_public: who made each change, and whether a
contact's email may be published

A change made over the API (a write, or an import uploaded with a key) records the name of
the API key that made it (never the key), as its import run already does. A patch contact's
email address is shown in reads only when the record says it may be: the contacts held
before this migration were published as they stood (role mailboxes such as spoc@…), so
they keep being shown; a contact written over the API is private unless it says otherwise.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs (no batch copy: change_area and import_run refer to these tables)
    op.add_column("change_event", sa.Column("actor", sa.String(length=120), nullable=True))
    op.add_column(
        "patch_contact",
        sa.Column("email_public", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.execute(sa.text("UPDATE patch_contact SET email_public = :yes").bindparams(yes=True))


def downgrade() -> None:
    with op.batch_alter_table("patch_contact") as batch:
        batch.drop_column("email_public")
    with op.batch_alter_table("change_event") as batch:
        batch.drop_column("actor")
