"""outcome.measured_on: when an outcome was measured

An outcome may be measured after its period and after the service's funding ended (a
follow-up six or twelve months on). The outcomes held before this migration have no date of
measurement; the answers take their period's end as the date they were measured and say so.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy: practice_outcome refers to this table)
    op.add_column("outcome", sa.Column("measured_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outcome") as batch:
        batch.drop_column("measured_on")
