"""service and organisation lists in name order, case aside, read by an index

``ORDER BY lower(name), name, id`` (``store.repositories.by_name``): "Lambeth …" before
"LCPF …" on SQLite as on PostgreSQL. With this index a page of the services, or of the
Open Referral services, costs what it did when ordered by the name as written (at 100,000
services, best of 5, the two interleaved: 29.9 and 30.6 ms against 26.8 and 32.2 ms,
``scripts/bench_lists.py``); without it, sorting every service by ``lower(name)`` took
about twice as long (100 ms against 53 ms).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("service", "organisation"):
        op.create_index(f"ix_{table}_name_order", table, [sa.text("lower(name)"), "name", "id"])


def downgrade() -> None:
    for table in ("service", "organisation"):
        op.drop_index(f"ix_{table}_name_order", table_name=table)
