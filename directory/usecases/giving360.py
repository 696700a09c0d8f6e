"""The grants as a 360Giving package: GET /api/v1/grants.360giving.json (and
``/grants?format=360giving``, which redirects there), under the filters of GET /grants.

The package is what ``directory export FILE.json`` writes (directory/ingest/giving360_write.py)
for the grants the filters keep; the grants 360Giving cannot carry validly are listed in the
package's ``notPublished`` member (our extension) with the reasons, never dropped unsaid.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection

from directory.errors import AnswerTooLargeError, NoGrantsError
from directory.ingest.export import giving360_from_database
from directory.ingest.giving360 import published_id
from directory.settings import Settings
from directory.store.repositories.directory import CatalogueQueries
from directory.usecases.catalogue import grant_filters
from directory.usecases.geography import GeographySnapshot

#: our extension member listing the grants left out of a package, with why
NOT_PUBLISHED_KEY = "notPublished"
#: the most grants one package over HTTP holds (about 1 KB of JSON each); more is a 413
MAX_PACKAGE_GRANTS = 10_000


def grants_package(
    q: CatalogueQueries, connection: Connection, snap: GeographySnapshot, settings: Settings,
    today: date, **filters: Any,
) -> dict[str, Any]:  # fmt: skip
    """Every grant the filters keep (no paging: 360Giving packages are whole files) as one
    package, newest award first as /grants lists them."""
    chosen = grant_filters(q, snap, settings, today, **filters)
    rows, total = q.grants_page(**chosen, offset=0, limit=MAX_PACKAGE_GRANTS)
    if total > MAX_PACKAGE_GRANTS:
        raise AnswerTooLargeError(
            f"The filters keep {total:,} grants; a package over HTTP holds at most "
            f"{MAX_PACKAGE_GRANTS:,}: narrow them (funder, programme, area, status), or write "
            "the whole directory with `directory export grants.json`."
        )
    prefix = settings.giving360_prefix
    # (by the ids the package gives them: our own grants' under our 360Giving prefix)
    order = {published_id(row.ref, prefix): i for i, row in enumerate(rows)}
    areas = {code: (area.name, area.type) for code, area in snap.areas.items()}
    export = giving360_from_database(
        connection, areas, grant_ids=[row.id for row in rows], prefix=prefix
    )
    package = export.package
    package["grants"].sort(key=lambda grant: order[grant["id"]])
    written = {grant["id"] for grant in package["grants"]} | {e["id"] for e in export.excluded}
    gone = [ref for ref in order if ref not in written]  # removed meanwhile (demo remove)
    package[NOT_PUBLISHED_KEY] = export.excluded + [
        {"id": ref, "reasons": ["removed while the package was made: ask again"]} for ref in gone
    ]
    if not package["grants"]:  # (the standard's package holds one grant at least)
        kept = (
            f"they keep {total:,}, none of which 360Giving can carry"
            if total
            else ("they keep none")
        )
        raise NoGrantsError(
            f"No grant to publish under these filters ({kept}): a 360Giving package holds "
            "at least one grant. GET /api/v1/grants with the same filters lists them.",
            not_published=package[NOT_PUBLISHED_KEY],
        )
    return package
