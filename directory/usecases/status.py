"""Readiness: is the database reachable and the geography loaded?"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from directory.errors import NotReadyError
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.geography import GeographyCache


def readiness(repo: GeographyRepository, cache: GeographyCache) -> dict[str, Any]:
    try:
        areas = repo.count_areas()
        postcodes = repo.count_postcodes()
    except SQLAlchemyError as error:
        raise NotReadyError(
            f"The database is not reachable or not migrated ({type(error).__name__}). "
            "Run `directory init`."
        ) from None
    if not areas.get("borough") or not postcodes.get("live"):
        raise NotReadyError(
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
