"""Readiness: is the database reachable and the geography loaded?"""

from __future__ import annotations

from typing import Any

from directory.errors import GeodataNotLoadedError
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.geography import GeographyCache


def readiness(repo: GeographyRepository, cache: GeographyCache) -> dict[str, Any]:
    """Ready: the database answers and holds the geography. A database that cannot be
    reached, or has no tables, raises as any read does (the web layer answers 503
    ``database-unavailable`` or ``database-not-initialised``, as on every route)."""
    areas = repo.count_areas()
    postcodes = repo.count_postcodes()
    if not areas.get("borough") or not postcodes.get("live"):
        raise GeodataNotLoadedError(
            "The database is reachable but no geography is loaded. Run `directory init`.",
            database="ok",
        )
    snap = cache.get(repo)
    return {
        "status": "ready",
        "database": "ok",
        "areas": areas,
        "postcodes": postcodes,
        "data_release": snap.release,
    }
