"""Storage: the database (engine, sessions, kept read connections), the schema and its
Alembic migrations, the repositories (all of the project's SQL) and loading London's
geography into the database. It imports no use case and no web code."""
