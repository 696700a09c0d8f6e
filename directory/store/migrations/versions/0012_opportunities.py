"""opportunity, opportunity_theme, opportunity_area: funding opportunities (bidding rounds)

An opportunity is a round a funder invites bids to: its amounts, dates (kept in UTC), grant
length, eligibility and whether it suits small organisations, with the themes it funds and
the areas (London, BCUs, boroughs, wards) it funds work in. Its status is worked out from
its dates when asked, never stored.

Revision ID: 0012
Revises: 0011 (0011_change_actor.py: the API writes, issue 17 §1)
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "opportunity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("funder_id", sa.Integer(), nullable=True),
        sa.Column("funder_name", sa.String(length=300), nullable=False),
        sa.Column("programme_id", sa.String(length=80), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("eligibility", sa.Text(), nullable=True),
        sa.Column("small_org_friendly", sa.Boolean(), nullable=False),
        sa.Column("small_org_rule", sa.Text(), nullable=True),
        sa.Column("amount_min_pence", sa.BigInteger(), nullable=True),
        sa.Column("amount_max_pence", sa.BigInteger(), nullable=True),
        sa.Column("total_pot_pence", sa.BigInteger(), nullable=True),
        sa.Column("awards_expected", sa.Integer(), nullable=True),
        sa.Column("opens_at", sa.DateTime(), nullable=True),
        sa.Column("closes_at", sa.DateTime(), nullable=False),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("grant_months_min", sa.Integer(), nullable=True),
        sa.Column("grant_months_max", sa.Integer(), nullable=True),
        sa.Column("how_to_apply_url", sa.String(length=1000), nullable=True),
        sa.Column("contact_name", sa.String(length=300), nullable=True),
        sa.Column("contact_email", sa.String(length=300), nullable=True),
        sa.Column("contact_public", sa.Boolean(), nullable=False),
        sa.Column("demo", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funder_id"], ["organisation.id"], name=op.f("fk_opportunity_funder_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programme.id"], name=op.f("fk_opportunity_programme_id_programme")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity")),
        sa.UniqueConstraint("ref", name=op.f("uq_opportunity_ref")),
    )
    op.create_index(op.f("ix_opportunity_funder_id"), "opportunity", ["funder_id"])
    op.create_index(op.f("ix_opportunity_programme_id"), "opportunity", ["programme_id"])
    op.create_index(op.f("ix_opportunity_closes_at"), "opportunity", ["closes_at"])
    op.create_index(op.f("ix_opportunity_source"), "opportunity", ["source"])
    op.create_table(
        "opportunity_theme",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunity.id"],
            ondelete="CASCADE",
            name=op.f("fk_opportunity_theme_opportunity_id_opportunity"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_opportunity_theme_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("opportunity_id", "theme_id", name=op.f("pk_opportunity_theme")),
    )
    op.create_index(op.f("ix_opportunity_theme_theme_id"), "opportunity_theme", ["theme_id"])
    op.create_table(
        "opportunity_area",
        sa.Column("opportunity_id", sa.Integer(), nullable=False),
        sa.Column("area_code", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunity.id"],
            ondelete="CASCADE",
            name=op.f("fk_opportunity_area_opportunity_id_opportunity"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("opportunity_id", "area_code", name=op.f("pk_opportunity_area")),
    )
    op.create_index(op.f("ix_opportunity_area_area_code"), "opportunity_area", ["area_code"])


def downgrade() -> None:
    op.drop_index(op.f("ix_opportunity_area_area_code"), table_name="opportunity_area")
    op.drop_table("opportunity_area")
    op.drop_index(op.f("ix_opportunity_theme_theme_id"), table_name="opportunity_theme")
    op.drop_table("opportunity_theme")
    for column in ("source", "closes_at", "programme_id", "funder_id"):
        op.drop_index(op.f(f"ix_opportunity_{column}"), table_name="opportunity")
    op.drop_table("opportunity")
