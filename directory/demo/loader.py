"""The demo's own records, read from the data files beside this module (``data/``,
described in ``data/README.md``).

Each file's columns (CSV) or keys (TOML) are listed in ``SCHEMAS`` with the kind of value
they hold; a missing or unknown column, a blank required value, a value of the wrong kind,
a duplicate ref, an unknown theme, programme or organisation type, or a reference to a
record that is not there raises :class:`DemoDataError` naming the file, the row and the
value. What only the London data can tell (boroughs, BCUs, areas, postcodes) is checked
when the demo is built, with the same error.
"""

from __future__ import annotations

import copy
import csv
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from directory.ingest.context import programmes as known_programmes
from directory.ingest.context import themes as theme_taxonomy
from directory.ingest.records import ORGANISATION_TYPES, REGRANT_TYPES, OrganisationRecord
from directory.ingest.values import loose_key, parse_financial_year, split_list

DATA = Path(__file__).resolve().parent / "data"

#: per file, its columns (keys of each ``[[service]]``, ``[[recipient]]``, ``[[programme]]``)
#: and the kind of value each holds; "?" marks a column that may be left blank
SCHEMAS: dict[str, dict[str, str]] = {
    "organisations.csv": {"ref": "text", "name": "text", "type": "org_type",
                          "website": "text?", "description": "text?"},
    "councils.csv": {"borough_code": "text", "borough": "text", "council_name": "text"},
    "services.toml": {"ref": "text", "name": "text", "organisation": "text",
                      "description": "text", "themes": "themes", "coverage": "text",
                      "verified_weeks_ago": "int", "site": "site?", "min_age": "int?",
                      "max_age": "int?", "eligibility": "text?", "referral": "text?",
                      "email": "text?"},
    "borough_services.csv": {"ref": "text", "name": "text", "bcu": "text",
                             "borough_code": "text", "outcode": "text", "themes": "themes",
                             "summary": "text", "min_age": "int?", "max_age": "int?",
                             "referral": "text?", "email": "text?",
                             "verified_weeks_ago": "weeks", "lcpf_amount": "int"},
    "grants.csv": {"ref": "text", "funder": "text", "recipient": "text", "title": "text",
                   "programme": "programme", "amount": "int?", "financial_year": "fy",
                   "areas": "text", "services": "list?", "parent": "text?",
                   "regrant_type": "regrant?", "note": "text"},
    "contacts.csv": {"area": "text", "role": "text", "name": "text?", "email": "text?",
                     "phone": "text?"},
    "outcomes.csv": {"service": "text", "metric": "text", "period_start": "date",
                     "period_end": "date", "value": "number", "target": "number?",
                     "unit": "text?", "report_type": "text?", "measured_on": "date?"},
    "decisions.toml": {"funder": "text", "recipient": "table", "other_recipients": "table",
                       "organisation_types": "table", "programme": "table",
                       "borough_programmes": "table", "part_of": "table",
                       "area_scope": "table", "regrant": "table"},
    "recipient": {"is": "text?", "starts_with": "text?", "contains": "text?",
                  "org_id": "text?", "organisation": "text?", "collective": "collective?"},
    "other_recipients": {"council_words": "words", "collective_words": "words"},
    "programme": {"contains": "text?", "starts_with": "text?", "unless": "text?",
                  "programme": "programme"},
    "borough_programmes": {"words": "text", "any_of": "words"},
    "part_of": {"decision": "text", "budget": "text", "why": "text"},
    "area_scope": {"starts_with": "text", "area": "text"},
    "regrant": {"recipient_type_contains": "text", "regrant_type": "regrant", "why": "text"},
}  # fmt: skip


class DemoDataError(Exception):
    """A demo data file is wrong: the message names the file, the row and the value."""


@dataclass(frozen=True)
class RecipientRule:
    """A ``[[recipient]]`` of decisions.toml."""

    match: str  # is, starts_with, contains
    text: str
    org_id: str | None
    organisation: str | None
    collective: tuple[str, str] | None  # (name, organisation type)

    def matches(self, name: str) -> bool:
        if self.match == "is":
            return name == self.text
        return name.startswith(self.text) if self.match == "starts_with" else self.text in name


@dataclass(frozen=True)
class ProgrammeRule:
    """A ``[[programme]]`` of decisions.toml; its words are compared normalised (``norm``)."""

    match: str  # contains, starts_with
    words: str
    unless: str | None
    programme: str

    def matches(self, words: str) -> bool:
        if self.unless is not None and self.unless in words:
            return False
        return words.startswith(self.words) if self.match == "starts_with" else self.words in words


@dataclass(frozen=True)
class DecisionRules:
    """decisions.toml: how the MOPAC decisions are read."""

    funder: str
    recipients: tuple[RecipientRule, ...]
    council_words: tuple[str, ...]
    collective_words: tuple[str, ...]
    organisation_types: tuple[tuple[str, tuple[str, ...]], ...]
    programmes: tuple[ProgrammeRule, ...]
    borough_programme_words: str
    borough_programme_any_of: tuple[str, ...]
    #: decision record_id → (the record_id of the budget its money is part of, why)
    part_of: dict[str, tuple[str, str]]
    #: (the beginning of an area_scope, casefolded; the area code a decision naming no
    #: borough is given), tried in order
    area_scopes: tuple[tuple[str, str], ...] = ()
    #: (words of a recipient_type, casefolded; the Regrant Type its decisions carry; why),
    #: tried in order: an award made to its recipient to pay on as grants
    regrants: tuple[tuple[str, str, str], ...] = ()

    def regrant_of(self, recipient_type: str) -> tuple[str, str] | None:
        """(Regrant Type, why) of a decision whose recipient_type says the money is paid on
        as grants, else None."""
        text = recipient_type.casefold()
        return next(((code, why) for words, code, why in self.regrants if words in text), None)

    def area_of(self, scope: str) -> str | None:
        """The area a decision naming no borough is for, by its area_scope text (None: no
        area, so its money is unplaced rather than spread over every borough)."""
        text = scope.strip().casefold()
        return next((area for start, area in self.area_scopes if text.startswith(start)), None)


@dataclass(frozen=True)
class DemoData:
    """Every demo data file, checked. Rows are namespaces of their columns plus ``where``
    (file and row, for messages)."""

    organisations: dict[str, OrganisationRecord]
    councils: dict[str, Any]  # councils.csv rows by borough_code
    services: list[Any]  # services.toml
    borough_services: list[Any]
    grants: list[Any]
    contacts: list[Any]
    outcomes: list[Any]
    decisions: DecisionRules

    def organisation(self, ref: str) -> OrganisationRecord:
        """A fresh copy of organisations.csv's record (batches never share records)."""
        return copy.deepcopy(self.organisations[ref])


def norm(text: str) -> str:
    """Text as decisions.toml's rules compare it: lower case, "&" as "and", punctuation as
    spaces."""
    text = text.casefold().replace("&", " and ")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def load_demo_data(folder: Path = DATA) -> DemoData:
    """Read and check every demo data file in ``folder`` (the package's ``data/``)."""
    folder = Path(folder)
    rows = _read(folder, "organisations.csv")
    _unique(rows, "ref")
    organisations = {
        row.ref: OrganisationRecord(row.ref, row.name, row.type, website=row.website,
                                    description=row.description)
        for row in rows
    }  # fmt: skip
    councils = _read(folder, "councils.csv")
    services = _read(folder, "services.toml")
    borough_services = _read(folder, "borough_services.csv")
    grants = _read(folder, "grants.csv")
    outcomes = _read(folder, "outcomes.csv")
    _unique(councils, "borough_code")
    service_refs = _unique(services + borough_services, "ref")
    grant_refs = _unique(grants, "ref")
    for row in services:
        _refers(row, "organisation", organisations, "organisations.csv")
    for row in grants:
        _refers(row, "funder", organisations, "organisations.csv")
        _refers(row, "recipient", organisations, "organisations.csv")
        for ref in row.services:
            _refers(row, "services", service_refs, "services.toml or borough_services.csv", ref)
        if row.parent is not None:
            _refers(row, "parent", grant_refs, "grants.csv")
    for row in outcomes:
        _refers(row, "service", service_refs, "services.toml or borough_services.csv")
    return DemoData(
        organisations=organisations,
        councils={row.borough_code: row for row in councils},
        services=services,
        borough_services=borough_services,
        grants=grants,
        contacts=_read(folder, "contacts.csv"),
        outcomes=outcomes,
        decisions=_decisions(folder, organisations),
    )


def _decisions(folder: Path, organisations: dict[str, OrganisationRecord]) -> DecisionRules:
    (data,) = _read(folder, "decisions.toml")
    _refers(data, "funder", organisations, "organisations.csv")
    recipients = []
    for row in _entries(data.recipient, "recipient", f"{data.where}, recipient"):
        match = _one_of(row, "is", "starts_with", "contains")
        give = _one_of(row, "org_id", "organisation", "collective")
        if give == "organisation":
            _refers(row, "organisation", organisations, "organisations.csv")
        recipients.append(
            RecipientRule(match, getattr(row, match), row.org_id, row.organisation, row.collective)
        )
    programmes = []
    for row in _entries(data.programme, "programme", f"{data.where}, programme"):
        match = _one_of(row, "contains", "starts_with")
        unless = norm(row.unless) if row.unless else None
        programmes.append(ProgrammeRule(match, norm(getattr(row, match)), unless, row.programme))

    def table(key: str) -> Any:
        return _entries([getattr(data, key)], key, f"{data.where}, [{key}]", numbered=False)[0]

    others, borough = table("other_recipients"), table("borough_programmes")
    types = SimpleNamespace(where=f"{data.where}, [organisation_types]")
    organisation_types = tuple(
        (_value(types, "type", "org_type", org_type), _value(types, org_type, "words", words))
        for org_type, words in data.organisation_types.items()
    )
    return DecisionRules(
        funder=data.funder,
        recipients=tuple(recipients),
        council_words=others.council_words,
        collective_words=others.collective_words,
        organisation_types=organisation_types,
        programmes=tuple(programmes),
        borough_programme_words=norm(borough.words),
        borough_programme_any_of=borough.any_of,
        part_of={
            row.decision: (row.budget, row.why)
            for row in _entries(data.part_of, "part_of", f"{data.where}, part_of")
        },
        area_scopes=tuple(
            (row.starts_with.strip().casefold(), row.area.strip())
            for row in _entries(data.area_scope, "area_scope", f"{data.where}, area_scope")
        ),
        regrants=tuple(
            (row.recipient_type_contains.strip().casefold(), row.regrant_type, row.why)
            for row in _entries(data.regrant, "regrant", f"{data.where}, regrant")
        ),
    )


# -- reading rows ---------------------------------------------------------------------------------
def _read(folder: Path, name: str) -> list[Any]:
    """The rows of a CSV file, the ``[[service]]`` entries of services.toml, or
    decisions.toml as one row, checked against ``SCHEMAS[name]``."""
    path = folder / name
    schema = SCHEMAS[name]
    try:
        if name.endswith(".toml"):
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            if name == "decisions.toml":
                return _entries([data], name, str(path), numbered=False)
            _check_keys(str(path), set(data), set(), ["service"])
            return _entries(data.get("service", []), name, f"{path}, service")
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            _check_keys(
                str(path), set(reader.fieldnames or ()), set(schema), list(schema), "column"
            )
            rows = []
            for number, raw in enumerate(reader, start=2):  # the header is row 1
                if None in raw:
                    raise DemoDataError(f"{path} row {number}: more values than columns.")
                rows.append(_row(f"{path} row {number}", raw, schema))
            return rows
    except OSError as error:
        raise DemoDataError(f"{path}: cannot be read ({error.strerror}).") from None
    except tomllib.TOMLDecodeError as error:
        raise DemoDataError(f"{path}: not valid TOML ({error}).") from None


def _entries(entries: Any, name: str, where: str, numbered: bool = True) -> list[Any]:
    """TOML tables (``[[entries]]``, numbered from 1) checked against ``SCHEMAS[name]``."""
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise DemoDataError(f"{where}: must be tables.")
    schema = SCHEMAS[name]
    required = {key for key, kind in schema.items() if not kind.endswith("?")}
    rows = []
    for number, entry in enumerate(entries, start=1):
        here = f"{where} {number}" if numbered else where
        _check_keys(here, set(entry), required, list(schema))
        rows.append(_row(here, entry, schema))
    return rows


def _check_keys(
    where: str, given: set[str], required: set[str], allowed: list[str], what: str = "key"
) -> None:
    missing, unknown = sorted(required - given), sorted(given - set(allowed))
    if missing or unknown:
        raise DemoDataError(
            f"{where}: "
            + "; ".join(
                f"{problem} {', '.join(map(repr, names))}"
                for problem, names in ((f"no {what}", missing), (f"unknown {what}", unknown))
                if names
            )
            + f" (the {what}s are {', '.join(allowed)})."
        )


def _row(where: str, raw: dict[str, Any], schema: dict[str, str]) -> Any:
    row = SimpleNamespace(where=where)
    if "ref" in schema:  # named in every message about the row
        row.where = f"{where} ({_value(row, 'ref', schema['ref'], raw.get('ref'))})"
    for column, kind in schema.items():
        setattr(row, column, _value(row, column, kind, raw.get(column)))
    return row


def _value(row: Any, column: str, kind: str, value: Any) -> Any:
    """``value`` read as ``kind`` (see SCHEMAS); blank is None (an empty tuple for lists)
    when the kind ends with "?", else an error."""
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if optional:
            return () if kind == "list" else None
        raise DemoDataError(f"{row.where}: {column} is blank.")
    try:
        return _KINDS[kind](value)
    except (ValueError, TypeError, InvalidOperation) as error:
        hint = f" ({error})" if isinstance(error, _Invalid) else ""
        raise DemoDataError(
            f"{row.where}: {column} {value!r} is not {_NAMES[kind]}{hint}."
        ) from None


class _Invalid(ValueError):
    """A value of the right type but not one we know: the message says which are known."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, int) or (str(value).isascii() and str(value).isdigit())
    ):
        raise TypeError(value)
    return int(value)


def _choice(choices: Iterable[str]) -> Callable[[Any], str]:
    def read(value: Any) -> str:
        if value not in choices:
            raise _Invalid(f"one of {', '.join(choices)}")
        return str(value)

    return read


def _themes(value: Any) -> str:
    keys = {key for entry in theme_taxonomy() for key in entry.keys}
    unknown = [item for item in split_list(_text(value)) if loose_key(item) not in keys]
    if unknown:
        raise _Invalid(
            f"{', '.join(map(repr, unknown))}: not an id, name or alias in directory/data/themes.csv"
        )
    return str(value)


def _programme(value: Any) -> str:
    if loose_key(_text(value)) not in {key for p in known_programmes() for key in p.keys}:
        raise _Invalid("not an id, name or alias in directory/data/programmes.csv")
    return str(value)


def _words(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise TypeError(value)
    return tuple(value)


def _table(kinds: dict[str, str]) -> Callable[[Any], dict[str, Any]]:
    """An inline table with exactly these keys, of these kinds."""

    def read(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or set(value) != set(kinds):
            raise TypeError(value)
        return {key: _KINDS[kind](value[key]) for key, kind in kinds.items()}

    return read


_KINDS: dict[str, Callable[[Any], Any]] = {
    "text": _text,
    "int": _int,
    "number": lambda v: Decimal(_text(v)),
    "date": lambda v: date.fromisoformat(_text(v)),
    "list": lambda v: tuple(split_list(_text(v))),
    "words": _words,
    "weeks": lambda v: None if str(v).casefold() == "stale" else _int(v),
    "fy": lambda v: parse_financial_year(_text(v)),
    "org_type": _choice(ORGANISATION_TYPES),
    "regrant": _choice(REGRANT_TYPES),
    "themes": _themes,
    "programme": _programme,
    "site": lambda v: SimpleNamespace(**_table({"ref": "text", "borough": "text", "outcode": "text"})(v)),
    "collective": lambda v: tuple(_table({"name": "text", "type": "org_type"})(v).values()),
    "table": lambda v: v,
}  # fmt: skip
_NAMES = {
    "text": "text", "int": "a whole number", "number": "a number", "date": "a date (YYYY-MM-DD)",
    "list": "a list", "words": 'a list of words (["…", "…"])', "fy": "a financial year (like 2023/24)",
    "weeks": 'a whole number or "stale"', "org_type": "an organisation type",
    "regrant": "a regrant type", "themes": "a list of themes", "programme": "a known programme",
    "site": "a site { ref, borough, outcode }", "collective": "a collective { name, type }",
    "table": "a table",
}  # fmt: skip


# -- cross-checks ---------------------------------------------------------------------------------
def _unique(rows: list[Any], column: str) -> set[str]:
    seen: dict[str, str] = {}
    for row in rows:
        value = getattr(row, column)
        if value in seen:
            raise DemoDataError(
                f"{row.where}: {column} {value!r} is given twice (also {seen[value]})."
            )
        seen[value] = row.where
    return set(seen)


def _refers(row: Any, column: str, known: Iterable[str], file: str, value: Any = None) -> None:
    value = getattr(row, column) if value is None else value
    if value not in known:
        raise DemoDataError(f"{row.where}: {column} {value!r} is not in {file}.")


def _one_of(row: Any, *columns: str) -> str:
    given = [c for c in columns if getattr(row, c) is not None]
    if len(given) != 1:
        raise DemoDataError(f"{row.where}: give exactly one of {', '.join(columns)}.")
    return given[0]
