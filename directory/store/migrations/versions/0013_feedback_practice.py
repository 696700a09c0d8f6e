"""feedback and practice notes: the public's word on a record, and what worked

``feedback`` holds what members of the public send about a service (later an opportunity)
for moderation; it is never published, and its contact email is personal data.
``practice_note`` (with its themes and the outcomes it cites) is what a funded service's
editor or an officer publishes about what worked.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=120), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("correction", sa.JSON(), nullable=True),
        sa.Column("correction_run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["correction_run_id"],
            ["import_run.id"],
            name=op.f("fk_feedback_correction_run_id_import_run"),
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback")),
    )
    op.create_index("ix_feedback_target", "feedback", ["target_kind", "target_id"])
    op.create_index(op.f("ix_feedback_organisation_id"), "feedback", ["organisation_id"])
    op.create_index(op.f("ix_feedback_status"), "feedback", ["status"])
    op.create_index(op.f("ix_feedback_created_at"), "feedback", ["created_at"])
    op.create_table(
        "practice_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("evidence_url", sa.String(length=1000), nullable=True),
        sa.Column("author", sa.String(length=120), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service.id"],
            name=op.f("fk_practice_note_service_id_service"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_note")),
    )
    op.create_index(op.f("ix_practice_note_service_id"), "practice_note", ["service_id"])
    op.create_index(op.f("ix_practice_note_organisation_id"), "practice_note", ["organisation_id"])
    op.create_index(op.f("ix_practice_note_published_at"), "practice_note", ["published_at"])
    op.create_table(
        "practice_theme",
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("theme_id", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["practice_note.id"],
            name=op.f("fk_practice_theme_note_id_practice_note"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["theme_id"], ["theme.id"], name=op.f("fk_practice_theme_theme_id_theme")
        ),
        sa.PrimaryKeyConstraint("note_id", "theme_id", name=op.f("pk_practice_theme")),
    )
    op.create_index(op.f("ix_practice_theme_theme_id"), "practice_theme", ["theme_id"])
    op.create_table(
        "practice_outcome",
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("outcome_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["practice_note.id"],
            name=op.f("fk_practice_outcome_note_id_practice_note"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.ForeignKeyConstraint(
            ["outcome_id"],
            ["outcome.id"],
            name=op.f("fk_practice_outcome_outcome_id_outcome"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("note_id", "outcome_id", name=op.f("pk_practice_outcome")),
    )
    op.create_index(op.f("ix_practice_outcome_outcome_id"), "practice_outcome", ["outcome_id"])


def downgrade() -> None:
    op.drop_table("practice_outcome")
    op.drop_table("practice_theme")
    op.drop_table("practice_note")
    op.drop_table("feedback")
