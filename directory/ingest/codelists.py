"""360Giving's codelists, as the standard publishes them: the codes a codelist-valued field
of a grant may take (``regrantType``, ``beneficiaryLocation/geoCodeType``, ``currency``,
``countryCode``).

The files are the standard's own (``codelists/<name>.csv``, first column ``Code``), kept
unchanged in ``directory/data/standards/360giving/codelists/`` beside its schema
(``directory/data/README.md`` says whence), so that the importer's checks, the demo's,
the export's tests and 360Giving's data-quality tool read one list.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path

#: the standard's codelists the directory reads or writes
CODELISTS = (
    Path(__file__).resolve().parent.parent / "data" / "standards" / "360giving" / "codelists"
)


@functools.cache
def codes(name: str) -> tuple[str, ...]:
    """The codes of the standard's codelist ``name`` (``regrantType``), in the file's order,
    each once (``geoCodeType`` lists some codes under several nations)."""
    with (CODELISTS / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        return tuple(dict.fromkeys(row["Code"] for row in csv.DictReader(f)))
