"""organisation_alias: the refs and ids of organisations merged into another

The same charity held twice ("St Giles Trust" as GB-CHC-1144511 from one borough's sheet,
"St. Giles Trust" as org:st-giles-trust from another's) is merged by
``directory organisations merge`` (or POST /api/v1/organisations/{id}/merge): its records
move to the organisation kept and it is deleted. Its ref, id and name stay here, naming
the organisation kept, so its old address redirects, filters naming it still answer, and
the next import of a file that still lists it files its rows under the one kept.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation_alias",
        sa.Column("ref", sa.String(length=120), nullable=False),
        sa.Column("old_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("merged_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=True),
        sa.Column("import_run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_organisation_alias_organisation_id_organisation"),
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["import_run_id"],
            ["import_run.id"],
            name=op.f("fk_organisation_alias_import_run_id_import_run"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_organisation_alias")),
    )
    op.create_index(op.f("ix_organisation_alias_old_id"), "organisation_alias", ["old_id"])
    op.create_index(
        op.f("ix_organisation_alias_organisation_id"), "organisation_alias", ["organisation_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_organisation_alias_organisation_id"), table_name="organisation_alias")
    op.drop_index(op.f("ix_organisation_alias_old_id"), table_name="organisation_alias")
    op.drop_table("organisation_alias")
