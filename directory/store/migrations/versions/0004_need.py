"""need: recorded crime per borough and month, and area populations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crime_count",
        sa.Column("area_code", sa.String(length=40), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("major_category", sa.String(length=120), nullable=False),
        sa.Column("minor_category", sa.String(length=160), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_run.id"],
            name=op.f("fk_crime_count_import_run_id_import_run"),
        ),
        sa.PrimaryKeyConstraint(
            "area_code", "month", "major_category", "minor_category", name=op.f("pk_crime_count")
        ),
    )
    with op.batch_alter_table("crime_count", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crime_count_month"), ["month"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_crime_count_import_run_id"), ["import_run_id"], unique=False
        )
    op.create_table(
        "area_population",
        sa.Column("area_code", sa.String(length=40), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("all_ages", sa.Integer(), nullable=False),
        sa.Column("aged_0_9", sa.Integer(), nullable=True),
        sa.Column("aged_10_17", sa.Integer(), nullable=True),
        sa.Column("aged_18_24", sa.Integer(), nullable=True),
        sa.Column("aged_10_24", sa.Integer(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_run.id"],
            name=op.f("fk_area_population_import_run_id_import_run"),
        ),
        sa.PrimaryKeyConstraint("area_code", "reference_date", name=op.f("pk_area_population")),
    )
    with op.batch_alter_table("area_population", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_area_population_import_run_id"), ["import_run_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("area_population", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_area_population_import_run_id"))
    op.drop_table("area_population")
    with op.batch_alter_table("crime_count", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crime_count_import_run_id"))
        batch_op.drop_index(batch_op.f("ix_crime_count_month"))
    op.drop_table("crime_count")
