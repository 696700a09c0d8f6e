"""The directory's own spreadsheet template: one row per service.

Each row is a service together with the organisation that delivers it, the areas it covers,
one delivery site and, optionally, the grant that funds it. MOPAC officers fill it in every
week, so reading is forgiving (other headings for the same column, any case, "£45k",
"01/04/2021", "RB Kingston upon Thames", "kt1 1eu") and every problem is reported with its
row, column and value, all of them at once.

The columns (heading, whether required, meaning, example, other headings accepted) are
declared once, in ``template.toml`` beside this module, which ``load_columns`` reads into
``COLUMNS`` on import, failing loudly on anything it does not expect; the README table
(``columns_markdown``), the XLSX "Columns" sheet and the blank template (``write_template``)
are made from it. How each column's cells are read stays here, in ``_read_row`` and the
functions it calls, since columns are read together (Ages against Min age and Max age, the
grant columns against the Funder …); ``_COLUMNS_READ`` lists the columns it reads.

What the template does not hold: more than one site per service (export those with the JSON
export; ``rows_from_batch`` writes the first site of each service, and a row for each of its
grants: a service several grants fund has a row for each, alike but for the grant), outcomes, contacts, organisation size bands and emails, grant titles,
descriptions, regrant types and source URLs, grants that fund no service, and
organisations that neither deliver a service nor fund one nor receive a grant for one (a
grant paid to another organisation than the service's is written with its Grant
recipient). A site's ref is its Site ref, else ``<service ref>#site``.

What a sheet does not say of a service is kept as held (``ServiceRecord.kept``, filled in by
``apply.keep_held``): the fields of the columns it lacks, the sites beyond the one a row
gives, and an Open Referral import's extras; a blank cell under a column it has clears.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from directory.data import org_id_key
from directory.ingest.context import known_organisations
from directory.ingest.readers import (
    EXTRA,
    HEADING_SEARCH,
    Content,
    ExcelError,
    ReadError,
    Row,
    Sheet,
    SheetHead,
    Table,
    above_warning,
    add_sheet,
    choose_sheet,
    ended_warning,
    is_workbook,
    normalise_header,
    read_sheet,
    sheet_heads,
    write_table,
)
from directory.ingest.records import (
    ORGANISATION_TYPES,
    OTHER_SITES,
    SERVICE_STATUSES,
    SITE_ADDRESS,
    SITE_NAME,
    SITE_POSTCODE,
    SITE_REF,
    SITES,
    Batch,
    Context,
    GrantRecord,
    LocationRecord,
    OrganisationRecord,
    ProblemLog,
    ServiceRecord,
    Spool,
    pickled_by_fields,
)
from directory.ingest.regrants import loop_message, loops
from directory.ingest.values import (
    check_duration,
    clean_text,
    loose_key,
    months_between,
    parse_age_range,
    parse_amount,
    parse_bool,
    parse_date,
    parse_email,
    parse_end_date,
    parse_financial_year,
    parse_int,
    parse_url,
    parse_verified,
    slug,
)
from directory.progress import QUIET, Progress
from directory.store.models import Grant, Location, Organisation, Service
from directory.store.repositories.scratch import Ledger
from geodata.postcodes import spaced_form

__all__ = [
    "COLUMNS",
    "COLUMNS_FILE",
    "MOPAC_NAME",
    "MOPAC_REF",
    "Column",
    "are_template_headings",
    "ColumnsFileError",
    "columns_markdown",
    "funder",
    "load_columns",
    "organisation_ref_for",
    "read_template",
    "rows_from_batch",
    "write_template",
]

MOPAC_REF = "GB-GOR-PC390"
MOPAC_NAME = "Mayor's Office for Policing and Crime"


#: where the columns are declared
COLUMNS_FILE = Path(__file__).with_name("template.toml")


@dataclass(frozen=True)
class Column:
    """One column of the template. ``key`` is ``normalise_header(heading)``; ``aliases`` are
    the keys of other headings accepted for the same column ("Provider" for "Organisation
    name")."""

    heading: str
    key: str
    required: bool
    meaning: str
    example: str
    aliases: tuple[str, ...] = ()


class ColumnsFileError(ValueError):
    """``template.toml`` does not declare columns this module can use."""


#: the keys a [[column]] of template.toml may have, and their types
_COLUMN_KEYS: dict[str, type] = {
    "heading": str,
    "required": bool,
    "meaning": str,
    "example": str,
    "aliases": list,
}
_NEEDED_KEYS = ("heading", "meaning", "example")

_GRANT_COLUMNS = (
    "Grant ref",
    "Funder",
    "Programme",
    "Amount",
    "Award date",
    "Start date",
    "End date",
    "Duration (months)",
    "Financial year",
    "Beneficiary areas",
    "Paid through",
    "Grant recipient",
)

#: the columns the reading code below reads: template.toml declares exactly these (a column
#: added there needs reading here, in _read_row, and writing, in rows_from_batch)
_COLUMNS_READ = frozenset(
    {
        "Service ref",
        "Service name",
        "Description",
        "Status",
        "Themes",
        "Organisation ref",
        "Organisation name",
        "Organisation type",
        "Charity number",
        "Company number",
        "Organisation website",
        "Coverage",
        "Site ref",
        "Site name",
        "Site address",
        "Site postcode",
        "Min age",
        "Max age",
        "Ages",
        "Eligibility",
        "Who can refer",
        "Email",
        "Phone",
        "Website",
        "Last verified",
        *_GRANT_COLUMNS,
        "Demo",
    }
)


def load_columns(path: Path = COLUMNS_FILE) -> tuple[Column, ...]:
    """The columns ``path`` declares, in its order. Raises ``ColumnsFileError``, naming the
    file and the column, when the file is not TOML, a column has a key other than those of
    ``_COLUMN_KEYS`` or lacks a heading, meaning or example, a value has the wrong type, a
    heading is accepted for two columns (as a heading or an alias), or the columns are not
    those the reading code reads."""
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ColumnsFileError(f"{path}: cannot read the template's columns: {error}") from error
    entries = data.pop("column", [])
    if data:
        raise ColumnsFileError(
            f"{path}: unknown key {_listed(data)}: the file holds only [[column]] tables"
        )
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ColumnsFileError(f"{path}: 'column' must be [[column]] tables")
    accepted: dict[str, tuple[str, str]] = {}  # key of a heading read → (column, as written)
    columns = tuple(
        _load_column(entry, f"{path}: column {number}", accepted)
        for number, entry in enumerate(entries, start=1)
    )
    headings = {c.heading for c in columns}
    if headings - _COLUMNS_READ:
        raise ColumnsFileError(
            f"{path}: template.py does not read {_listed(headings - _COLUMNS_READ)}: a new "
            "column needs code to read and write it there (_read_row, rows_from_batch) and "
            "its heading in _COLUMNS_READ"
        )
    if _COLUMNS_READ - headings:
        raise ColumnsFileError(
            f"{path}: there is no column {_listed(_COLUMNS_READ - headings)}, which "
            "template.py reads (a heading renamed here is renamed there too)"
        )
    return columns


def _load_column(entry: dict[str, Any], where: str, accepted: dict[str, tuple[str, str]]) -> Column:
    """One [[column]] table; ``accepted`` collects the keys of the headings read so far."""
    if isinstance(entry.get("heading"), str):
        where += f" ({entry['heading']!r})"

    def fail(problem: str) -> ColumnsFileError:
        return ColumnsFileError(f"{where}: {problem}")

    if set(entry) - set(_COLUMN_KEYS):
        raise fail(
            f"unknown key {_listed(set(entry) - set(_COLUMN_KEYS))}: a column's keys are "
            f"{', '.join(_COLUMN_KEYS)}"
        )
    missing = [k for k in _NEEDED_KEYS if k not in entry]
    if missing:
        raise fail(f"missing key {_listed(missing)}: every column needs one")
    for name, value in entry.items():
        kind = _COLUMN_KEYS[name]
        texts = [value] if kind is str else value if kind is list else []
        if not isinstance(value, kind) or not all(isinstance(t, str) for t in texts):
            what = {str: "text", bool: "true or false", list: "a list of texts"}[kind]
            raise fail(f"{name} must be {what}, not {value!r}")
        for text in texts:
            if not text.strip():
                raise fail(f"{name} has a blank text")
            if "\n" in text:
                raise fail(
                    f"{name} has a line break: end each line of a long text with a space and "
                    "a \\ so that the break is left out"
                )
    heading: str = entry["heading"]
    keys = []
    for number, text in enumerate((heading, *entry.get("aliases", ()))):
        key = normalise_header(text)
        if not key:
            raise fail(f"{text!r} has no letters or digits to read a heading by")
        if key in accepted:
            column, earlier = accepted[key]
            via = "" if earlier == column else f" (by its alias {earlier!r})"
            raise fail(
                f"duplicate {'alias' if number else 'column'}: {text!r} is already read as "
                f"the column {column!r}{via}; headings are compared ignoring case, spaces "
                "and punctuation"
            )
        accepted[key] = (heading, text)
        keys.append(key)
    return Column(
        heading,
        keys[0],
        entry.get("required", False),
        entry["meaning"],
        entry["example"],
        tuple(keys[1:]),
    )


def _listed(names: Iterable[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))


COLUMNS: tuple[Column, ...] = load_columns()

_BY_HEADING = {c.heading: c for c in COLUMNS}
HEADINGS = [c.heading for c in COLUMNS]
#: the heading a sheet in the template is recognised by (any heading accepted for it)
SHEET_HEADING = "Service ref"
_SHEET_KEYS = frozenset((_BY_HEADING[SHEET_HEADING].key, *_BY_HEADING[SHEET_HEADING].aliases))
#: the keys of the columns an import reads (a column under another heading is ignored, a
#: warning says so, and its formulas with no saved result do not refuse the sheet)
_READ_KEYS = frozenset(key for column in COLUMNS for key in (column.key, *column.aliases))
#: the sheet preferred when more than one has the template's headings
SHEET_NAME = "Services"


def is_template_sheet(head: SheetHead) -> bool:
    """Whether a sheet's header row is the template's: it names the Service ref column, and
    the sheet is not the template's own "Columns" sheet (:func:`_is_columns_sheet`)."""
    return bool(head.keys & _SHEET_KEYS) and not _is_columns_sheet(head.keys)


def _is_columns_sheet(keys: frozenset[str]) -> bool:
    """Whether a header row is the first row below the headings (Heading, Meaning) of the
    "Columns" sheet that ``write_template`` writes (the blank template and the export
    alike): the Service ref heading beside its meaning, "Required. …". Its headings were
    found below that "title", and the sheet was warned of as a second sheet of services
    not read, on every import of a filled-in template or of an export."""
    return len(keys) == 2 and any(key.startswith("required_") for key in keys)


def are_template_headings(keys: frozenset[str]) -> bool:
    """Whether a row is the template's headings, not a title above them: it names the
    Service ref column, or three of the template's."""
    return bool(keys & _SHEET_KEYS) or len(keys & _READ_KEYS) >= 3


def template_sheet(data: Content, name: str, heads: list[SheetHead] | None = None) -> Sheet:
    """The sheet of a file in the template, its headings read: a CSV's one sheet; in a
    workbook the sheet whose header row names the Service ref column (a visible one before a
    hidden one, then one named like "Services", then the first); failing that the sheet
    named "Services" or the only (visible) sheet, whose missing columns the reading then
    reports. A workbook of several sheets
    none of which has that heading is a :class:`ReadError` naming the sheets looked at;
    the other sheets that have it, which are not read, are the sheet's ``passed_over``
    (the reading warns of them)."""
    reading = {
        "name": name, "reads": _READ_KEYS.__contains__, "expected": are_template_headings,
        "keep_errors": True,  # (each such cell is its row's problem: read_template)
    }  # fmt: skip
    if heads is None or not any(map(is_template_sheet, heads)):  # (a title above them?)
        if not is_workbook(data, name):  # a CSV: its one sheet, read once
            return read_sheet(data, **reading)  # type: ignore[arg-type]
        heads = sheet_heads(data, name, are_template_headings)
    if heads[0].title is None:  # a CSV
        return read_sheet(data, **reading)  # type: ignore[arg-type]
    chosen = choose_sheet(heads, is_template_sheet, SHEET_NAME)
    if chosen is None:  # the "Services" sheet, or the only one: its reading says what lacks
        visible = [head for head in heads if not head.hidden]
        named = [h for h in visible if normalise_header(h.title) == normalise_header(SHEET_NAME)]
        if named or len(visible) == 1 or len(heads) == 1:
            chosen = (named or visible or heads)[0]
        else:
            looked = ", ".join(
                f"'{head.title}'" + (" (hidden)" if head.hidden else "") for head in heads
            )
            raise ReadError(
                f"No sheet of {name} is laid out as the template: the sheets looked at are "
                f"{looked}, and none has a '{SHEET_HEADING}' heading in its header row (its "
                f"first row that is not blank, or below a title, the first of its first "
                f"{HEADING_SEARCH} with the template's headings); name the column on the sheet "
                "to import"
            )
    sheet = read_sheet(data, sheet=chosen.title, **reading)  # type: ignore[arg-type]
    sheet.passed_over = tuple(
        f"'{head.title}'" + (" (hidden)" if head.hidden else "")
        for head in heads
        if head is not chosen and is_template_sheet(head)
    )
    return sheet


# -- words -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def organisation_ref_for(name: str) -> str:
    """The ref of an organisation known only by name: ``org:`` and a slug of the name (kept
    for the last 8,192 names: a sheet names its organisations on row after row, and asks
    for each row's ref four times)."""
    return "org:" + slug(name)


_STATUSES = {
    "active": ("active", "open", "live", "running", "operating", "current", "ongoing", "yes"),
    "inactive": ("inactive", "not active", "paused", "on hold", "suspended", "dormant"),
    "defunct": (
        "defunct",
        "closed",
        "ended",
        "stopped",
        "ceased",
        "finished",
        "discontinued",
        "permanently closed",
        "closed permanently",
        "no longer running",
    ),
    "temporarily closed": (
        "temporarily closed",
        "closed temporarily",
        "temp closed",
        "temporary closure",
        "temporarily suspended",
        "temporarily unavailable",
        "closed for now",
    ),
}
_STATUS_WORDS = {loose_key(w): status for status, words in _STATUSES.items() for w in words}

_ORG_TYPE_WORDS_BY_TYPE = {
    "voluntary": (
        "voluntary",
        "voluntary sector",
        "charity",
        "charitable",
        "registered charity",
        "vcs",
        "vcse",
        "vcfs",
        "community",
        "community group",
        "community organisation",
        "community interest company",
        "cic",
        "social enterprise",
        "third sector",
        "not for profit",
        "non profit",
        "faith group",
        "cio",
        "trust",
    ),
    "council": (
        "council",
        "local authority",
        "borough",
        "borough council",
        "london borough",
        "la",
        "local government",
    ),
    "nhs": ("nhs", "health", "nhs trust", "icb", "ccg", "health service", "hospital"),
    "police": ("police", "met", "met police", "metropolitan police", "mps", "policing"),
    "education": ("education", "school", "college", "university", "academy", "pru"),
    "business": (
        "business",
        "company",
        "private",
        "private sector",
        "commercial",
        "ltd",
        "limited",
    ),
    "other": ("other", "public body", "public sector", "government"),
}
_ORG_TYPE_WORDS = {loose_key(w): t for t, words in _ORG_TYPE_WORDS_BY_TYPE.items() for w in words}
assert set(_STATUSES) == set(SERVICE_STATUSES)
assert set(_ORG_TYPE_WORDS_BY_TYPE) == set(ORGANISATION_TYPES)

_ORG_ID = re.compile(r"^[A-Z]{2}-[A-Z]{2,5}-\S+$")
_NAME_AND_ID = re.compile(
    r"^(?P<name>.*\S)\s*[(\[]\s*(?P<id>[A-Z]{2}-[A-Z]{2,5}-[^\s)\]]+)\s*[)\]]$"
)


def funder(text: str) -> tuple[str, str, bool]:
    """(ref, name, name_is_only_the_ref) for a Funder cell (also the Opportunities sheet's)."""
    return _funder(text)


def _funder(text: str) -> tuple[str, str, bool]:
    """(ref, name, name_is_only_the_ref) for the Funder column's text."""
    known = known_organisations()  # directory/data/organisations.csv: MOPAC, the GLA …
    ref = known.by_name.get(loose_key(text)) or known.by_identifier.get(org_id_key(text))
    if ref is not None:
        return ref, known.names[ref], False
    if text.startswith("org:") and " " not in text:
        return text, text, True
    match = _NAME_AND_ID.match(text)
    if match:
        return match["id"], match["name"], False
    if _ORG_ID.match(text):
        return text, text, True
    return organisation_ref_for(text), text, False


# -- reading ---------------------------------------------------------------------------


@dataclass
class _Layout:
    """Which key of the table's rows holds each column."""

    source: dict[str, str]  # column heading → row key
    missing: set[str]  # headings of required columns the sheet lacks
    #: what its rows do not say of a service, kept as held (``ServiceRecord.kept``)
    kept: frozenset[str] = frozenset()


#: (the columns that give it, a ServiceRecord field or site part): a sheet with none of the
#: columns leaves it as held. Organisations and grants keep what a blank leaves anyway.
_KEPT_WITHOUT = (
    (("Description",), "description"),
    (("Status",), "status"),
    (("Themes",), "themes"),
    (("Min age", "Ages"), "min_age"),
    (("Max age", "Ages"), "max_age"),
    (("Eligibility",), "eligibility"),
    (("Who can refer",), "referral"),
    (("Email",), "email"),
    (("Phone",), "phone"),
    (("Website",), "website"),
    (("Last verified",), "last_verified"),
    (("Demo",), "demo"),
    (("Site ref",), SITE_REF),
    (("Site name",), SITE_NAME),
    (("Site address",), SITE_ADDRESS),
    (("Site postcode",), SITE_POSTCODE),
)
_SITE_COLUMNS = ("Site ref", "Site name", "Site address", "Site postcode")


def _kept(source: dict[str, str]) -> frozenset[str]:
    """What a sheet with these columns does not say of a service: the fields of the columns
    it lacks, every site when it has no site column, and always the sites beyond a row's
    one and what an Open Referral import kept (neither has a column)."""
    kept = {name for headings, name in _KEPT_WITHOUT if not any(h in source for h in headings)}
    if not any(h in source for h in _SITE_COLUMNS):
        kept.add(SITES)
    return frozenset({*kept, OTHER_SITES, "hsds_extras"})


def _layout(table: Table | Sheet, batch: Batch) -> _Layout:
    keys = list(table.keys)
    shown = {key: table.column(key) for key in keys}
    claimed: set[str] = set()
    source: dict[str, str] = {}
    missing: set[str] = set()
    for column in COLUMNS:
        present = [k for k in (column.key, *column.aliases) if k in keys]
        if present:
            source[column.heading] = present[0]
            for extra in present[1:]:
                batch.warning(
                    f"Column '{shown.get(extra, extra)}' is ignored: it means the same as "
                    f"'{shown.get(present[0], present[0])}', which is also in the sheet.",
                    column=shown.get(extra, extra),
                )
            claimed.update(present)
        elif column.required:
            missing.add(column.heading)
            batch.error(
                f"The sheet has no '{column.heading}' column, and it is needed.",
                column=column.heading,
            )
    for key in keys:
        if key not in claimed and key:
            heading = shown.get(key, key)
            batch.warning(
                f"Column '{heading}' is not one of the template's columns, so it is ignored.",
                column=heading,
            )
    return _Layout(source, missing, _kept(source))


#: heading → the most characters the database keeps of it (the field its text is stored in)
_LIMITS: dict[str, int] = {
    heading: column.type.length
    for heading, column in (
        ("Service ref", Service.__table__.c.ref),
        ("Service name", Service.__table__.c.name),
        ("Organisation ref", Organisation.__table__.c.ref),
        ("Organisation name", Organisation.__table__.c.name),
        ("Charity number", Organisation.__table__.c.charity_number),
        ("Company number", Organisation.__table__.c.company_number),
        ("Organisation website", Organisation.__table__.c.website),
        ("Site ref", Location.__table__.c.ref),
        ("Site name", Location.__table__.c.name),
        ("Email", Service.__table__.c.email),
        ("Phone", Service.__table__.c.phone),
        ("Website", Service.__table__.c.website),
        ("Grant ref", Grant.__table__.c.ref),
        ("Paid through", Grant.__table__.c.parent_ref),
    )
}


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


#: a cell not looked at yet
_UNREAD: Any = object()


class _Cells:
    """The cells of one row, read column by column; bad cells become batch errors. A row's
    reading asks for most cells more than once (about 70 looks at 36 columns): each cell's
    value, and its tidied text, is worked out once."""

    __slots__ = ("row", "layout", "batch", "failed", "_values", "_texts")

    def __init__(self, row: Row, layout: _Layout, batch: ProblemLog) -> None:
        self.row = row
        self.layout = layout
        self.batch = batch
        self.failed: set[str] = set()  # headings whose cell holds Excel's error value
        self._values: dict[str, Any] = {}  # heading → the cell as it is in the row
        self._texts: dict[str, str | None] = {}  # heading → its value as tidy text

    def _cell(self, heading: str) -> Any:
        value = self._values.get(heading, _UNREAD)
        if value is _UNREAD:
            key = self.layout.source.get(_BY_HEADING[heading].heading)
            value = self._values[heading] = None if key is None else self.row.values.get(key)
        return value

    def raw(self, heading: str) -> Any:
        """The cell's value; a cell holding Excel's error value is an error of its own
        (once) and read as blank, so the row's other cells are still checked."""
        value = self._cell(heading)
        if value is None:  # (a blank cell: most of a row's)
            return None
        if isinstance(value, ExcelError):
            if heading not in self.failed:
                self.failed.add(heading)
                self.batch.error(
                    value.problem, row=self.row.number, column=heading, value=str(value)
                )
            return None
        if isinstance(value, str) and value.startswith(_NEUTRALISED):
            value = value[1:]  # the ' that write_table put before text that looks like a formula
        return value

    def has(self, heading: str) -> bool:
        """Whether the cell holds something (Excel's error value too: it is not missing)."""
        value = self._cell(heading)
        if value is None:
            return False
        return isinstance(value, ExcelError) or not _blank(self.raw(heading))

    def error(self, heading: str, message: str, value: Any = ...) -> None:
        shown = self.raw(heading) if value is ... else value
        self.batch.error(message, row=self.row.number, column=heading, value=shown)

    def text(self, heading: str, *, required: bool = False) -> str | None:
        text = self._texts.get(heading, _UNREAD)
        if text is _UNREAD:
            raw = self.raw(heading)
            if isinstance(raw, float) and raw.is_integer():
                raw = int(raw)
            text = self._texts[heading] = None if _blank(raw) else clean_text(raw)
        if text is None and required and heading not in self.layout.missing | self.failed:
            self.error(heading, f"{heading} is needed on every row.")
        return self._fits(heading, text)

    def parse(self, heading: str, parser: Callable[[Any], Any]) -> Any:
        raw = self.raw(heading)
        if _blank(raw):
            return None
        try:
            return self._fits(heading, parser(raw))
        except ValueError as exc:
            self.error(heading, str(exc))
            return None

    def _fits(self, heading: str, value: Any) -> Any:
        """``value``, an error of its row and column when it is text longer than the
        database keeps (found as it is read: the import's own check named no row, and the
        database's field rather than the heading)."""
        limit = _LIMITS.get(heading)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            self.error(
                heading,
                f"{heading} is {len(value)} characters long; at most {limit} are kept.",
                value[:60] + "…",
            )
        return value

    def resolve(self, heading: str, resolver: Callable[[str], Any]) -> Any:
        """Text handed to a Context method."""
        text = self.text(heading)
        if text is None:
            return None
        try:
            return resolver(text)
        except ValueError as exc:
            self.error(heading, str(exc))
            return None


@dataclass(slots=True)
class _Funder:
    ref: str
    name: str
    placeholder: bool  # the name is only the ref
    from_name: bool  # the ref was made from the name


@dataclass(slots=True)
class _RowRead:
    number: int
    demo: bool
    service: ServiceRecord | None = None
    provider: OrganisationRecord | None = None
    provider_named: tuple[str, str] = ("Organisation name", "")  # (column, its value)
    grant: GrantRecord | None = None
    grant_given: frozenset[str] = frozenset()  # GrantRecord fields given on the row
    funder: _Funder | None = None
    recipient: _Funder | None = None  # the Grant recipient, when the row gives one
    paid_through: str | None = None


#: GrantRecord field → the column that gives it (for conflicts between rows)
_GRANT_FIELDS = {
    "funder_ref": "Funder",
    "recipient_ref": "Grant recipient",
    "programme": "Programme",
    "amount": "Amount",
    "awarded": "Award date",
    "start": "Start date",
    "end": "End date",
    "duration_months": "Duration (months)",
    "financial_year": "Financial year",
    "areas": "Beneficiary areas",
}
#: how write_table makes formula-like text harmless in a CSV: a leading '
_NEUTRALISED = ("'=", "'+", "'-", "'@")


#: rows read together: their site postcodes looked up in one go
ROWS_A_CHUNK = 5_000


def read_template(
    table: Table | Sheet, ctx: Context, *, progress: Progress = QUIET, label: str = "checking rows"
) -> Batch:
    """Records from a sheet laid out as the template (any column order; extra columns are
    warned about; other accepted headings are in ``Column.aliases``). Every row is checked
    and every problem reported; the batch is only fit to apply when it has no errors.
    ``progress`` is told the step (``label``) and its rows as they are checked.

    A :class:`Table`'s services and grants are kept in the batch. A :class:`Sheet` is read
    without holding its rows, setting its services aside in a :class:`Spool` as they are
    read and its grants once every row is, which the import reads back a chunk at a time.
    Its rows are read once for who each organisation name is (a Funder may name a provider
    of a later row) and counted (``progress`` is told the total), then again to check
    every row; a workbook's (whose rows cost most of an import's reading to read again)
    once, checking them and learning who each organisation name is as it goes, their total
    unknown, unless a Funder or Grant recipient named a provider that only a later row
    gives: then that reading is thrown away and the sheet read as a CSV's is. What rows
    must agree on across the sheet (the service refs used, each grant so far) is kept in a
    :class:`Ledger` (a scratch database), not in memory; the organisations are."""
    batch = Batch()
    if table.passed_over:
        batch.warning(
            f"Only sheet '{table.sheet}' is imported: {', '.join(table.passed_over)} "
            f"{'has' if len(table.passed_over) == 1 else 'have'} the template's headings too, "
            f"and {'is' if len(table.passed_over) == 1 else 'are'} not read (a workbook "
            f"holds one sheet of services: copy their rows onto '{table.sheet}' to import "
            "them)."
        )
    if (note := above_warning(table)) is not None:
        batch.warning(note, row=table.header_at)
    layout = _layout(table, batch)
    read = None
    if isinstance(table, Sheet) and table.workbook:  # once, learning the providers as it goes
        read = _check_rows(table, ctx, layout, None, progress, label)
    if read is None:
        providers = _providers(table, layout)
        progress.step(label, total=providers.rows)
        read = _check_rows(table, ctx, layout, providers, progress, label)
        assert read is not None
    assembly, extras, checked = read
    batch.problems += extras.problems
    if (note := ended_warning(table)) is not None:
        batch.warning(note, row=table.ended_at)
    if not assembly.rows:
        batch.warning("The sheet has no rows: there is nothing to import.")
        return batch
    batch.problems += checked.problems
    assembly.finish(batch)
    _name_sheet_headings(batch, table, layout)
    return batch


class _Providers(dict[str, str]):
    """Loose organisation name → the ref of the first row naming that organisation (a
    Funder or Grant recipient named so is that provider), with the rows counted."""

    rows = 0

    def learn(self, ref: str | None, name: str | None) -> None:
        if ref is not None and name is not None and (key := loose_key(name)):
            self.setdefault(key, ref)


def _providers(table: Table | Sheet, layout: _Layout) -> _Providers:
    """Every row's organisation, read before the rows are checked."""
    providers = _Providers()
    scratch = ProblemLog()  # what a reading only to look something up finds is not reported
    for row in table.each_row():
        providers.rows += 1
        if _filled(row):
            providers.learn(*_organisation_named(_Cells(row, layout, scratch)))
            scratch.problems.clear()
    return providers


def _check_rows(
    table: Table | Sheet, ctx: Context, layout: _Layout, providers: _Providers | None,
    progress: Progress, label: str,
) -> tuple[_Assembly, ProblemLog, ProblemLog] | None:  # fmt: skip
    """Every row read and checked, put together: the assembly, and the problems of cells
    with no heading and of the rows' own cells. ``providers`` None: the organisations are
    learnt as the rows come (a streamed sheet read once rather than twice: an XLSX file's
    reading is most of an import that changes nothing); None is returned, the reading
    thrown away, when a Funder or Grant recipient named an organisation that only a later
    row gives (then the sheet is read again, its providers first)."""
    learning = providers is None
    if learning:
        progress.step(label)  # (rows unknown until read)
    known = _Providers() if providers is None else providers
    assembly = _Assembly(known, isinstance(table, Table), learning)
    extras, checked = ProblemLog(), ProblemLog()  # reported in that order, then assembly's
    scratch = ProblemLog()
    rows = table.each_row()
    for chunk in iter(lambda: list(itertools.islice(rows, ROWS_A_CHUNK)), []):
        for row in chunk:
            if row.values.get(EXTRA):
                extras.warning(
                    "This row has values in cells with no heading; they are ignored.",
                    row=row.number,
                    value="; ".join(str(v) for v in row.values[EXTRA]),
                )
        filled = [row for row in chunk if _filled(row)]
        progress.advance(len(chunk) - len(filled))  # blank rows: nothing more to read
        sites = (_Cells(row, layout, scratch).text("Site postcode") for row in filled)
        ctx.read_postcodes(text for text in sites if text)
        for row in filled:
            read = _read_row(_Cells(row, layout, checked), ctx)
            if learning and read.provider is not None:  # (before its own Funder is looked up)
                known.learn(read.provider.ref, read.provider.name)
            assembly.add(read)
            progress.advance()
    if learning and not assembly.missed.isdisjoint(known):
        assembly.discard()
        return None
    return assembly, extras, checked


def _name_sheet_headings(batch: Batch, table: Table | Sheet, layout: _Layout) -> None:
    """Problems name a column by the sheet's heading, the template's in brackets where the
    sheet used another accepted for it ("Borough (Coverage)"): they named the template's
    alone, a heading the officer's sheet does not have."""
    shown = {
        heading: f"{table.column(key)} ({heading})"
        for heading, key in layout.source.items()
        if key != _BY_HEADING[heading].key
    }
    if not shown:
        return
    batch.problems = [
        dataclasses.replace(problem, column=shown[problem.column])
        if problem.column in shown
        else problem
        for problem in batch.problems
    ]
    for where in (batch.paid_through_rows, batch.organisation_rows):
        for ref, (row, column, *rest) in where.items():
            if column in shown:
                where[ref] = (row, shown[column], *rest)  # type: ignore[assignment]


def _filled(row: Row) -> bool:
    """Whether a row has a value under a heading (a row of blanks is skipped)."""
    return not all(_blank(v) for k, v in row.values.items() if k != EXTRA)


def _organisation_named(cells: _Cells) -> tuple[str | None, str | None]:
    """(ref, name) of the row's organisation: the ref given, else made from the name."""
    org_name = cells.text("Organisation name", required=True)
    org_ref = cells.text("Organisation ref")
    if org_ref is not None and re.search(r"\s", org_ref):
        cells.error(
            "Organisation ref",
            "An Organisation ref is an org-id with no spaces, such as GB-CHC-1123456; "
            "leave it blank to use the Organisation name.",
        )
        org_ref = None
    if org_ref is None and org_name is not None:
        org_ref = organisation_ref_for(org_name)
    return org_ref, org_name


def _read_row(cells: _Cells, ctx: Context) -> _RowRead:
    demo = bool(cells.parse("Demo", parse_bool))
    out = _RowRead(cells.row.number, demo)

    service_ref = cells.text("Service ref", required=True)
    service_name = cells.text("Service name", required=True)

    # organisation
    org_ref, org_name = _organisation_named(cells)
    org_type = _org_type(cells)
    company = cells.text("Company number")
    if company is not None and company.isascii() and company.isdigit() and len(company) < 8:
        company = company.zfill(8)
    if org_ref is not None and org_name is not None:
        made = org_ref == organisation_ref_for(org_name)  # (from the name: no ref given)
        out.provider_named = (
            ("Organisation name", org_name) if made else ("Organisation ref", org_ref)
        )
        out.provider = OrganisationRecord(
            ref=org_ref,
            name=org_name,
            type=org_type,
            charity_number=cells.text("Charity number"),
            company_number=company,
            website=cells.parse("Organisation website", parse_url),
            demo=demo,
        )
    else:
        cells.parse("Organisation website", parse_url)

    # service
    status = _status(cells)
    themes = cells.resolve("Themes", ctx.themes) or []
    coverage = cells.resolve("Coverage", ctx.areas) or []
    location = _location(cells, ctx, service_ref, demo)
    if (
        not cells.has("Coverage")
        and not cells.has("Site postcode")
        and "Coverage" not in cells.layout.missing
    ):
        cells.error(
            "Coverage",
            "Say which areas the service covers (Coverage), or give a Site postcode: "
            "without either it cannot be found by area.",
        )
    min_age, max_age = _ages(cells)
    if service_ref is not None and service_name is not None and org_ref is not None:
        out.service = ServiceRecord(
            ref=service_ref,
            name=service_name,
            organisation_ref=org_ref,
            description=cells.text("Description"),
            status=status,
            themes=themes,
            coverage=coverage,
            locations=[location] if location is not None else [],
            min_age=min_age,
            max_age=max_age,
            eligibility=cells.text("Eligibility"),
            referral=cells.text("Who can refer"),
            email=cells.parse("Email", parse_email),
            phone=_phone(cells),
            website=cells.parse("Website", parse_url),
            last_verified=cells.parse("Last verified", parse_verified),
            demo=demo,
            kept=cells.layout.kept,
        )
    else:
        for heading, parser in (
            ("Email", parse_email),
            ("Website", parse_url),
            ("Last verified", parse_verified),
        ):
            cells.parse(heading, parser)

    _grant(cells, ctx, out, service_ref, org_ref, coverage)
    return out


def _status(cells: _Cells) -> str:
    text = cells.text("Status")
    if text is None:
        return "active"
    status = _STATUS_WORDS.get(loose_key(text))
    if status is None:
        cells.error(
            "Status",
            f"'{text}' is not a status: use active, inactive, defunct or temporarily closed "
            "(blank means active).",
        )
        return "active"
    return status


def _org_type(cells: _Cells) -> str | None:
    text = cells.text("Organisation type")
    if text is None:
        return None
    found = _ORG_TYPE_WORDS.get(loose_key(text))
    if found is None:
        cells.error(
            "Organisation type",
            f"'{text}' is not an organisation type: use voluntary, council, nhs, police, "
            "education, business or other.",
        )
    return found


def _phone(cells: _Cells) -> str | None:
    raw = cells.raw("Phone")
    text = cells.text("Phone")
    if text is not None and isinstance(raw, int | float) and len(text) == 10 and text.isdigit():
        return "0" + text  # a spreadsheet took 020… for a number and dropped the 0
    return text


def _location(
    cells: _Cells, ctx: Context, service_ref: str | None, demo: bool
) -> LocationRecord | None:
    name = cells.text("Site name")
    address = cells.text("Site address")
    location = cells.resolve("Site postcode", ctx.postcode)
    if location is None:
        if cells.has("Site postcode") or (name is None and address is None):
            return None
        location = LocationRecord(ref="")
    given = cells.text("Site ref")
    location.ref = given or (f"{service_ref}#site" if service_ref else "")
    location.name = name
    location.address = address
    location.demo = demo
    return location


def _ages(cells: _Cells) -> tuple[int | None, int | None]:
    min_age = cells.parse("Min age", _age)
    max_age = cells.parse("Max age", _age)
    ages = cells.parse("Ages", parse_age_range)
    if ages is not None:
        low, high = ages
        pairs = (("Min age", min_age, low), ("Max age", max_age, high))
        clashes = [
            f"{heading} is {given}"
            for heading, given, from_range in pairs
            if given is not None and from_range is not None and given != from_range
        ]
        if clashes:
            cells.error(
                "Ages",
                f"Ages says {_range_text(low, high)} but {' and '.join(clashes)}: give the "
                "ages once, either in Ages or in Min age and Max age.",
            )
        else:
            min_age = min_age if min_age is not None else low
            max_age = max_age if max_age is not None else high
    if min_age is not None and max_age is not None and min_age > max_age:
        cells.error(
            "Min age",
            f"Min age ({min_age}) is more than Max age ({max_age}).",
        )
    return min_age, max_age


def _range_text(low: int | None, high: int | None) -> str:
    if low is None:
        return f"up to {high}"
    if high is None:
        return f"{low} and over"
    return f"{low} to {high}"


def _age(value: Any) -> int:
    age = parse_int(value)
    if not 0 <= age <= 120:
        raise ValueError(f"{age} is not an age in years.")
    return age


def _grant(
    cells: _Cells,
    ctx: Context,
    out: _RowRead,
    service_ref: str | None,
    org_ref: str | None,
    coverage: list[str],
) -> None:
    given = [h for h in _GRANT_COLUMNS if cells.has(h)]
    funder_text = cells.text("Funder")
    grant_ref = cells.text("Grant ref")
    programme = cells.resolve("Programme", ctx.programme)
    amount = cells.parse("Amount", parse_amount)
    awarded = cells.parse("Award date", parse_date)
    start = cells.parse("Start date", parse_date)
    end = cells.parse("End date", parse_end_date)
    duration = cells.parse("Duration (months)", parse_int)
    year = cells.parse("Financial year", parse_financial_year)
    areas = cells.resolve("Beneficiary areas", ctx.areas)
    paid_through = cells.text("Paid through")
    recipient_text = cells.text("Grant recipient")
    if start is not None and end is not None:
        if end < start:
            cells.error(
                "End date",
                f"The End date ({end.isoformat()}) is before the Start date ({start.isoformat()}).",
            )
        elif duration is None and not cells.has("Duration (months)"):
            duration = months_between(start, end)
    if year is not None and start is not None:
        _check_financial_year(cells, year, start, end)
    if duration is not None:
        try:
            check_duration(
                duration, start, end, name="Duration (months)", dates="the Start and End dates"
            )
        except ValueError as exc:
            cells.error("Duration (months)", str(exc))
            duration = None
    if not given:
        return
    if funder_text is None:
        others = ", ".join(h for h in given if h != "Funder")
        what = "An Amount is" if "Amount" in given else f"Grant details ({others}) are"
        cells.error(
            "Funder",
            f"{what} given but no Funder: say who pays for the service (e.g. MOPAC), or leave "
            "the grant columns blank.",
        )
        return
    ref, name, placeholder = _funder(funder_text)
    out.funder = _Funder(ref, name, placeholder, from_name=ref == organisation_ref_for(name))
    recipient_ref = org_ref
    if recipient_text is not None:  # read as a Funder is: paid to someone else
        paid, paid_name, paid_placeholder = _funder(recipient_text)
        out.recipient = _Funder(
            paid, paid_name, paid_placeholder, from_name=paid == organisation_ref_for(paid_name)
        )
        recipient_ref = paid
    if service_ref is None or recipient_ref is None:
        return
    out.grant = GrantRecord(
        ref=grant_ref or f"{service_ref}#grant",
        funder_ref=ref,
        recipient_ref=recipient_ref,
        programme=programme,
        service_refs=[service_ref],
        amount=amount,
        awarded=awarded,
        start=start,
        end=end,
        duration_months=duration,
        financial_year=year,
        areas=list(areas) if areas is not None else list(coverage),
        demo=out.demo,
    )
    out.grant_given = _fields_given(tuple(given), duration is not None)
    out.paid_through = paid_through


def _check_financial_year(cells: _Cells, year: str, start: date, end: date | None) -> None:
    """A warning when the grant's dates (its start alone, without an end) do not reach into
    the Financial year given (2025/26 on a grant starting 2026-04-01 was taken without a
    word, and its money counted in a year it was not spent in). A grant of several years
    that runs through the year is not warned of: the year says which year's money it is."""
    first = int(year[:4])
    begins, ends = date(first, 4, 1), date(first + 1, 3, 31)
    if begins <= start <= ends or (end is not None and start < begins <= end):
        return
    if end is not None and end < start:
        return  # (an error of its own)
    dates = (
        f"Start date ({start:%d/%m/%Y}) falls"
        if end is None
        else f"Start and End dates ({start:%d/%m/%Y} to {end:%d/%m/%Y}) fall"
    )
    cells.batch.warning(
        f"The {dates} outside the financial year {year} given (1 April {first} to 31 March "
        f"{first + 1}): check the Financial year, or the dates.",
        row=cells.row.number,
        column="Financial year",
        value=cells.raw("Financial year"),
    )


@functools.cache
def _fields_given(headings: tuple[str, ...], duration: bool) -> frozenset[str]:
    """The GrantRecord fields a row gives, from its grant columns given: one set shared by
    every row giving the same columns (a set of its own a row was 46 MB at 100,000 rows)."""
    fields = {f for f, heading in _GRANT_FIELDS.items() if heading in headings}
    return frozenset(
        {*fields, "recipient_ref", "funder_ref"} | ({"duration_months"} if duration else set())
    )


# -- putting the rows together ---------------------------------------------------------


@dataclass(slots=True)
class _OrgSeen:
    record: OrganisationRecord
    row: int
    placeholder: bool
    demo: bool  # every row that names it is demo
    #: where the first row names it (the column, its value), and how many rows do: for the
    #: import's warning when it is taken to be an organisation held under another ref
    named: tuple[str, str]
    rows: int = 1
    last: int = 0  # the last row that named it


@pickled_by_fields  # (kept in the assembly's ledger)
@dataclass(slots=True)
class _GrantSeen:
    record: GrantRecord
    row: int
    given: frozenset[str]  # the fields given on its rows so far
    coverage: list[str]
    paid_through: str | None
    paid_through_row: int


@pickled_by_fields  # (kept in the assembly's ledger)
@dataclass(slots=True)
class _ServiceSeen:
    row: int
    record: ServiceRecord
    grants: list[str]  # the loose grant refs its rows name


#: ServiceRecord field → the column that gives it (for rows of one service that differ)
_SERVICE_HEADINGS = {
    "name": "Service name",
    "organisation_ref": "Organisation name",
    "description": "Description",
    "status": "Status",
    "themes": "Themes",
    "coverage": "Coverage",
    "locations": "Site postcode",
    "min_age": "Min age",
    "max_age": "Max age",
    "eligibility": "Eligibility",
    "referral": "Who can refer",
    "email": "Email",
    "phone": "Phone",
    "website": "Website",
    "last_verified": "Last verified",
    "demo": "Demo",
}


def _another_grant_row(
    first: _ServiceSeen, row: _RowRead, grant: str | None, log: ProblemLog
) -> bool:
    """Whether a row repeating a Service ref gives that service another grant: its service
    columns as on its first row, and a Grant ref none of its rows has named. A row holds one
    grant, so a service several grants fund has a row for each (as the export writes it);
    anything else is an error."""
    service = row.service
    assert service is not None
    differ = next(
        (
            name
            for name in _SERVICE_HEADINGS
            if getattr(service, name) != getattr(first.record, name)
        ),
        None,
    )
    if differ is not None:
        value = getattr(service, differ)
        if differ == "locations":
            value = [site.postcode or site.name or site.ref for site in value]
        log.error(
            f"Service ref '{service.ref}' is already used on row {first.row}, with another "
            f"{_SERVICE_HEADINGS[differ]}: a service has one row, or a row for each grant that "
            "funds it, the same but for the grant columns.",
            row=row.number,
            column=_SERVICE_HEADINGS[differ],
            value="; ".join(map(str, value)) if isinstance(value, list) else value,
        )
        return False
    if grant is None or grant in first.grants:
        log.error(
            f"Service ref '{service.ref}' is already used on row {first.row}"
            + ("" if grant is None else f" with Grant ref '{row.grant.ref}'")  # type: ignore[union-attr]
            + ": each service has one row and its own ref, or a row for each grant that "
            "funds it.",
            row=row.number,
            column="Service ref",
            value=service.ref,
        )
        return False
    return True


class _Assembly:
    """The rows put together one at a time, in the sheet's order: a service ref used on
    two rows (but for a service's rows of its several grants), an organisation or grant
    that rows disagree on are errors; the funder a row names by a provider's name is that
    provider."""

    def __init__(
        self, provider_by_name: dict[str, str], keep: bool, learning: bool = False
    ) -> None:
        self.provider_by_name = provider_by_name
        #: learning the providers as the rows come: the loose names a Funder or Grant
        #: recipient gave that no row had given as a provider's yet
        self.learning = learning
        self.missed: set[str] = set()
        self.log = ProblemLog()
        self.rows = 0
        # a sheet's set aside (none of its rows is held), a table's kept
        self.keep = keep
        self.services: list[ServiceRecord] | Spool[ServiceRecord] = [] if keep else Spool()
        # what rows must agree on across the sheet, out of memory: at 100,000 rows these
        # were 75 MB of objects kept to the last row (and the file's peak grew with them)
        self.refs: Ledger[_ServiceSeen] = Ledger()  # loose service ref → its first row
        self.grants: Ledger[_GrantSeen] = Ledger()  # loose grant ref → the grant so far
        self.paid_through = False  # whether any row says Paid through
        self.orgs: dict[str, _OrgSeen] = {}

    def add(self, row: _RowRead) -> None:
        self.rows += 1
        again = False  # another row of a service funded by several grants
        if row.service is not None:
            loose = row.service.ref.casefold()
            first = self.refs.get(loose)
            grant = None if row.grant is None else row.grant.ref.casefold()
            if first is None:
                self.refs.add(
                    loose, _ServiceSeen(row.number, row.service, [grant] if grant else [])
                )
            elif not _another_grant_row(first, row, grant, self.log):
                return
            else:
                first.grants.append(grant)  # type: ignore[arg-type]  # (checked: not None)
                self.refs.put(loose, first)
                again = True
        if row.provider is not None:
            _add_org(
                self.orgs, row.provider, row.number, False, row.demo, "Organisation name", self.log,
                row.provider_named,
            )  # fmt: skip
        for payer, heading, field in (
            (row.funder, "Funder", "funder_ref"),
            (row.recipient, "Grant recipient", "recipient_ref"),
        ):
            if payer is None:
                continue
            if payer.from_name:
                key = loose_key(payer.name)
                if key in self.provider_by_name:
                    payer.ref = self.provider_by_name[key]
                    if row.grant is not None:
                        setattr(row.grant, field, payer.ref)
                elif self.learning:
                    self.missed.add(key)
            record = OrganisationRecord(ref=payer.ref, name=payer.name, demo=row.demo)
            named = (heading, payer.name if payer.from_name else payer.ref)
            _add_org(
                self.orgs, record, row.number, payer.placeholder, row.demo, heading, self.log, named
            )
        if row.service is not None and not again:
            self.services.append(row.service)
        if row.grant is not None:
            self.paid_through = self.paid_through or row.paid_through is not None
            _add_grant(self.grants, row, self.log)

    def discard(self) -> None:
        """What was set aside, thrown away (the rows are read again)."""
        if isinstance(self.services, Spool):
            self.services.close()
        self.refs.close()
        self.grants.close()

    def finish(self, batch: Batch) -> None:
        """The organisations and grants (and kept services) into ``batch``, its problems
        after the rows'; the scratch database closed."""
        batch.services = self.services if len(self.services) else []
        for seen in self.orgs.values():
            seen.record.demo = seen.demo
            batch.organisations.append(seen.record)
            batch.organisation_rows[seen.record.ref] = (seen.row, *seen.named, seen.rows)
        grants = self.grants
        payers = _Payers(grants, self.orgs) if self.paid_through else None
        found: list[GrantRecord] | Spool[GrantRecord] = [] if self.keep else Spool()
        parents: dict[str, str | None] = {}  # grant → the grant it is paid through
        for seen in grants.values():
            if "areas" not in seen.given:
                seen.record.areas = seen.coverage
            if seen.paid_through is not None:
                assert payers is not None
                seen.record.parent_ref = _parent(seen, grants, payers, self.log)
                parents[seen.record.ref] = seen.record.parent_ref
                batch.paid_through_rows[seen.record.ref] = (seen.paid_through_row, "Paid through")
            found.append(seen.record)
        batch.grants = found if len(found) else []
        # a loop within the sheet (one through grants already held is found by the import)
        for loop in loops(parents):
            row, _ = batch.paid_through_rows[loop[0]]
            where = {ref: f"row {batch.paid_through_rows[ref][0]}" for ref in loop}
            self.log.error(
                loop_message(loop, where), row=row, column="Paid through", value=parents[loop[0]]
            )
        batch.problems += self.log.problems
        self.refs.close()
        self.grants.close()


def _add_org(
    orgs: dict[str, _OrgSeen],
    record: OrganisationRecord,
    row: int,
    placeholder: bool,
    demo: bool,
    column: str,
    batch: ProblemLog,
    named: tuple[str, str],
) -> None:
    seen = orgs.get(record.ref)
    if seen is None:
        orgs[record.ref] = _OrgSeen(record, row, placeholder, demo, named, last=row)
        return
    if seen.last != row:
        seen.rows, seen.last = seen.rows + 1, row
    seen.demo = seen.demo and demo
    if not placeholder:
        if seen.placeholder:
            seen.record.name = record.name
            seen.placeholder = False
        elif loose_key(seen.record.name) != loose_key(record.name):
            batch.error(
                f"Organisation ref '{record.ref}' is called '{seen.record.name}' on row "
                f"{seen.row} but '{record.name}' here: one organisation, one name.",
                row=row,
                column=column,
                value=record.name,
            )
    for name, heading in (
        ("type", "Organisation type"),
        ("charity_number", "Charity number"),
        ("company_number", "Company number"),
        ("website", "Organisation website"),
    ):
        new, old = getattr(record, name), getattr(seen.record, name)
        if new is None or new == old:
            continue
        if old is None:
            setattr(seen.record, name, new)
        else:
            batch.warning(
                f"{heading} for '{seen.record.name}' is '{old}' on row {seen.row} but '{new}' "
                f"here; the first is kept.",
                row=row,
                column=heading,
                value=new,
            )


def _add_grant(grants: Ledger[_GrantSeen], row: _RowRead, batch: ProblemLog) -> None:
    grant = row.grant
    assert grant is not None
    loose = grant.ref.casefold()
    seen = grants.get(loose)  # a copy: put back below
    if seen is None:
        grants.add(
            loose,
            _GrantSeen(
                grant,
                row.number,
                row.grant_given,
                # the record's own list when its areas are the services' (the record takes
                # the coverage at the end); a copy when given, which later rows must not change
                list(grant.areas) if "areas" in row.grant_given else grant.areas,
                row.paid_through,
                row.number,
            ),
        )
        return
    # the same grant funds another service: the rows must agree
    for name in sorted(row.grant_given, key=list(_GRANT_FIELDS).index):
        new = getattr(grant, name)
        if name not in seen.given:
            setattr(seen.record, name, new)
            seen.given = seen.given | {name}
        elif getattr(seen.record, name) != new:
            heading = _GRANT_FIELDS[name]
            batch.error(
                f"Grant ref '{grant.ref}' has {heading} {_shown(getattr(seen.record, name))} on "
                f"row {seen.row} but {_shown(new)} here: a grant funding several services must "
                f"be the same on each of their rows (or blank after the first).",
                row=row.number,
                column=heading,
                value=_shown(new),
            )
    if row.paid_through is not None:
        if seen.paid_through is None:
            seen.paid_through, seen.paid_through_row = row.paid_through, row.number
        elif loose_key(seen.paid_through) != loose_key(row.paid_through):
            batch.error(
                f"Grant ref '{grant.ref}' is paid through '{seen.paid_through}' on row "
                f"{seen.paid_through_row} but '{row.paid_through}' here.",
                row=row.number,
                column="Paid through",
                value=row.paid_through,
            )
    for code in grant.areas if "areas" not in row.grant_given else ():
        if code not in seen.coverage:
            seen.coverage.append(code)
    refs = seen.record.service_refs
    assert refs is not None and grant.service_refs is not None  # (a row names its service)
    refs.extend(r for r in grant.service_refs if r not in refs)
    seen.record.demo = seen.record.demo and grant.demo
    grants.put(loose, seen)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "'" + "; ".join(value) + "'"
    if isinstance(value, date):
        return value.isoformat()
    return f"'{value}'"


class _Payers:
    """The sheet's organisations by ref and by name, and each one's grants, for reading
    Paid through: looked up, not scanned, for every grant that names one."""

    def __init__(self, grants: Ledger[_GrantSeen], orgs: dict[str, _OrgSeen]) -> None:
        self.by_ref: dict[str, set[str]] = {}  # casefolded ref → refs
        self.by_name: dict[str, set[str]] = {}  # loose name → refs
        for ref, org in orgs.items():
            self.by_ref.setdefault(ref.casefold(), set()).add(ref)
            self.by_name.setdefault(loose_key(org.record.name), set()).add(ref)
        self.grants_of: dict[str, list[tuple[int, str]]] = {}  # recipient → (place, ref)
        for place, g in enumerate(grants.values()):
            self.grants_of.setdefault(g.record.recipient_ref, []).append((place, g.record.ref))

    def organisations(self, text: str) -> set[str]:
        """Refs of the organisations whose ref (ignoring case) or name is ``text``."""
        return self.by_ref.get(text.casefold(), set()) | self.by_name.get(loose_key(text), set())

    def grants(self, refs: set[str]) -> list[str]:
        """The grants these organisations receive, in the sheet's order."""
        return [ref for _, ref in sorted(g for org in refs for g in self.grants_of.get(org, ()))]


def _parent(
    seen: _GrantSeen, grants: Ledger[_GrantSeen], payers: _Payers, batch: ProblemLog
) -> str | None:
    """The parent grant's ref for the Paid through text: a grant ref in the sheet, an
    organisation in the sheet with exactly one grant, or else a ref of a grant already in the
    directory (a ref has no spaces)."""
    text = seen.paid_through
    assert text is not None
    own = seen.record.ref

    def problem(message: str) -> None:
        batch.error(message, row=seen.paid_through_row, column="Paid through", value=text)

    by_ref = grants.get(text.casefold())
    if by_ref is not None:
        if by_ref.record.ref == own:
            problem("A grant cannot be paid through itself.")
            return None
        return by_ref.record.ref
    org_refs = payers.organisations(text)
    if org_refs:
        theirs = [ref for ref in payers.grants(org_refs) if ref != own]
        if len(theirs) == 1:
            return theirs[0]
        if theirs:
            problem(
                f"'{text}' receives several grants in this sheet ({', '.join(theirs)}): give "
                "the Grant ref of the one this money came through."
            )
        else:
            problem(
                f"'{text}' has no grant in this sheet: give the Grant ref of the grant it "
                "passed on to this service."
            )
        return None
    if re.search(r"\s", text):
        problem(
            f"'{text}' is neither a Grant ref nor an organisation with a grant in this sheet: "
            "give the Grant ref of the grant the money came through."
        )
        return None
    return text  # a grant already in the directory; the import checks it is there


# -- writing ---------------------------------------------------------------------------


def rows_from_batch(batch: Batch) -> tuple[list[str], list[list[Any]]]:
    """The template's headings and a row per service of the batch and grant that funds it
    (one when none does): its organisation, its first site and the grant, with the Grant
    recipient when the grant is paid to another organisation (a council funding several
    providers' services: such grants were left out, and a full import of the export
    withdrew them). What the template cannot hold (other sites, outcomes, contacts, grants
    funding no service …) is left out; the 360Giving and JSON exports carry it."""
    orgs = {o.ref: o for o in batch.organisations}
    funding: dict[str, list[GrantRecord]] = {}
    for g in batch.grants:
        for ref in dict.fromkeys(g.service_refs or ()):
            funding.setdefault(ref, []).append(g)
    rows: list[list[Any]] = []
    for service in batch.services:
        rows += _rows_of(service, orgs, list(funding.get(service.ref, ())) or [None])
    return list(HEADINGS), rows


def _rows_of(
    service: ServiceRecord, orgs: dict[str, OrganisationRecord], grants: list[GrantRecord | None]
) -> list[list[Any]]:
    """A service's rows: one for each grant (the same but for the grant columns), since a
    row holds one grant and a grant its rows name is linked to their services alone."""
    org = orgs.get(service.organisation_ref)
    site = service.locations[0] if service.locations else None
    rows = []
    for grant in grants:
        cells: dict[str, Any] = {
            "Service ref": service.ref,
            "Service name": service.name,
            "Description": service.description,
            "Status": service.status,
            "Themes": service.themes,
            "Organisation ref": service.organisation_ref,
            "Organisation name": org.name if org else None,
            "Organisation type": org.type if org else None,
            "Charity number": org.charity_number if org else None,
            "Company number": org.company_number if org else None,
            "Organisation website": org.website if org else None,
            "Coverage": service.coverage,
            "Site ref": site.ref if site else None,
            "Site name": site.name if site else None,
            "Site address": site.address if site else None,
            "Site postcode": spaced_form(site.postcode) if site else None,
            "Min age": service.min_age,
            "Max age": service.max_age,
            "Eligibility": service.eligibility,
            "Who can refer": service.referral,
            "Email": service.email,
            "Phone": service.phone,
            "Website": service.website,
            "Last verified": service.last_verified,
            "Demo": service.demo,
        }
        if grant is not None:
            cells.update(
                {
                    "Grant ref": grant.ref,
                    "Funder": _funder_text(grant.funder_ref, orgs.get(grant.funder_ref)),
                    "Programme": grant.programme,
                    "Amount": grant.amount,
                    "Award date": grant.awarded,
                    "Start date": grant.start,
                    "End date": grant.end,
                    "Duration (months)": grant.duration_months,
                    "Financial year": grant.financial_year,
                    "Beneficiary areas": grant.areas,
                    "Paid through": grant.parent_ref,
                    "Grant recipient": None
                    if grant.recipient_ref == service.organisation_ref
                    else _funder_text(grant.recipient_ref, orgs.get(grant.recipient_ref)),
                }
            )
        rows.append([_cell(cells.get(h)) for h in HEADINGS])
    return rows


def _funder_text(ref: str, org: OrganisationRecord | None) -> str:
    """Text for the Funder column (or Grant recipient) that reads back as ``ref`` (and the
    organisation's name)."""
    if org is None or org.name == ref:
        return ref
    if _funder(org.name)[:2] == (ref, org.name):
        return org.name
    if ref.startswith("org:"):
        return ref
    return f"{org.name} ({ref})"


def _cell(value: Any) -> Any:
    """A cell for write_table: dates, numbers and amounts stay typed (real dates and numbers
    in XLSX), lists become "a; b", yes/no stays words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(value) or None
    return value


def write_template(
    path: Path, *, format: Literal["csv", "xlsx"], batch: Batch | None = None
) -> None:
    """The template at ``path``: headings only, or one row per service of ``batch``. The XLSX
    has a "Columns" sheet saying what each column means, with an example."""
    from directory.ingest import opportunity_sheet

    headings, rows = rows_from_batch(batch) if batch is not None else (list(HEADINGS), [])
    blank_workbook = format == "xlsx" and batch is None  # funding opportunities too
    notes = _notes(COLUMNS)
    if blank_workbook:
        notes += [
            ("", ""),
            (f"{opportunity_sheet.SHEET} sheet", "One funding opportunity (bidding round) a "
             "row, imported with the services, all or nothing. Times are London times."),
            *_notes(opportunity_sheet.COLUMNS),
        ]  # fmt: skip
    write_table(Path(path), headings, rows, format=format, sheet="Services", notes=notes)
    if blank_workbook:
        add_sheet(Path(path), opportunity_sheet.SHEET, list(opportunity_sheet.HEADINGS), [])


def _notes(columns: Any) -> list[tuple[str, str]]:
    return [
        (c.heading, f"{'Required. ' if c.required else ''}{c.meaning} Example: {c.example}")
        for c in columns
    ]


def columns_markdown(columns: Any = None) -> str:
    """The columns (the Services sheet's unless others are given) as a markdown table, for
    the README."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| Column | Required | Meaning | Example |", "|---|---|---|---|"]
    for c in COLUMNS if columns is None else columns:
        lines.append(
            f"| {cell(c.heading)} | {'yes' if c.required else ''} | {cell(c.meaning)} "
            f"| `{cell(c.example)}` |"
        )
    return "\n".join(lines) + "\n"
