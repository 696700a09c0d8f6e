"""Reading borough population estimates (``--format population``).

One row per area: ``gss_code`` (or a borough name in ``name``), ``population_all_ages`` and,
optionally, the youth bands ``population_aged_0_9``, ``_10_17``, ``_18_24``, ``_10_24``,
with the estimate's ``reference_date`` (ONS mid-year estimates are at 30 June) or its
``year`` (read as 30 June of that year), and a ``source``. This is the layout of
``reference/london_borough_population_2022.csv`` (ONS MYE2, mid-2022). Areas must be
London boroughs (the City of London included). Every problem has its row and column; an
import with any error writes nothing. Nothing here touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from directory.ingest.crime import borough_resolver
from directory.ingest.readers import Table
from directory.ingest.records import ProblemLog
from directory.ingest.values import capped_int, clean_text, parse_date
from directory.usecases.geography import GeographySnapshot

CODE_KEYS = ("gss_code", "code", "area_code", "lad_code", "la_code", "borough_code")
NAME_KEYS = ("name", "borough", "borough_name", "area_name", "la_name")
ALL_AGES_KEYS = ("population_all_ages", "all_ages", "population")
BANDS = {
    "aged_0_9": ("population_aged_0_9", "aged_0_9"),
    "aged_10_17": ("population_aged_10_17", "aged_10_17"),
    "aged_18_24": ("population_aged_18_24", "aged_18_24"),
    "aged_10_24": ("population_aged_10_24", "aged_10_24"),
}
MAX_POPULATION = 20_000_000


@dataclass(frozen=True, slots=True)
class PopulationRow:
    area_code: str
    reference_date: date
    all_ages: int
    aged_0_9: int | None
    aged_10_17: int | None
    aged_18_24: int | None
    aged_10_24: int | None
    source: str | None


@dataclass
class PopulationBatch(ProblemLog):
    rows: list[PopulationRow] = field(default_factory=list)


def _find(table: Table, candidates: tuple[str, ...]) -> str | None:
    return next((k for k in candidates if k in table.keys), None)


def looks_like_population(keys: list[str]) -> bool:
    return any(k in ("population_all_ages", "all_ages") for k in keys)


def read_population(table: Table, snap: GeographySnapshot) -> PopulationBatch:
    batch = PopulationBatch()
    code_key, name_key = _find(table, CODE_KEYS), _find(table, NAME_KEYS)
    all_key = _find(table, ALL_AGES_KEYS)
    if code_key is None and name_key is None:
        batch.error("The file has no gss_code (or name) column saying which borough each row is.")
    if all_key is None:
        batch.error("The file has no population_all_ages column.")
    if "reference_date" not in table.keys and "year" not in table.keys:
        batch.error(
            "The file has no reference_date (or year) column: say when the estimate is for "
            "(ONS mid-year estimates are at 30 June)."
        )
    if batch.errors:
        return batch
    assert all_key is not None
    band_keys = {band: _find(table, keys) for band, keys in BANDS.items()}
    resolve = borough_resolver(snap)
    seen: dict[tuple[str, date], int] = {}
    for row in table.rows:
        values = row.values
        text = clean_text(values.get(code_key)) if code_key else None
        text = text or (clean_text(values.get(name_key)) if name_key else None)
        column = table.column(code_key or name_key or "")
        if text is None:
            batch.error("No borough given.", row=row.number, column=column)
            continue
        code = resolve(text)
        if code is None:
            batch.error("This is not a London borough (E09… code or name) we know.",
                        row=row.number, column=column, value=text)  # fmt: skip
            continue
        when = _reference_date(values)
        if isinstance(when, str):
            batch.error(when, row=row.number,
                        column="reference_date" if "reference_date" in table.keys else "year",
                        value=values.get("reference_date") or values.get("year"))  # fmt: skip
            continue
        numbers: dict[str, int | None] = {}
        ok = True
        for band, key in (("all_ages", all_key), *band_keys.items()):
            if key is None:
                numbers[band] = None
                continue
            number = _number(values.get(key), required=band == "all_ages")
            if isinstance(number, str):
                batch.error(number, row=row.number, column=table.column(key), value=values.get(key))
                ok = False
            else:
                numbers[band] = number
        if not ok:
            continue
        total = numbers["all_ages"]
        assert total is not None
        for band in BANDS:
            part = numbers[band]
            if part is not None and part > total:
                batch.error(f"More people aged {band[5:].replace('_', '–')} than of all ages.",
                            row=row.number, column=table.column(band_keys[band] or band),
                            value=part)  # fmt: skip
                ok = False
        if not ok:
            continue
        if (code, when) in seen:
            batch.error(f"The same borough and date as row {seen[(code, when)]}.",
                        row=row.number, column=column, value=text)  # fmt: skip
            continue
        seen[(code, when)] = row.number
        source = clean_text(values.get("source"))
        batch.rows.append(
            PopulationRow(
                code,
                when,
                total,
                numbers["aged_0_9"],
                numbers["aged_10_17"],
                numbers["aged_18_24"],
                numbers["aged_10_24"],
                None if source is None else source[:2000],
            )  # fmt: skip
        )
    if not table.rows:
        batch.error("The file has a header row but no rows.")
    return batch


def _reference_date(values: dict[str, Any]) -> date | str:
    raw = values.get("reference_date")
    if raw is not None:
        try:
            return parse_date(raw)
        except ValueError as error:
            return str(error)
    year = clean_text(values.get("year"))
    if year is None or not re.fullmatch(r"\d{4}", year) or not 1900 <= int(year) <= 2100:
        return "Give the reference_date (2022-06-30) or the year (2022) of the estimate."
    return date(int(year), 6, 30)


def _number(cell: Any, *, required: bool) -> int | None | str:
    if cell is None:
        return "No population given." if required else None
    text = str(cell).strip().replace(",", "")
    if not re.fullmatch(r"\d+(\.0+)?", text):
        return "Not a number of people (a whole number such as 219992)."
    number = capped_int(text.split(".", 1)[0], MAX_POPULATION)
    if number > MAX_POPULATION:
        return f"More than {MAX_POPULATION:,} people in one borough is not plausible."
    if required and number == 0:
        return "A borough's population cannot be 0."
    return number
