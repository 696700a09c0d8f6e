"""service.hsds_extras: what an Open Referral (HSDS 3.0) import read that has no column

Schedules, languages, cost options, required documents, funding and contacts as the
source published them, and text such as fees and alerts, as one JSON value per service
(null for services from other sources); the HSDS API serves them back.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("service", sa.Column("hsds_extras", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("service") as batch:
        batch.drop_column("hsds_extras")
