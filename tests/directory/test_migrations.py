"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import warnings

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from directory.store.db import Database
from directory.store.models import Base


def test_migrations_match_the_models(empty_settings):
    db = Database(empty_settings)
    db.migrate()
    with db.engine.connect() as connection, warnings.catch_warnings():
        # SQLAlchemy cannot reflect an index on an expression (ix_service_name_order and
        # ix_organisation_name_order, on lower(name)) from SQLite, so it is compared by name below
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        indexes = set(connection.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
            if connection.dialect.name == "sqlite"
            else "SELECT indexname FROM pg_indexes"
        )).scalars())  # fmt: skip
    db.dispose()
    assert differences == []
    assert {"ix_service_name_order", "ix_organisation_name_order"} <= indexes
