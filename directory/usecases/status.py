"""Readiness: is the database reachable and the geography loaded?"""

from __future__ import annotations

from typing import Any

from directory.errors import GeodataNotLoadedError
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.geography import GeographyCache

NO_GEOGRAPHY = "The database is reachable but no geography is loaded. Run `directory init`."


def readiness(repo: GeographyRepository, cache: GeographyCache) -> dict[str, Any]:
    """Ready: the database answers and holds the geography. A database that cannot be
    reached, or has no tables, raises as any read does (the web layer answers 503
    ``database-unavailable`` or ``database-not-initialised``, as on every route). Cheap, as
    a probe asked every few seconds must be: the areas (hundreds of rows) are counted each
    time, which asks the database; the postcodes once per geography release."""
    areas = repo.count_areas()
    if not areas.get("borough"):
        raise GeodataNotLoadedError(NO_GEOGRAPHY, database="ok")
    snap = cache.get(repo)
    postcodes = snap.postcode_counts(repo)
    if not postcodes.get("live"):
        raise GeodataNotLoadedError(NO_GEOGRAPHY, database="ok")
    return {
        "status": "ready",
        "database": "ok",
        "areas": areas,
        "postcodes": postcodes,
        "data_release": snap.release,
    }
