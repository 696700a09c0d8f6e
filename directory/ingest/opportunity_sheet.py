"""The template's "Opportunities" sheet: one funding opportunity (bidding round) a row,
read into the batch beside the services so that the whole workbook is imported all or
nothing. Its columns are data, in ``opportunity_columns.toml``; every problem names its row
(the sheet's, header = 1), column and value, all of them at once. Times are London times.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from directory.ingest import opportunities
from directory.ingest.readers import EXTRA, ExcelError, Table, normalise_header
from directory.ingest.records import Batch, Context, OpportunityRecord
from directory.ingest.values import (
    MonthCell,
    clean_text,
    parse_amount,
    parse_bool,
    parse_date,
    parse_email,
    parse_int,
    parse_url,
)
from directory.store.models import Opportunity

SHEET = "Opportunities"
COLUMNS_FILE = Path(__file__).with_name("opportunity_columns.toml")
LONDON_TZ = ZoneInfo("Europe/London")
_TIME = re.compile(r"^(?P<day>.+?)[ T]+(?P<h>\d{1,2})[:.](?P<m>\d{2})(?::\d{2})?$")


@dataclass(frozen=True)
class SheetColumn:
    heading: str
    required: bool
    meaning: str
    example: str


def load_columns(path: Path = COLUMNS_FILE) -> tuple[SheetColumn, ...]:
    entries = tomllib.loads(path.read_text(encoding="utf-8"))["column"]
    return tuple(
        SheetColumn(e["heading"], bool(e.get("required", False)), e["meaning"], e["example"])
        for e in entries
    )


COLUMNS = load_columns()
HEADINGS = [c.heading for c in COLUMNS]
#: a record's field → its column, where the heading is not the field's name in words
_FIELD_HEADINGS = {
    "ref": "Opportunity ref", "funder_name": "Funder", "funder_ref": "Funder",
    "opens_at": "Opens", "closes_at": "Closes", "how_to_apply_url": "How to apply",
}  # fmt: skip


def _limits() -> dict[str, int]:
    """A column's heading → the most characters the database keeps of its text."""
    columns = Opportunity.__table__.columns
    limits = {heading_of(c.name): c.type.length for c in columns if getattr(c.type, "length", None)}
    return {heading: limit for heading, limit in limits.items() if heading in HEADINGS}


def heading_of(field: str | None) -> str | None:
    """The sheet's column a record's field was read from (``opens_at`` → "Opens")."""
    if field is None:
        return None
    heading = _FIELD_HEADINGS.get(field, field.replace("_", " ").capitalize())
    return heading if heading in HEADINGS else field


LIMITS = _limits()


def parse_moment(value: Any, *, end_of_day: bool) -> datetime:
    """A London time from a cell: a date-time or date cell, or text "2027-02-28 12:00",
    "28/02/2027 17:30", "28 February 2027"; a date alone is 00:00 (or 23:59 with
    ``end_of_day``). A month alone ("March 2027") is its first day, or with ``end_of_day``
    its last (a deadline of "March 2027" read as 1 March closed a month early); a quarter,
    a season or a weekday with no day of the month is refused, as an End date's is
    (:func:`~directory.ingest.values.parse_date`)."""
    clock: time | None = None
    if isinstance(value, MonthCell):  # a date cell showing a month alone ("Mar-27")
        day = parse_date(value, month_end=end_of_day)
    elif isinstance(value, datetime):
        naive = value.replace(tzinfo=None)
        if value.time() != time() or not end_of_day:
            return naive.replace(tzinfo=LONDON_TZ)
        day: date = naive.date()
    elif isinstance(value, date):
        day = value
    else:
        text = str(value).strip()
        match = _TIME.match(text)
        if match:
            hours, minutes = int(match["h"]), int(match["m"])
            if hours > 23 or minutes > 59:
                raise ValueError(f"{match['h']}:{match['m']} is not a time of day (HH:MM).")
            clock, text = time(hours, minutes), match["day"]
        day = parse_date(text, month_end=end_of_day)
    if clock is None:
        clock = time(23, 59) if end_of_day else time()
    return datetime.combine(day, clock, LONDON_TZ)


def month_alone(value: Any) -> bool:
    """Whether a cell is text naming a month with no day of it ("March 2027", "Mar 2027
    17:00"), or a date cell showing one (typed as "Mar-27"): which day it means is the
    reader's choice (:func:`parse_moment`), to be said."""
    if isinstance(value, MonthCell):
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    if match := _TIME.match(text):
        text = match["day"]
    try:
        return parse_date(text) != parse_date(text, month_end=True)
    except ValueError:
        return False


def add_opportunities(
    table: Table, ctx: Context, batch: Batch, funder: Callable[[str], tuple[str, str, bool]]
) -> None:
    """Read the sheet's rows into ``batch.opportunities`` (problems into the batch).
    ``funder`` turns the Funder column's text into (ref, name, only-a-ref), as the services'
    sheet reads it."""
    keys = {normalise_header(c.heading): c for c in COLUMNS}
    shown = {key: table.column(key) for key in table.keys}
    present = {keys[k].heading: k for k in table.keys if k in keys}
    for column in COLUMNS:
        if column.required and column.heading not in present:
            batch.error(
                f"The {SHEET} sheet has no '{column.heading}' column, and it is needed.",
                column=column.heading,
            )
    for key in table.keys:
        if key and key not in keys:
            batch.warning(
                f"Column '{shown.get(key, key)}' of the {SHEET} sheet is not one of its "
                "columns, so it is ignored.",
                column=shown.get(key, key),
            )
    if any(c.required and c.heading not in present for c in COLUMNS):
        return
    seen: dict[str, int] = {}
    for row in table.rows:
        values = {h: row.values.get(k) for h, k in present.items()}
        if all(_blank(v) for v in values.values()) and not row.values.get(EXTRA):
            continue
        record = _read_row(row.number, values, ctx, batch, funder)
        if record is None:
            continue
        if record.ref in seen:
            batch.error(
                f"{SHEET}: the ref {record.ref!r} is also on row {seen[record.ref]}.",
                row=row.number, column="Opportunity ref", value=record.ref,
            )  # fmt: skip
            continue
        seen[record.ref] = row.number
        batch.opportunities.append(record)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_row(
    number: int, values: dict[str, Any], ctx: Context, batch: Batch,
    funder: Callable[[str], tuple[str, str, bool]],
) -> OpportunityRecord | None:  # fmt: skip
    errors = len(batch.errors)

    def cell(
        heading: str, parser: Callable[[Any], Any] | None = None, *, required: bool = False
    ) -> Any:
        raw = values.get(heading)
        if isinstance(raw, ExcelError):  # its own problem; the row's other cells are read
            batch.error(f"{SHEET}: {raw.problem}", row=number, column=heading, value=str(raw))
            return None
        if _blank(raw):
            if required:
                batch.error(
                    f"{SHEET}: {heading} is needed on every row.", row=number, column=heading
                )
            return None
        try:
            value = parser(raw) if parser is not None else clean_text(raw)
        except ValueError as error:
            batch.error(f"{SHEET}: {error}", row=number, column=heading, value=raw)
            return None
        limit = LIMITS.get(heading)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            # said as it is read, with its row, beside the sheet's other problems (the
            # import's own check came only once they were mended, naming no value)
            batch.error(
                f"{SHEET}: {heading} is {len(value)} characters long; at most {limit} are kept.",
                row=number, column=heading, value=value[:60] + "…",
            )  # fmt: skip
            return None
        return value

    ref = cell("Opportunity ref", required=True)
    title = cell("Title", required=True)
    funder_text = cell("Funder", required=True)
    closes = cell("Closes", lambda v: parse_moment(v, end_of_day=True), required=True)
    if closes is not None and month_alone(values.get("Closes")):
        # a deadline guessed without a word is dangerous: it is said which day was taken
        shown = str(values["Closes"]).strip()
        batch.warning(
            f"{SHEET}: '{shown}' is a month alone: the round is taken to close on its last "
            f"day, {closes.day} {closes:%B %Y} at {closes:%H:%M} London time. Give the day "
            "(and time) if it closes earlier.",
            row=number, column="Closes", value=shown,
        )  # fmt: skip
    areas = cell("Areas", ctx.areas, required=True)
    record = OpportunityRecord(
        ref=ref or "", title=title or "", funder_name="", closes_at=closes or datetime.now(LONDON_TZ),
        programme=cell("Programme", ctx.programme), summary=cell("Summary"),
        eligibility=cell("Eligibility"),
        small_org_friendly=bool(cell("Small org friendly", parse_bool)),
        small_org_rule=cell("Small org rule"), amount_min=cell("Amount min", parse_amount),
        amount_max=cell("Amount max", parse_amount), total_pot=cell("Total pot", parse_amount),
        awards_expected=cell("Awards expected", parse_int),
        opens_at=cell("Opens", lambda v: parse_moment(v, end_of_day=False)),
        decision_date=cell("Decision date", parse_date),
        grant_months_min=cell("Grant months min", parse_int),
        grant_months_max=cell("Grant months max", parse_int),
        how_to_apply_url=cell("How to apply", parse_url), contact_name=cell("Contact name"),
        contact_email=cell("Contact email", parse_email),
        contact_public=bool(cell("Contact public", parse_bool)),
        themes=cell("Themes", ctx.themes) or [], areas=areas or [],
        demo=bool(cell("Demo", parse_bool)), row=number,
    )  # fmt: skip
    if funder_text:
        ref_, name, only_ref = funder(funder_text)
        record.funder_ref, record.funder_name = ref_, name
    if len(batch.errors) > errors:
        return None
    # values taken together (opening after closing, the smallest award above the largest):
    # said now, beside other rows' cell errors, not once those are mended
    for problem in opportunities.crossed(record):
        batch.error(
            f"{SHEET}: {problem.message}", row=number, column=heading_of(problem.column),
            value=problem.value,
        )  # fmt: skip
    return None if len(batch.errors) > errors else record
