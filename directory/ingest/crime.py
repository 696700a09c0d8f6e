"""Reading the Metropolitan Police's borough-level crime files (``--format mps-crime``).

The Met publishes "MPS Borough Level Crime" on the London Datastore as a wide table: one
row per borough and offence category, one column per month (``YYYYMM``) holding the
number of recorded offences. Two header layouts are in use:

- the current "most recent 24 months" extract: ``Group, SubGroup, BOCU, 202407 …``;
- the historical extract: ``MajorText, MinorText, BoroughName, 201004 …``.

Borough names are resolved to GSS codes through the loaded geography. The pseudo-areas the
Met uses ("Unknown", "London Heathrow and London City Airports", "Aviation Security
(SO18)") belong to no borough: their rows are skipped with a warning. Anything else that is
wrong (a name that is not a London borough, a count that is not a whole number, a month
that does not exist, the same borough and category twice) is an error with its row and
column, and an import with any error writes nothing.

The ward-level file and derived 12-month totals are refused with a message saying which
file to use. Nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from directory.ingest.readers import EXTRA, Table
from directory.ingest.records import ProblemLog
from directory.ingest.values import capped_int, clean_text
from directory.usecases.geography import GeographySnapshot

#: column keys (after readers.normalise_header) for each role, in either MPS layout
MAJOR_KEYS = ("group", "majortext", "major_text", "major_category", "major")
MINOR_KEYS = ("subgroup", "minortext", "minor_text", "minor_category", "minor")
BOROUGH_KEYS = ("bocu", "boroughname", "borough_name", "borough", "lookup_boroughname")
#: the Met's pseudo-areas: counted in no borough (compared case-insensitively)
PSEUDO_AREAS = frozenset(
    name.casefold()
    for name in (
        "Unknown",
        "London Heathrow and London City Airports",
        "Heathrow",
        "Aviation Security (SO18)",
        "Aviation Security",
    )
)
_MONTH = re.compile(r"^(\d{4})(\d{2})$")
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_COUNT = 10_000_000  # recorded offences in one borough, month and category


@dataclass(frozen=True, slots=True)
class CrimeRow:
    area_code: str
    month: date
    major_category: str
    minor_category: str
    count: int


@dataclass
class CrimeBatch(ProblemLog):
    """What one MPS crime file holds: counts, and the problems found reading it."""

    rows: list[CrimeRow] = field(default_factory=list)
    months: list[date] = field(default_factory=list)
    skipped_rows: int = 0


def looks_like_mps_crime(keys: list[str]) -> bool:
    """A table with a borough column, an offence-category column and month columns."""
    return (
        any(k in BOROUGH_KEYS for k in keys)
        and any(k in MAJOR_KEYS for k in keys)
        and any(_MONTH.match(k) for k in keys)
    )


def _find(table: Table, candidates: tuple[str, ...]) -> str | None:
    for key in candidates:
        if key in table.keys:
            return key
    return None


def borough_resolver(snap: GeographySnapshot) -> Any:
    """A function from a borough name or GSS code to the borough's code (or None)."""
    cache: dict[str, str | None] = {}

    def resolve(text: str) -> str | None:
        if text in cache:
            return cache[text]
        code: str | None = None
        for candidate in (text.strip(), text.strip().upper()):
            area = snap.areas.get(candidate)
            if area is not None and area.type == "borough":
                code = candidate
                break
        if code is None:
            code = snap.matcher.resolve(text, "borough")
        cache[text] = code
        return code

    return resolve


def read_mps_crime(table: Table, snap: GeographySnapshot) -> CrimeBatch:
    batch = CrimeBatch()
    if "wardcode" in table.keys or "ward_code" in table.keys:
        batch.error(
            "This is the Met's ward-level crime file; import the borough-level file "
            "(MPS Borough Level Crime: Group, SubGroup, BOCU and one column per month)."
        )
        return batch
    major_key = _find(table, MAJOR_KEYS)
    minor_key = _find(table, MINOR_KEYS)
    borough_key = _find(table, BOROUGH_KEYS)
    for key, role in ((major_key, "Group (or MajorText)"), (borough_key, "BOCU (or BoroughName)")):
        if key is None:
            batch.error(
                f"The file has no {role} column; the header row has {', '.join(table.columns) or 'nothing'}."
            )
    months: list[tuple[str, date]] = []
    for key in table.keys:
        match = _MONTH.match(key)
        if match is None:
            if key not in (major_key, minor_key, borough_key):
                batch.warning(
                    "This column is not a month (YYYYMM) or a column the MPS file has; ignored.",
                    column=table.column(key),
                )
            continue
        year, month = int(match[1]), int(match[2])
        if not (1 <= month <= 12 and MIN_YEAR <= year <= MAX_YEAR):
            batch.error(
                f"{key} is not a month: month columns are YYYYMM (202407 is July 2024).",
                column=table.column(key),
                value=key,
            )
            continue
        months.append((key, date(year, month, 1)))
    if not months and not batch.errors:
        batch.error(
            "The file has no month columns (YYYYMM, e.g. 202407): import the Met's monthly "
            "borough-level file, not a table of totals."
        )
    if batch.errors:
        return batch
    assert major_key is not None and borough_key is not None
    batch.months = sorted(d for _, d in months)
    resolve = borough_resolver(snap)
    seen: dict[tuple[str, str, str], int] = {}
    for row in table.rows:
        values = row.values
        if values.get(EXTRA):
            batch.error("The row has more cells than the header row has headings.", row=row.number)
            continue
        borough_text = clean_text(values.get(borough_key))
        major = clean_text(values.get(major_key))
        minor = clean_text(values.get(minor_key)) if minor_key else None
        if borough_text is None:
            batch.error("No borough given.", row=row.number, column=table.column(borough_key))
            continue
        if major is None:
            batch.error("No offence group given.", row=row.number, column=table.column(major_key))
            continue
        if len(major) > 120 or (minor is not None and len(minor) > 160):
            batch.error("The offence category is too long.", row=row.number,
                        column=table.column(major_key), value=major)  # fmt: skip
            continue
        if borough_text.casefold() in PSEUDO_AREAS:
            batch.skipped_rows += 1
            continue
        code = resolve(borough_text)
        if code is None:
            batch.error(
                "This is not a London borough we know (the Met's own pseudo-areas, such as "
                '"Unknown", are skipped).',
                row=row.number, column=table.column(borough_key), value=borough_text,
            )  # fmt: skip
            continue
        key3 = (code, major.upper(), (minor or "").upper())
        if key3 in seen:
            batch.error(
                f"The same borough and offence category as row {seen[key3]}.",
                row=row.number, column=table.column(borough_key), value=borough_text,
            )  # fmt: skip
            continue
        seen[key3] = row.number
        for key, month in months:
            count = _count(values.get(key))
            if isinstance(count, str):
                batch.error(count, row=row.number, column=table.column(key), value=values.get(key))
                continue
            batch.rows.append(CrimeRow(code, month, major.upper(), (minor or "").upper(), count))
    if batch.skipped_rows:
        batch.warning(
            f'{batch.skipped_rows} rows for the Met\'s pseudo-areas (such as "Unknown") are '
            "in no borough and were skipped."
        )
    if not table.rows:
        batch.error("The file has a header row but no rows of counts.")
    return batch


def _count(cell: Any) -> int | str:
    """A whole number of offences, or the message saying why the cell is not one."""
    if cell is None:
        return "No count given: a month with no offences is 0."
    if isinstance(cell, bool):
        return "Not a number of offences."
    if isinstance(cell, int):
        number = cell
    elif isinstance(cell, float):
        if not cell.is_integer():
            return "A number of offences is a whole number."
        number = int(cell)
    else:
        text = str(cell).strip().replace(",", "")
        if not re.fullmatch(r"-?\d+(\.0+)?", text):
            return "Not a number of offences (a whole number such as 0 or 125)."
        number = capped_int(text.split(".", 1)[0], MAX_COUNT)
    if number < 0:
        return "A number of offences cannot be negative."
    if number > MAX_COUNT:
        return f"More than {MAX_COUNT:,} offences in one month and category is not plausible."
    return number
