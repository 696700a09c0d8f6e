"""ONS mid-year population estimates for the 33 London local authorities (Nomis API).

Discover (DATA-SOURCES.md §7): ``NM_2002_1.def.sdmx.json`` carries a ``LastUpdated``
annotation (its exact place in the SDMX JSON is not fixed here: it is searched for
anywhere in the answer); a one-row query with ``date=latest`` gives the latest
``DATE_NAME``. Both make the version.

Fetch: ``NM_2002_1.data.csv`` for the 33 E09 codes, persons, all ages (``c_age=200``)
and, when the answer carries them, single years of age, from which the 0–9, 10–17,
18–24 and 10–24 bands are summed. Writes ``reference/london_borough_population.csv`` in
the layout of the shared ``london_borough_population_2022.csv``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geodata.errors import FetchError
from geodata.fetch.base import (
    BOROUGH_CODES,
    OGL_V3,
    FetchedFile,
    Found,
    Staging,
    column_index,
    csv_rows,
    write_csv,
)
from geodata.sources import sha256_file

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = [
    "MidYearPopulation",
    "SOURCE",
    "DEFINITION_URL",
    "DATA_URL",
    "OUTPUT_PATH",
    "OUTPUT_HEADER",
    "ALL_AGES_CODE",
    "SINGLE_YEAR_AGE_CODES",
]

DEFINITION_URL = "https://www.nomisweb.co.uk/api/v01/dataset/NM_2002_1.def.sdmx.json"
DATA_URL = "https://www.nomisweb.co.uk/api/v01/dataset/NM_2002_1.data.csv"
OUTPUT_PATH = "reference/london_borough_population.csv"
OUTPUT_HEADER = (
    "gss_code",
    "name",
    "population_all_ages",
    "population_aged_10_24",
    "population_aged_10_17",
    "population_aged_18_24",
    "population_aged_0_9",
    "year",
    "reference_date",
    "source",
)
#: ``c_age`` code of all ages in NM_2002_1 (seen in public code; DATA-SOURCES.md §7).
ALL_AGES_CODE = "200"
#: ``c_age`` codes asked for single years of age, 0 to 90+. UNCONFIRMED: NM_2002_1 is
#: believed to number them 101 (age 0) … 191 (age 90+), but this was not checked live.
#: The answer is read by its ``C_AGE_NAME`` labels ("Age 12", "Aged 90+"), never by
#: these codes, so wrong codes only mean no bands (left blank); a 4xx answer to the
#: query with them is retried with all ages alone.
SINGLE_YEAR_AGE_CODES = tuple(str(code) for code in range(101, 192))
ATTRIBUTION = (
    "Source: Office for National Statistics licensed under the Open Government Licence v3.0"
)
BANDS = {
    "population_aged_10_24": (10, 24),
    "population_aged_10_17": (10, 17),
    "population_aged_18_24": (18, 24),
    "population_aged_0_9": (0, 9),
}

_ALL_AGES = re.compile(r"all\s+ages", re.IGNORECASE)
_SINGLE_AGE = re.compile(r"(?:age|aged)\s*(\d{1,3})\s*(\+|\s*and\s+over)?", re.IGNORECASE)
_YEAR = re.compile(r"(?:19|20)\d\d")


def _query(geography: str, ages: str, select: str) -> dict[str, str]:
    return {
        "geography": geography,
        "date": "latest",
        "gender": "0",
        "c_age": ages,
        "measures": "20100",
        "select": select,
    }


def _annotation(document: Any, title: str) -> str | None:
    """The text of the first SDMX annotation titled ``title``, wherever it sits."""
    wanted = title.lower()
    todo = [document]
    while todo:
        node = todo.pop(0)
        if isinstance(node, dict):
            lowered = {str(k).lower(): v for k, v in node.items()}
            if str(lowered.get("annotationtitle", "")).lower() == wanted:
                text = lowered.get("annotationtext")
                if isinstance(text, str | int | float):
                    return str(text)
            if isinstance(lowered.get(wanted), str):
                return lowered[wanted]
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return None


def _table(text: str, url: str) -> tuple[list[str], list[list[str]]]:
    rows = [r for r in csv_rows(io.StringIO(text), url, url) if any(c.strip() for c in r)]
    if not rows:
        raise FetchError(f"{url}: the Nomis answer is empty", url=url)
    return rows[0], rows[1:]


def _columns(header: list[str], url: str, needed: tuple[str, ...]) -> dict[str, int]:
    positions = {}
    for name in needed:
        found = column_index(header, (name,), what=name, where=url)
        if found is None:
            raise FetchError(
                f"{url}: the Nomis CSV lacks {name.upper()} (columns: {', '.join(header)})",
                url=url,
            )
        positions[name] = found
    return positions


def _count(value: str, where: str) -> int:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or number < 0:
        raise FetchError(f"{where}: {value!r} is not a population count", url=where.split(" ")[0])
    return int(number)


class MidYearPopulation:
    """ONS mid-year population estimates by local authority (Nomis NM_2002_1)."""

    name = "population"
    description = "ONS mid-year population estimates via the Nomis API (NM_2002_1, CSV)"
    keys = ("population",)

    def discover(self, client: Client) -> Found:
        """Read ``LastUpdated`` and the latest ``DATE_NAME``.

        Raises
        ------
        FetchError
            The latest-date query answers no ``DATE_NAME``.
        """
        definition = client.get_json(DEFINITION_URL)
        last_updated = _annotation(definition, "LastUpdated")
        params = _query(BOROUGH_CODES[0], ALL_AGES_CODE, "date_name,geography_code")
        text = client.get_text(DATA_URL, params=params)
        header, rows = _table(text, DATA_URL)
        at = _columns(header, DATA_URL, ("date_name",))["date_name"]
        dates = sorted({r[at].strip() for r in rows if len(r) > at and r[at].strip()})
        if len(dates) != 1:
            raise FetchError(
                f"{DATA_URL}: expected one latest DATE_NAME, got {dates or 'none'}", url=DATA_URL
            )
        date = dates[0]
        return Found(
            source=self.name,
            version={"last_updated": last_updated, "date": date},
            label=f"ONS mid-year population estimates, {date} (Nomis NM_2002_1)",
            vintage=date,
            licence=OGL_V3,
            attribution=ATTRIBUTION,
            url=DEFINITION_URL,
            details={"date": date, "data_url": DATA_URL, "last_updated": last_updated},
        )

    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Query the 33 boroughs, sum the youth bands, write the population CSV.

        Raises
        ------
        FetchError
            Not exactly the 33 E09 codes, a borough without its all-ages row, non-numeric
            values, single years that do not add up to all ages, or a latest date other
            than the one discovered.
        """
        if found.source != self.name:
            raise FetchError(f"{self.name}: cannot fetch a release found by {found.source}")
        select = "date_name,geography_code,geography_name,c_age_name,obs_value"
        geography = ",".join(BOROUGH_CODES)
        ages = ",".join((ALL_AGES_CODE, *SINGLE_YEAR_AGE_CODES))
        try:
            text = client.get_text(DATA_URL, params=_query(geography, ages, select))
        except FetchError as exc:
            if exc.status is None or not 400 <= exc.status < 500 or exc.status == 429:
                raise
            text = client.get_text(DATA_URL, params=_query(geography, ALL_AGES_CODE, select))
        rows = _rows(text, found)
        with Staging(workdir) as staging:
            target = staging.path(OUTPUT_PATH)
            count = write_csv(target, OUTPUT_HEADER, rows)
            digest = sha256_file(target)
        return [found.file("population", OUTPUT_PATH, rows=count, sha256=digest, url=DATA_URL)]


def _rows(text: str, found: Found) -> list[list[Any]]:
    url = DATA_URL
    header, rows = _table(text, url)
    at = _columns(
        header, url, ("date_name", "geography_code", "geography_name", "c_age_name", "obs_value")
    )
    width = max(at.values()) + 1
    totals: dict[str, int] = {}
    names: dict[str, str] = {}
    singles: dict[str, dict[int, int]] = {}
    open_top: dict[str, int] = {}
    dates: set[str] = set()
    for n, row in enumerate(rows, start=2):
        if len(row) < width:
            raise FetchError(f"{url}: line {n} has {len(row)} cells", url=url)
        code = row[at["geography_code"]].strip()
        label = row[at["c_age_name"]].strip()
        where = f"{url} line {n}"
        dates.add(row[at["date_name"]].strip())
        names.setdefault(code, row[at["geography_name"]].strip())
        if _ALL_AGES.fullmatch(label):
            if code in totals:
                raise FetchError(f"{url}: two all-ages rows for {code}", url=url)
            totals[code] = _count(row[at["obs_value"]], where)
        elif match := _SINGLE_AGE.fullmatch(label):
            age = int(match.group(1))
            singles.setdefault(code, {})[age] = _count(row[at["obs_value"]], where)
            if match.group(2):
                open_top[code] = age
    codes = set(names)
    if codes != set(BOROUGH_CODES):
        raise FetchError(
            f"{url}: expected exactly the 33 London codes, got {len(codes)} (missing "
            f"{sorted(set(BOROUGH_CODES) - codes)}, unexpected {sorted(codes - set(BOROUGH_CODES))})",
            url=url,
        )
    without_total = sorted(set(BOROUGH_CODES) - set(totals))
    if without_total:
        raise FetchError(f"{url}: no 'All Ages' row for {without_total}", url=url)
    if len(dates) != 1:
        raise FetchError(f"{url}: expected one DATE_NAME, got {sorted(dates)}", url=url)
    date = dates.pop()
    if found.details.get("date") and date != found.details["date"]:
        raise FetchError(
            f"{url}: the latest date is now {date}, not {found.details['date']} as discovered; "
            "a new release was published meanwhile: discover again",
            url=url,
        )
    year_match = _YEAR.search(date)
    if not year_match:
        raise FetchError(f"{url}: DATE_NAME {date!r} has no year", url=url)
    year = year_match.group(0)
    result = []
    for code in BOROUGH_CODES:
        ages = singles.get(code, {})
        top = open_top.get(code)
        if (
            top is not None
            and set(ages) == set(range(top + 1))
            and sum(ages.values()) != totals[code]
        ):
            raise FetchError(
                f"{url}: {code}: single years of age add up to {sum(ages.values())}, "
                f"not the all-ages {totals[code]}",
                url=url,
            )
        bands: dict[str, int | str] = {}
        for column, (low, high) in BANDS.items():
            span = range(low, high + 1)
            known = all(a in ages for a in span) and (top is None or top > high)
            bands[column] = sum(ages[a] for a in span) if known else ""
        result.append(
            [
                code,
                names[code],
                totals[code],
                *(bands[c] for c in OUTPUT_HEADER[3:7]),
                year,
                f"{year}-06-30",
                f"ONS mid-year population estimates via Nomis NM_2002_1, {date}; OGL v3",
            ]
        )
    return result


SOURCE = MidYearPopulation()
