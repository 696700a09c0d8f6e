"""import_run.records: the records a run withdrew, restored and moved, named

A run kept only counts ("services: 49 withdrawn"), so the data officer could not tell from
/api/v1/imports/{id} which services a full import had withdrawn, nor which records an import
had taken over from another source (whose next full import would then no longer withdraw
them). The run now keeps them by kind and action, each with its ref and name (and, moved,
the source it came from): the first 1,000 of each, its counts staying whole. Runs recorded
before this migration have none (null, shown as {}).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy: change_event refers to import_run)
    op.add_column("import_run", sa.Column("records", sa.JSON(), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN (SQLite 3.35 or later): a batch copy drops import_run, which
    # change_event's rows refer to
    op.drop_column("import_run", "records")
