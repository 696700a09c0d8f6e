"""Times as the API writes them: RFC 3339 in UTC, ending in Z.

Its own module so that the geography snapshot (which the catalogue imports) and the
catalogue write a stored time the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_text(moment: datetime) -> str:
    """An ISO 8601 UTC time ending in Z, whether the column kept a time zone or not (SQLite
    gives back the naive UTC time it was given)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"
