"""rate_limit.expires_at indexed: the purge of ended counters asks by it

Counts are written to the database (``DIRECTORY_RATE_LIMIT_STORAGE=database``) and every
100th deletes up to 1,000 ended counters; without an index each purge read the whole table.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rate_limit_expires_at", "rate_limit", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_expires_at", table_name="rate_limit")
