"""programme.community_safety: whether the funding answers count a programme by default

The programmes directory/data/programmes.csv lists take its community_safety column; any
other programme (named by an import) is classified by the rule in
directory/data/community_safety.toml (its name's words, or its funder). Every later import
classifies them again from the same files.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from directory.data.community_safety import classify

    # a plain ADD COLUMN (SQLite allows it with a constant default): a batch copy of the table
    # would have to drop a table grants refer to
    op.add_column(
        "programme",
        sa.Column("community_safety", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    programme = sa.table(
        "programme",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("funder_ref", sa.String),
        sa.column("community_safety", sa.Boolean),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(programme.c.id, programme.c.name, programme.c.funder_ref)).all()
    flagged = [r.id for r in rows if classify(r.id, r.name, r.funder_ref)]
    if flagged:
        bind.execute(
            programme.update().where(programme.c.id.in_(flagged)).values(community_safety=sa.true())
        )


def downgrade() -> None:
    op.drop_column("programme", "community_safety")
