"""All SQL lives in this package."""

from typing import Any

from sqlalchemy import func


def by_name(name: Any, *then: Any) -> list[Any]:
    """ORDER BY a name as people read lists: case aside ("Action for Kids" before "Action
    Space", "Lambeth …" before "LCPF …"), on SQLite (whose own order is by code point) as on
    PostgreSQL; the name as written, then ``then``, break ties."""
    return [func.lower(name), name, *then]
