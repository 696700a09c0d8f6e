"""geography: areas, neighbours, postcodes, data releases

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "area",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=40), nullable=True),
        sa.Column("vintage", sa.String(length=200), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("min_x", sa.Float(), nullable=False),
        sa.Column("min_y", sa.Float(), nullable=False),
        sa.Column("max_x", sa.Float(), nullable=False),
        sa.Column("max_y", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["area.code"], name=op.f("fk_area_parent_code_area")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_area")),
    )
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_area_parent_code"), ["parent_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_area_type"), ["type"], unique=False)

    op.create_table(
        "data_release",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dataset", sa.String(length=40), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_release")),
    )
    with op.batch_alter_table("data_release", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_release_dataset"), ["dataset"], unique=False)

    op.create_table(
        "postcode",
        sa.Column("canonical", sa.String(length=8), nullable=False),
        sa.Column("display", sa.String(length=9), nullable=False),
        sa.Column("outcode", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("easting", sa.Float(), nullable=False),
        sa.Column("northing", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("borough_code", sa.String(length=9), nullable=False),
        sa.Column("ward_code", sa.String(length=9), nullable=False),
        sa.Column("positional_quality", sa.Integer(), nullable=True),
        sa.Column("introduced", sa.String(length=7), nullable=True),
        sa.Column("terminated", sa.String(length=7), nullable=True),
        sa.Column("cell", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("canonical", name=op.f("pk_postcode")),
    )
    with op.batch_alter_table("postcode", schema=None) as batch_op:
        batch_op.create_index("ix_postcode_cell", ["cell"], unique=False)
        batch_op.create_index("ix_postcode_outcode", ["outcode"], unique=False)

    op.create_table(
        "area_neighbour",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("neighbour_code", sa.String(length=40), nullable=False),
        sa.Column("relation", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["code"], ["area.code"], name=op.f("fk_area_neighbour_code_area")),
        sa.ForeignKeyConstraint(
            ["neighbour_code"], ["area.code"], name=op.f("fk_area_neighbour_neighbour_code_area")
        ),
        sa.PrimaryKeyConstraint("code", "neighbour_code", name=op.f("pk_area_neighbour")),
    )


def downgrade() -> None:

    op.drop_table("area_neighbour")
    with op.batch_alter_table("postcode", schema=None) as batch_op:
        batch_op.drop_index("ix_postcode_outcode")
        batch_op.drop_index("ix_postcode_cell")

    op.drop_table("postcode")
    with op.batch_alter_table("data_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_release_dataset"))

    op.drop_table("data_release")
    with op.batch_alter_table("area", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_area_type"))
        batch_op.drop_index(batch_op.f("ix_area_parent_code"))

    op.drop_table("area")
