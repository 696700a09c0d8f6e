"""The directory's own spreadsheet template: forgiving reading of what officers type, one
clear problem per bad cell (with its row and column), and a lossless round trip."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook

from directory.ingest.opportunity_sheet import COLUMNS as OPPORTUNITY_COLUMNS
from directory.ingest.opportunity_sheet import HEADINGS as OPPORTUNITY_HEADINGS
from directory.ingest.readers import (
    ReadError,
    Sheet,
    Table,
    normalise_header,
    read_sheet,
    read_table,
    write_table,
)
from directory.ingest.records import Batch, GrantRecord, LocationRecord, Problem, Spool
from directory.ingest.template import (
    COLUMNS,
    MOPAC_NAME,
    MOPAC_REF,
    columns_markdown,
    read_template,
    rows_from_batch,
    template_sheet,
    write_template,
)
from tests.directory.ingest.fakes import HoldsNothing

KINGSTON, RICHMOND, LONDON, CENTRAL_WEST = "E09000021", "E09000027", "E12000007", "bcu-cw"
HEADINGS = [c.heading for c in COLUMNS]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.casefold().replace("&", " and ")).split())


class FakeContext(HoldsNothing):
    """Enough of ``records.Context`` for the template: two boroughs, London, one BCU, a few
    themes and postcodes. Codes and ids are accepted as well as names (as the real one
    does), which the round trip needs."""

    AREAS = {
        "kingston": KINGSTON,
        "rb kingston upon thames": KINGSTON,
        "royal borough of kingston upon thames": KINGSTON,
        "richmond": RICHMOND,
        "richmond upon thames": RICHMOND,
        "pan london": LONDON,
        "london wide": LONDON,
        "central west bcu": CENTRAL_WEST,
    }
    THEMES = {
        "knife crime": "violence-knife-crime",
        "violence knife crime": "violence-knife-crime",
        "vawg": "vawg",
        "domestic abuse": "domestic-abuse",
        "gangs": "gangs-exploitation",
        "gangs exploitation": "gangs-exploitation",
    }
    PROGRAMMES = {
        "lcpf": "lcpf-direct",
        "lcpf direct": "lcpf-direct",
        "lcpf cc": "lcpf-cc",
        "lcpf co commissioning": "lcpf-cc",
        "vru": "vru",
    }
    POSTCODES = {"KT11EU": (51.4101, -0.3007), "TW91DN": (51.4613, -0.3037)}

    def areas(self, text: str) -> list[str]:
        found: list[str] = []
        for item in re.split(r"[;,|\n]+", text):
            if not item.strip():
                continue
            code = self.area_code(item) or self.AREAS.get(_key(item))
            if code is None:
                raise ValueError(f"'{item.strip()}' is not a London area we know.")
            if code not in found:
                found.append(code)
        if not found:
            raise ValueError("No area given.")
        return found

    def area_code(self, code: str) -> str | None:
        text = code.strip()
        return text if text in (KINGSTON, RICHMOND, LONDON, CENTRAL_WEST) else None

    def themes(self, text: str) -> list[str]:
        found: list[str] = []
        for item in re.split(r"[;,|\n]+", text):
            theme = self.THEMES.get(_key(item))
            if theme is None:
                raise ValueError(f"'{item.strip()}' is not a theme of the directory.")
            found.append(theme)
        return found

    def programme(self, text: str) -> str:
        return self.PROGRAMMES.get(_key(text)) or "-".join(_key(text).split())

    def read_postcodes(self, texts: Iterable[str]) -> None:
        """Nothing to read ahead: the postcodes are in memory."""
        list(texts)

    def postcode(self, text: str) -> LocationRecord:
        key = "".join(text.split()).upper()
        if key not in self.POSTCODES:
            raise ValueError(f"'{text}' is not a London postcode we know.")
        lat, lon = self.POSTCODES[key]
        return LocationRecord(ref="", postcode=key, lat=lat, lon=lon)


CTX = FakeContext()

BASE = {
    "Service ref": "SL-RESCUE-01",
    "Service name": "Rescue and Response",
    "Organisation name": "St Giles Trust",
    "Coverage": "Kingston",
}


def csv_bytes(rows: list[dict[str, Any]], *, encoding: str = "utf-8", headings=None) -> bytes:
    headings = headings or list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headings)
    for row in rows:
        writer.writerow(["" if row.get(h) is None else row.get(h) for h in headings])
    return out.getvalue().encode(encoding)


@pytest.fixture(autouse=True, params=["table", "sheet"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here reads its sheets both ways: whole (a Table, whose services the batch
    keeps) and as an import reads them (a Sheet, whose rows are read again for the
    services): the batches must be the same."""
    monkeypatch.setattr(_READING, "way", request.param)
    return str(request.param)


class _READING:
    way = "table"


def load(source: Path | bytes, *, format: str | None = None) -> Table | Sheet:
    """The file as the test's way of reading has it (:func:`reading`)."""
    if _READING.way == "table":
        return read_table(source, format=format, keep_errors=True)
    if isinstance(source, Path):
        return read_sheet(source.read_bytes(), format=format, name=source.name, keep_errors=True)
    return read_sheet(source, format=format, keep_errors=True)


def template(table: Table | Sheet) -> Batch:
    """``read_template`` of the table, its services and grants lists (a Sheet's read back
    from their spools, as the import does)."""
    batch = read_template(table, CTX)
    if isinstance(table, Sheet):
        for name in ("services", "grants"):
            spooled = getattr(batch, name)
            if spooled:
                assert isinstance(spooled, Spool)
                first = list(spooled)
                assert list(spooled) == first  # and again, the same
                setattr(batch, name, first)
    return batch


def sheet(*rows: dict[str, Any], headings: list[str] | None = None) -> Table | Sheet:
    return load(csv_bytes(list(rows), headings=headings), format="csv")


def read(*rows: dict[str, Any], headings: list[str] | None = None) -> Batch:
    return template(sheet(*rows, headings=headings))


def errors(batch: Batch) -> list[Problem]:
    return batch.errors


def warnings_of(batch: Batch) -> list[Problem]:
    return [p for p in batch.problems if p.severity == "warning"]


def where(batch: Batch) -> set[tuple[int | None, str | None]]:
    return {(p.row, p.column) for p in batch.errors}


def only_error(batch: Batch) -> Problem:
    assert len(batch.errors) == 1, batch.problems
    return batch.errors[0]


# -- the column spec ---------------------------------------------------------------------------


def test_column_keys_are_the_normalised_headings_and_no_two_columns_share_a_key():
    assert [c.key for c in COLUMNS] == [normalise_header(c.heading) for c in COLUMNS]
    every = [k for c in COLUMNS for k in (c.key, *c.aliases)]
    assert len(every) == len(set(every))
    assert all(c.meaning and c.example for c in COLUMNS)
    assert [c.heading for c in COLUMNS if c.required] == [
        "Service ref",
        "Service name",
        "Organisation name",
        "Coverage",
    ]


def test_columns_markdown_is_a_table_of_every_column():
    text = columns_markdown()
    lines = text.strip().splitlines()
    assert lines[0] == "| Column | Required | Meaning | Example |"
    assert len(lines) == 2 + len(COLUMNS)
    assert lines[2].startswith("| Service ref | yes | ")
    assert "`SL-RESCUE-01`" in lines[2]
    for column, line in zip(COLUMNS, lines[2:], strict=True):
        assert line.startswith(f"| {column.heading} |")
        assert line.count(" | ") == 3  # no stray pipes inside a cell


# -- blank template --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_blank_template_has_exactly_the_headings(tmp_path: Path, fmt: str):
    path = tmp_path / f"template.{fmt}"
    write_template(path, format=fmt)
    table = read_table(path)
    assert table.columns == HEADINGS
    assert table.rows == []
    batch = read_template(table, CTX)
    assert batch.errors == []
    assert [p.message for p in batch.problems] == [
        "The sheet has no rows: there is nothing to import."
    ]


def test_blank_xlsx_explains_every_column_in_a_columns_sheet(tmp_path: Path):
    path = tmp_path / "template.xlsx"
    write_template(path, format="xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Services", "Opportunities", "Columns"]
    notes = list(book["Columns"].iter_rows(values_only=True))
    assert notes[0] == ("Heading", "Meaning")
    services, rest = notes[1 : 1 + len(COLUMNS)], notes[1 + len(COLUMNS) :]
    assert [n[0] for n in services] == HEADINGS
    # then the Opportunities sheet's columns, under a line naming the sheet
    assert rest[0] == (None, None) and rest[1][0] == "Opportunities sheet"
    assert [n[0] for n in rest[2:]] == list(OPPORTUNITY_HEADINGS)
    for column, (_, meaning) in [
        *zip(COLUMNS, services, strict=True),
        *zip(OPPORTUNITY_COLUMNS, rest[2:], strict=True),
    ]:
        assert column.meaning in meaning
        assert meaning.endswith(f"Example: {column.example}")
        assert meaning.startswith("Required. ") == column.required


def test_the_readme_lists_every_column_of_both_sheets():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert columns_markdown() in readme
    assert columns_markdown(OPPORTUNITY_COLUMNS) in readme


# -- messy input ---------------------------------------------------------------------------------

MESSY = {
    "SERVICE REF ": "SL-RESCUE-01",
    "Service Name": "Rescue and Response – Kingston",
    "Status": "Active",
    "Themes": "knife crime; Gangs",
    "Provider": "Café Project",
    "Org type": "Charity",
    "Areas served": "RB Kingston upon Thames; Richmond",
    "Postcode": "kt1 1eu",
    "Ages": "11-25",
    "Funder": "MOPAC",
    "Programme": "LCPF",
    "Amount (£)": "£45k",
    "Award date": "44287",
    "Start date": "01/04/2021",
    "End date": "31/03/2022",
    "FY": "2021-22",
    "Demo": "no",
}


def check_messy(batch: Batch) -> None:
    assert batch.problems == []
    [service] = batch.services
    assert service.ref == "SL-RESCUE-01"
    assert service.name == "Rescue and Response – Kingston"
    assert service.status == "active"
    assert service.themes == ["violence-knife-crime", "gangs-exploitation"]
    assert service.organisation_ref == "org:cafe-project"
    assert service.coverage == [KINGSTON, RICHMOND]
    assert (service.min_age, service.max_age) == (11, 25)
    [site] = service.locations
    assert site == LocationRecord(
        ref="SL-RESCUE-01#site", postcode="KT11EU", lat=51.4101, lon=-0.3007
    )
    [grant] = batch.grants
    assert grant.ref == "SL-RESCUE-01#grant"
    assert grant.funder_ref == MOPAC_REF
    assert grant.recipient_ref == "org:cafe-project"
    assert grant.programme == "lcpf-direct"
    assert grant.amount == Decimal("45000")
    assert grant.awarded == date(2021, 4, 1)  # Excel serial 44287
    assert (grant.start, grant.end) == (date(2021, 4, 1), date(2022, 3, 31))
    assert grant.duration_months == 12
    assert grant.financial_year == "2021/22"
    assert grant.areas == [KINGSTON, RICHMOND]  # the coverage
    assert grant.service_refs == ["SL-RESCUE-01"]
    assert [(o.ref, o.name, o.type) for o in batch.organisations] == [
        ("org:cafe-project", "Café Project", "voluntary"),
        (MOPAC_REF, MOPAC_NAME, None),
    ]


def test_cp1252_csv_with_other_headings_and_messy_values(tmp_path: Path):
    path = tmp_path / "from-excel.csv"
    path.write_bytes(csv_bytes([MESSY], encoding="cp1252"))
    assert b"\xa345k" in path.read_bytes()  # a real Windows-1252 pound sign
    check_messy(template(load(path)))


def test_utf8_csv_with_a_byte_order_mark(tmp_path: Path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_bytes([MESSY]))
    check_messy(template(load(path)))


def test_xlsx_with_typed_cells(tmp_path: Path):
    path = tmp_path / "typed.xlsx"
    row = {
        **BASE,
        "Charity number": 1123456,
        "Company number": 4312517,  # Excel dropped the leading zero
        "Phone": 2079460000,  # and here too
        "Min age": 11.0,
        "Max age": 25,
        "Last verified": datetime(2024, 3, 31),
        "Funder": "Mayor's Office for Policing and Crime",
        "Amount": 45000.5,
        "Start date": date(2021, 4, 1),
        "End date": datetime(2023, 3, 31),
        "Duration (months)": 24.0,
        "Demo": "Y",
    }
    write_table(path, list(row), [list(row.values())], format="xlsx")
    batch = template(load(path))
    assert batch.problems == []
    [service] = batch.services
    assert (service.min_age, service.max_age) == (11, 25)
    assert service.phone == "02079460000"
    assert service.last_verified == date(2024, 3, 31)
    assert service.demo is True
    org = batch.organisations[0]
    assert (org.charity_number, org.company_number, org.demo) == ("1123456", "04312517", True)
    [grant] = batch.grants
    assert grant.amount == Decimal("45000.50")
    assert (grant.start, grant.end, grant.duration_months) == (
        date(2021, 4, 1),
        date(2023, 3, 31),
        24,
    )
    assert grant.funder_ref == MOPAC_REF and grant.demo is True
    assert batch.organisations[1].demo is True  # MOPAC is named only by demo rows here


TITLE = "MOPAC funded services – Q3 2026 return"


def _titled(path: Path, rows: list[list[Any]]) -> bytes:
    """A sheet with a title in row 1, a blank row 2, the headings in row 3 and ``rows``
    below them (CSV, or the second sheet of a workbook, by ``path``'s suffix)."""
    lines: list[list[Any]] = [[TITLE], [], list(BASE), *rows]
    if path.suffix == ".csv":
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows(lines)
        path.write_bytes(out.getvalue().encode("utf-8"))
    else:  # after a sheet of notes, as workbooks sent in have
        workbook = Workbook()
        workbook.active.title = "Read me"
        workbook.active.append(["How to fill in the Services sheet"])
        services = workbook.create_sheet("Services")
        for line in lines:
            services.append(line)
        workbook.save(path)
    return path.read_bytes()


@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_a_title_above_the_headings_is_passed_over(tmp_path: Path, suffix: str):
    """A title row (and a blank one) above the headings: the headings are found among the
    sheet's first rows, the rows keep their numbers in the sheet, and a warning says which
    row was taken as the headings (the title was taken for them: "The sheet has no
    'Service ref' column", on every column)."""
    path = tmp_path / f"titled.{suffix}"
    rows = [list(BASE.values()), ["SL-2", "Second", "St Giles Trust", "Atlantis"]]
    data = _titled(path, rows)
    batch = template(template_sheet(data, path.name))
    assert [(p.row, p.column) for p in batch.errors] == [(5, "Coverage")]
    assert [s.ref for s in batch.services] == ["SL-RESCUE-01", "SL-2"]
    (note,) = [p for p in batch.problems if p.severity == "warning"]
    assert note.row == 3
    assert "row 3" in note.message and TITLE in note.message
    # the format's detection finds it too, as the import reads it
    from directory.ingest.run import _sniff, read_source

    fmt, table = _sniff(data, path.name)
    batch = read_source(data, path.name, fmt, CTX, table=table)  # type: ignore[arg-type]
    assert fmt == "template" and [(p.row, p.column) for p in batch.errors] == [(5, "Coverage")]


def _exported(path: Path, formula_under: str) -> None:
    """A workbook as openpyxl (and exporters that do not calculate) write one: the template's
    columns and a "Notes" column, a formula with no saved result under ``formula_under``."""
    row = {**BASE, "Notes": "checked"} | {formula_under: '="Rescue "&"and Response"'}
    workbook = Workbook()
    workbook.active.append(list(row))
    workbook.active.append(list(row.values()))
    workbook.save(path)


def test_a_formula_without_its_result_in_a_column_the_template_ignores_is_not_refused(
    tmp_path: Path,
):
    """An officer's own column ("Notes") is ignored, with a warning: its formulas, saved
    without their results, do not stop the import. Under a column the template reads the
    same formula refuses the sheet (its value would be imported as blank)."""
    path = tmp_path / "exported.xlsx"
    _exported(path, "Notes")
    batch = template(template_sheet(path.read_bytes(), path.name))
    assert errors(batch) == []
    assert [s.name for s in batch.services] == ["Rescue and Response"]
    assert any("'Notes' is not one of the template's columns" in p.message for p in batch.problems)
    _exported(path, "Service name")
    with pytest.raises(ReadError, match=r"in column 'Service name' \(cell B2\)"):
        template_sheet(path.read_bytes(), path.name)
    # read without the template's say, every headed column counts
    _exported(path, "Notes")
    with pytest.raises(ReadError, match=r"in column 'Notes' \(cell E2\)"):
        read_sheet(path.read_bytes(), name=path.name)


def test_blank_rows_are_skipped_and_row_numbers_are_the_spreadsheets(tmp_path: Path):
    table = sheet(BASE, {}, {**BASE, "Service ref": "B", "Amount": "lots", "Funder": "MOPAC"})
    batch = template(table)
    assert len(batch.services) == 2
    assert where(batch) == {(4, "Amount")}


# -- defaults and what is worked out ---------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        (None, "active"),
        ("Active", "active"),
        ("INACTIVE", "inactive"),
        ("Closed", "defunct"),
        ("defunct", "defunct"),
        ("closed temporarily", "temporarily closed"),
        ("Temporarily-Closed", "temporarily closed"),
    ],
)
def test_status_words(typed: str | None, status: str):
    batch = read({**BASE, "Status": typed})
    assert batch.errors == []
    assert batch.services[0].status == status


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("voluntary", "voluntary"),
        ("Charity", "voluntary"),
        ("VCS", "voluntary"),
        ("community", "voluntary"),
        ("Local Authority", "council"),
        ("borough", "council"),
        ("NHS", "nhs"),
        ("Metropolitan Police", "police"),
        ("school", "education"),
        ("business", "business"),
        ("other", "other"),
    ],
)
def test_organisation_type_words(typed: str, kind: str):
    batch = read({**BASE, "Organisation type": typed})
    assert batch.errors == []
    assert batch.organisations[0].type == kind


def test_organisation_ref_is_given_or_made_from_the_name():
    batch = read(
        BASE,
        {**BASE, "Service ref": "B", "Organisation name": "st. giles  trust"},
        {
            **BASE,
            "Service ref": "C",
            "Organisation ref": "GB-CHC-1087304",
            "Organisation name": "Redthread",
        },
    )
    assert batch.errors == []
    assert [s.organisation_ref for s in batch.services] == [
        "org:st-giles-trust",
        "org:st-giles-trust",
        "GB-CHC-1087304",
    ]
    # one record per ref; the first spelling of a name is kept
    assert [(o.ref, o.name) for o in batch.organisations] == [
        ("org:st-giles-trust", "St Giles Trust"),
        ("GB-CHC-1087304", "Redthread"),
    ]


def test_organisation_details_are_merged_across_rows():
    batch = read(
        {**BASE, "Organisation type": "charity"},
        {**BASE, "Service ref": "B", "Charity number": "1087304", "Organisation type": "council"},
    )
    assert batch.errors == []
    [org] = batch.organisations
    assert (org.type, org.charity_number) == ("voluntary", "1087304")
    [warning] = warnings_of(batch)
    assert (warning.row, warning.column, warning.value) == (3, "Organisation type", "council")


@pytest.mark.parametrize(
    ("typed", "ref", "name"),
    [
        ("MOPAC", MOPAC_REF, MOPAC_NAME),
        ("mopac", MOPAC_REF, MOPAC_NAME),
        ("Mayor’s Office for Policing and Crime", MOPAC_REF, MOPAC_NAME),
        ("Mayor's Office for Policing & Crime (MOPAC)", MOPAC_REF, MOPAC_NAME),
        ("GB-GOR-PC390", MOPAC_REF, MOPAC_NAME),
        ("GB-CHC-1035628", "GB-CHC-1035628", "GB-CHC-1035628"),
        ("City Bridge Trust (GB-CHC-1035628)", "GB-CHC-1035628", "City Bridge Trust"),
        ("Kingston SNB", "org:kingston-snb", "Kingston SNB"),
    ],
)
def test_funder_by_name_or_org_id(typed: str, ref: str, name: str):
    batch = read({**BASE, "Funder": typed, "Amount": "1000"})
    assert batch.errors == []
    assert batch.grants[0].funder_ref == ref
    assert (batch.organisations[1].ref, batch.organisations[1].name) == (ref, name)


def test_funder_by_org_id_takes_the_name_from_another_row():
    batch = read(
        {**BASE, "Funder": "GB-CHC-1035628", "Amount": "1000"},
        {
            **BASE,
            "Service ref": "B",
            "Organisation ref": "GB-CHC-1035628",
            "Organisation name": "City Bridge Trust",
        },
    )
    assert batch.errors == []
    assert [(o.ref, o.name) for o in batch.organisations] == [
        ("org:st-giles-trust", "St Giles Trust"),
        ("GB-CHC-1035628", "City Bridge Trust"),
    ]


def test_funder_named_like_a_provider_in_the_sheet_is_that_provider():
    batch = read(
        {**BASE, "Organisation ref": "GB-CHC-1111111", "Organisation name": "Kingston SNB"},
        {**BASE, "Service ref": "B", "Funder": "kingston snb", "Amount": "5k"},
    )
    assert batch.errors == []
    assert batch.grants[0].funder_ref == "GB-CHC-1111111"
    assert [o.ref for o in batch.organisations] == ["GB-CHC-1111111", "org:st-giles-trust"]


def test_grant_ref_duration_and_areas_are_worked_out_when_blank():
    batch = read(
        {**BASE, "Funder": "MOPAC", "Start date": "2021-04-01", "End date": "2025-03-31"},
        {
            **BASE,
            "Service ref": "B",
            "Grant ref": "360G-MOPAC-1",
            "Funder": "MOPAC",
            "Start date": "2021-04-01",
            "End date": "2025-03-31",
            "Duration (months)": "47",  # (within a month of the dates': as given)
            "Beneficiary areas": "pan-London",
        },
    )
    assert batch.errors == []
    first, second = batch.grants
    assert (first.ref, first.duration_months, first.areas) == ("SL-RESCUE-01#grant", 48, [KINGSTON])
    assert (second.ref, second.duration_months, second.areas) == ("360G-MOPAC-1", 47, [LONDON])


def test_an_end_date_of_a_month_alone_is_its_last_day():
    """ "March 2027" as an End date was 1 March 2027: the grant was 11 months long and
    ending soon a month early. It is 31 March; a Start date's month is its 1st."""
    batch = read(
        {**BASE, "Funder": "MOPAC", "Start date": "April 2026", "End date": "March 2027"},
        {**BASE, "Service ref": "B", "Funder": "MOPAC", "End date": "Q1 2027"},
    )
    grant = batch.grants[0]
    assert (grant.start, grant.end, grant.duration_months) == (
        date(2026, 4, 1), date(2027, 3, 31), 12,
    )  # fmt: skip
    (error,) = batch.errors
    assert (error.row, error.column, error.value) == (3, "End date", "Q1 2027")
    assert "is a period, not a date: give the day it means, write it like" in error.message


def test_a_month_typed_into_a_date_cell_ends_on_its_last_day(tmp_path: Path):
    """Excel makes "Mar-27" or "March 2027" typed into a cell a date, 1 March 2027, shown
    as a month (number format ``mmm-yy``, ``mmmm yyyy``): as an End date it was read as the
    1st, as the text was once. It is the month's last day; a Start date of one is its 1st;
    a date cell showing its day is that day; and a duration the months contradict says the
    month as the cell shows it."""
    path = tmp_path / "months.xlsx"
    headings = [*BASE, "Funder", "Start date", "End date", "Duration (months)"]
    rows = [
        ["A", "mmm-yy", "mmmm yyyy", None],
        ["B", "dd/mm/yyyy", "[$-809]mmm yy;@", None],
        ["C", "yyyy-mm-dd", "dd mmmm yyyy", None],
        ["D", "mmm-yy", "mmm-yy", 6],
    ]
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(headings)
    for ref, start_format, end_format, months in rows:
        sheet.append([*{**BASE, "Service ref": ref}.values(), "MOPAC", datetime(2026, 4, 1),
                      datetime(2027, 3, 1), months])  # fmt: skip
        sheet.cell(sheet.max_row, len(headings) - 2).number_format = start_format
        sheet.cell(sheet.max_row, len(headings) - 1).number_format = end_format
    workbook.save(path)
    batch = template(load(path))
    grants = {g.service_refs[0]: g for g in batch.grants}
    assert {ref: (g.start, g.end) for ref, g in grants.items()} == {
        "A": (date(2026, 4, 1), date(2027, 3, 31)),
        "B": (date(2026, 4, 1), date(2027, 3, 31)),
        "C": (date(2026, 4, 1), date(2027, 3, 1)),
        "D": (date(2026, 4, 1), date(2027, 3, 31)),
    }
    (error,) = batch.errors
    assert (error.row, error.column) == (5, "Duration (months)")
    assert "Start and End dates (2026-04-01 to 2027-03-31) are 12 months apart" in error.message


@pytest.mark.parametrize(
    ("duration", "start", "end", "says"),
    [
        ("36", "2024-04-01", "2025-03-31", "Duration (months) is 36, but the Start and End "
         "dates (2024-04-01 to 2025-03-31) are 12 months apart"),
        ("10", "2024-04-01", "2025-03-31", "are 12 months apart"),
        ("0", "2024-04-01", "2025-03-31", "0 is not a number of months"),
        ("0", None, None, "0 is not a number of months"),
        ("-3", None, None, "-3 is not a number of months"),
    ],
    ids=["longer", "shorter", "zero", "zero-alone", "negative"],
)  # fmt: skip
def test_a_duration_the_dates_contradict_or_of_no_months_is_refused(
    duration: str, start: str | None, end: str | None, says: str
) -> None:
    """Duration (months) is what counts a grant as running three years or more: 36 given
    for a year's dates made a one-year grant meet the target, and 0 was taken as given."""
    dates = {"Start date": start, "End date": end} if start else {}
    batch = read({**BASE, "Funder": "MOPAC", "Duration (months)": duration, **dates})
    (error,) = batch.errors
    assert (error.row, error.column, error.value) == (2, "Duration (months)", duration)
    assert says in error.message
    assert len(batch.organisations) == 2  # St Giles once, MOPAC once


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-04-01", None, "The Start date (01/04/2026) falls outside the financial year "
         "2025/26 given (1 April 2025 to 31 March 2026): check the Financial year, or the dates."),
        ("2024-04-01", "2025-03-31", "The Start and End dates (01/04/2024 to 31/03/2025) fall "
         "outside the financial year 2025/26"),
        ("2025-04-01", None, None),
        ("2026-03-31", "2027-03-31", None),
        ("2024-04-01", "2027-03-31", None),  # (several years, running through it)
    ],
)  # fmt: skip
def test_a_financial_year_the_grant_s_dates_do_not_reach_is_warned_of(
    start: str, end: str | None, says: str | None
) -> None:
    """A Financial year of 2025/26 on a grant starting 2026-04-01 was taken without a
    word (and its money counted in a year it was not spent in): a warning names the row,
    the column and what to check; dates that reach into the year are not warned of."""
    dates = {"Start date": start, **({"End date": end} if end else {})}
    batch = read({**BASE, "Funder": "MOPAC", "Financial year": "2025/26", **dates})
    assert batch.errors == []
    warned = [p for p in warnings_of(batch) if p.column == "Financial year"]
    if says is None:
        assert warned == []
    else:
        (warning,) = warned
        assert (warning.row, warning.value) == (2, "2025/26")
        assert warning.message.startswith(says)


def test_one_grant_funding_several_services():
    grant = {"Grant ref": "G-1", "Funder": "MOPAC", "Amount": "£100,000"}
    batch = read(
        {**BASE, **grant},
        {
            **BASE,
            "Service ref": "B",
            "Coverage": "Richmond",
            "Grant ref": "G-1",
            "Funder": "MOPAC",
        },  # blank amount: the first row's stands
    )
    assert batch.errors == []
    [g] = batch.grants
    assert g.service_refs == ["SL-RESCUE-01", "B"]
    assert g.amount == Decimal("100000")
    assert g.areas == [KINGSTON, RICHMOND]


def test_a_grant_s_given_areas_stay_as_given_when_its_later_rows_leave_them_blank():
    grant = {"Grant ref": "G-1", "Funder": "MOPAC"}
    batch = read(
        {**BASE, **grant, "Beneficiary areas": "Kingston"},
        {**BASE, **grant, "Service ref": "B", "Coverage": "Richmond"},
        {**BASE, **grant, "Service ref": "C", "Coverage": "pan-London"},
    )
    assert batch.errors == []
    [g] = batch.grants
    assert g.areas == [KINGSTON] and g.service_refs == ["SL-RESCUE-01", "B", "C"]
    # given on a later row instead: the row that gives them names them
    batch = read(
        {**BASE, **grant},
        {
            **BASE,
            **grant,
            "Service ref": "B",
            "Coverage": "Richmond",
            "Beneficiary areas": "Richmond",
        },
        {**BASE, **grant, "Service ref": "C", "Coverage": "pan-London"},
    )
    assert batch.errors == [] and batch.grants[0].areas == [RICHMOND]


def test_one_grant_with_different_amounts_is_an_error():
    batch = read(
        {**BASE, "Grant ref": "G-1", "Funder": "MOPAC", "Amount": "£100,000"},
        {**BASE, "Service ref": "B", "Grant ref": "G-1", "Funder": "MOPAC", "Amount": "90k"},
    )
    problem = only_error(batch)
    assert (problem.row, problem.column) == (3, "Amount")
    assert "row 2" in problem.message


def test_paid_through_a_grant_ref_or_the_intermediarys_grant():
    snb = {
        "Service ref": "KSNB-01",
        "Service name": "Kingston SNB co-commissioning",
        "Organisation name": "Kingston SNB",
        "Coverage": "Kingston",
        "Grant ref": "360G-MOPAC-LCPF-7",
        "Funder": "MOPAC",
        "Amount": "£200k",
    }
    batch = read(
        snb,
        {**BASE, "Funder": "Kingston SNB", "Amount": "£20k", "Paid through": "Kingston SNB"},
        {**BASE, "Service ref": "B", "Funder": "Kingston SNB", "Paid through": "360g-mopac-lcpf-7"},
        {**BASE, "Service ref": "C", "Funder": "MOPAC", "Paid through": "360G-OLDER-GRANT"},
    )
    assert batch.errors == []
    assert [(g.ref, g.parent_ref) for g in batch.grants] == [
        ("360G-MOPAC-LCPF-7", None),
        ("SL-RESCUE-01#grant", "360G-MOPAC-LCPF-7"),
        ("B#grant", "360G-MOPAC-LCPF-7"),
        ("C#grant", "360G-OLDER-GRANT"),  # in the directory already; the import checks it
    ]
    # Kingston SNB is one organisation: recipient of one grant, funder of two
    assert [o.ref for o in batch.organisations].count("org:kingston-snb") == 1


def test_paid_through_problems():
    batch = read(
        {**BASE, "Funder": "MOPAC", "Paid through": "Kingston SNB"},
        {**BASE, "Service ref": "B", "Funder": "MOPAC", "Paid through": "B#grant"},
        {**BASE, "Service ref": "C", "Funder": "MOPAC", "Paid through": "St Giles Trust"},
        {**BASE, "Service ref": "D", "Funder": "MOPAC"},
    )
    assert where(batch) == {(2, "Paid through"), (3, "Paid through"), (4, "Paid through")}
    by_row = {p.row: p.message for p in batch.errors}
    assert "neither a Grant ref nor an organisation" in by_row[2]
    assert "cannot be paid through itself" in by_row[3]
    assert "several grants" in by_row[4] and "D#grant" in by_row[4]


def test_a_site_postcode_without_coverage_is_enough():
    batch = read(
        {**BASE, "Coverage": None, "Site name": "Youth Centre", "Site postcode": "TW9 1DN"}
    )
    assert batch.errors == []
    [service] = batch.services
    assert service.coverage == []
    assert service.locations == [
        LocationRecord("SL-RESCUE-01#site", "Youth Centre", None, "TW91DN", 51.4613, -0.3037)
    ]


def test_a_site_without_a_postcode_is_kept():
    batch = read({**BASE, "Site address": "1 Market Place"})
    assert batch.errors == []
    assert batch.services[0].locations == [
        LocationRecord("SL-RESCUE-01#site", address="1 Market Place")
    ]


@pytest.mark.parametrize(
    ("cells", "ages"),
    [
        ({"Ages": "18+"}, (18, None)),
        ({"Ages": "under 18"}, (None, 17)),
        ({"Ages": "11-25", "Min age": "11"}, (11, 25)),
        ({"Min age": "10", "Max age": "10"}, (10, 10)),
        ({"Ages": "18+", "Max age": "25"}, (18, 25)),
    ],
)
def test_ages(cells: dict[str, str], ages: tuple[int | None, int | None]):
    batch = read({**BASE, **cells})
    assert batch.errors == []
    assert (batch.services[0].min_age, batch.services[0].max_age) == ages


def test_demo_marks_every_record_from_the_row():
    batch = read(
        {**BASE, "Demo": "yes", "Funder": "MOPAC", "Site postcode": "KT1 1EU"},
        {
            **BASE,
            "Service ref": "B",
            "Organisation name": "Redthread",
            "Funder": "MOPAC",
            "Demo": "no",
        },
    )
    assert batch.errors == []
    assert [s.demo for s in batch.services] == [True, False]
    assert batch.services[0].locations[0].demo is True
    assert [g.demo for g in batch.grants] == [True, False]
    assert {o.name: o.demo for o in batch.organisations} == {
        "St Giles Trust": True,
        MOPAC_NAME: False,
        "Redthread": False,
    }


# -- problems -----------------------------------------------------------------------------------


def test_empty_sheet_is_a_warning_not_an_error():
    data = b"Service ref,Service name,Organisation name,Coverage\r\n,,,\r\n"
    batch = template(load(data, format="csv"))
    assert batch.errors == []
    [warning] = batch.problems
    assert "no rows" in warning.message and warning.severity == "warning"


def test_missing_required_columns_are_one_error_each():
    batch = read({"Service name": "A", "Organisation name": "B", "Site postcode": "KT1 1EU"})
    assert [(p.row, p.column) for p in batch.errors] == [(None, "Service ref"), (None, "Coverage")]
    assert batch.services == []  # nothing without a service ref, but no per-row noise


def test_unknown_and_doubled_columns_are_warnings():
    batch = read(
        {**BASE, "Favourite colour": "blue", "Postcode": "KT1 1EU", "Site postcode": "TW9 1DN"}
    )
    assert batch.errors == []
    assert {(p.row, p.column) for p in warnings_of(batch)} == {
        (None, "Favourite colour"),
        (None, "Postcode"),
    }
    assert batch.services[0].locations[0].postcode == "TW91DN"  # the template's heading wins


def test_cells_beyond_the_headings_are_a_warning():
    data = b"Service ref,Service name,Organisation name,Coverage\r\nA,B,C,Kingston,stray\r\n"
    batch = template(load(data, format="csv"))
    assert batch.errors == []
    [warning] = batch.problems
    assert (warning.row, warning.value) == (2, "stray")


def test_blank_required_cells():
    batch = read(
        {
            "Service ref": " ",
            "Service name": None,
            "Organisation name": "",
            "Coverage": None,
            "Description": "half filled in",
        }
    )
    assert where(batch) == {
        (2, "Service ref"),
        (2, "Service name"),
        (2, "Organisation name"),
        (2, "Coverage"),
    }
    assert batch.services == [] and batch.organisations == []


def test_every_bad_cell_of_every_row_is_reported():
    batch = read(
        {
            **BASE,
            "Status": "maybe",
            "Organisation type": "spaceship",
            "Themes": "knitting",
            "Email": "nobody@",
            "Website": "javascript:alert(1)",
            "Min age": "ten",
        },
        {
            **BASE,
            "Service ref": "B",
            "Coverage": "Atlantis",
            "Site postcode": "ZZ9 9ZZ",
            "Organisation website": "not a site",
            "Last verified": "32/13/2021",
            "Demo": "perhaps",
        },
        {
            **BASE,
            "Service ref": "C",
            "Funder": "MOPAC",
            "Amount": "lots",
            "Start date": "someday",
            "Duration (months)": "a year",
            "Financial year": "2021/23",
            "Beneficiary areas": "Narnia",
            "Ages": "young",
            "Phone": "020 7946 0000",
        },
    )
    got = {(p.row, p.column, p.value) for p in batch.errors}
    assert got == {
        (2, "Status", "maybe"),
        (2, "Organisation type", "spaceship"),
        (2, "Themes", "knitting"),
        (2, "Email", "nobody@"),
        (2, "Website", "javascript:alert(1)"),
        (2, "Min age", "ten"),
        (3, "Coverage", "Atlantis"),
        (3, "Site postcode", "ZZ9 9ZZ"),
        (3, "Organisation website", "not a site"),
        (3, "Last verified", "32/13/2021"),
        (3, "Demo", "perhaps"),
        (4, "Amount", "lots"),
        (4, "Start date", "someday"),
        (4, "Duration (months)", "a year"),
        (4, "Financial year", "2021/23"),
        (4, "Beneficiary areas", "Narnia"),
        (4, "Ages", "young"),
    }
    messages = {p.column: p.message for p in batch.errors}
    assert messages["Coverage"] == "'Atlantis' is not a London area we know."
    assert "active, inactive, defunct or temporarily closed" in messages["Status"]
    assert "voluntary, council" in messages["Organisation type"]
    assert all(p.message for p in batch.errors)


def test_excel_error_values_are_each_their_cells_problem(tmp_path: Path):
    """Cells of a workbook holding Excel's error values (typed ``e``: a formula that
    failed) are each a problem of their row and column, read as blank, and the other cells
    and rows are still checked: the first was the whole file's one error, hiding the rest.
    A required cell holding one is not also reported missing, nor a Coverage as absent."""
    workbook = Workbook()
    sheet = workbook.active
    headings = [*BASE, "Funder", "Amount"]
    sheet.append(headings)
    sheet.append([*BASE.values(), "MOPAC", "#N/A"])
    sheet.append(["B", "Club", "#REF!", "#DIV/0!", "MOPAC", "lots"])
    sheet.append([*{**BASE, "Service ref": "C", "Coverage": "Atlantis"}.values(), None, None])
    assert (sheet["F2"].data_type, sheet["C3"].data_type) == ("e", "e")
    path = tmp_path / "errors.xlsx"
    workbook.save(path)
    batch = template(load(path))
    assert {(p.row, p.column, p.value) for p in batch.errors} == {
        (2, "Amount", "#N/A"),
        (3, "Organisation name", "#REF!"),
        (3, "Coverage", "#DIV/0!"),
        (3, "Amount", "lots"),
        (4, "Coverage", "Atlantis"),
    }
    assert all(
        "Fix the formula, or type (or paste as values)" in p.message
        for p in batch.errors
        if p.value.startswith("#")
    )


def test_problems_name_the_sheet_s_heading_with_the_template_s_beside_it():
    """A sheet read under another heading accepted for a column ("Borough" for Coverage)
    had its problems named by the template's heading, which the sheet does not have: they
    name the sheet's, the template's in brackets; a heading that is the template's (in any
    case) is named as it was."""
    batch = read(
        {"Ref": "A", "service name": "Club", "Organisation name": "Trust", "Borough": "Atlantis",
         "Funded by": "MOPAC", "Amount": "lots"},
        {"Ref": "B", "service name": "Club", "Organisation name": "Trust", "Borough": None,
         "Funded by": None, "Amount": None},
    )  # fmt: skip
    assert {(p.row, p.column) for p in batch.errors} == {
        (2, "Borough (Coverage)"),
        (2, "Amount"),
        (3, "Borough (Coverage)"),
    }


def test_a_last_verified_date_in_the_future_is_an_error():
    """A row cannot have been checked after today in London (tomorrow is allowed, for a
    clock a little ahead): 01/01/2030 was taken, and the service was never stale."""
    today = datetime.now(ZoneInfo("Europe/London")).date()
    batch = read(
        {**BASE, "Last verified": "01/01/2030"},
        {**BASE, "Service ref": "TODAY", "Last verified": today.isoformat()},
        {**BASE, "Service ref": "TOMORROW", "Last verified": (today + timedelta(1)).isoformat()},
        {**BASE, "Service ref": "LATER", "Last verified": (today + timedelta(2)).isoformat()},
    )
    found = {(p.row, p.column, p.value) for p in batch.errors}
    later = (today + timedelta(2)).isoformat()
    assert found == {(2, "Last verified", "01/01/2030"), (5, "Last verified", later)}
    assert "cannot be in the future" in batch.errors[0].message
    verified = {s.ref: s.last_verified for s in batch.services}
    assert verified["TODAY"] == today and verified["TOMORROW"] == today + timedelta(1)


def test_text_longer_than_its_field_names_its_row_and_heading():
    """What the database cannot hold is refused as it is read, by row and heading, the
    value cut short (the import found it later, naming the database's field and no row)."""
    batch = read(
        {**BASE, "Phone": "0" * 61},
        {**BASE, "Service ref": "B", "Site name": "S" * 301, "Site postcode": "KT1 1EU"},
    )
    assert {(p.row, p.column, p.value) for p in batch.errors} == {
        (2, "Phone", "0" * 60 + "…"),
        (3, "Site name", "S" * 60 + "…"),
    }
    assert "Phone is 61 characters long; at most 60 are kept" in batch.errors[0].message


def test_the_same_service_ref_twice_names_the_first_row():
    batch = read(BASE, {**BASE, "Service ref": "OTHER"}, {**BASE, "Service ref": "sl-rescue-01"})
    problem = only_error(batch)
    assert (problem.row, problem.column, problem.value) == (4, "Service ref", "sl-rescue-01")
    assert "row 2" in problem.message
    assert [s.ref for s in batch.services] == ["SL-RESCUE-01", "OTHER"]


def test_one_organisation_ref_with_two_names():
    batch = read(
        {**BASE, "Organisation ref": "GB-CHC-1", "Organisation name": "Redthread"},
        {
            **BASE,
            "Service ref": "B",
            "Organisation ref": "GB-CHC-1",
            "Organisation name": "Red Thread Youth",
        },
    )
    problem = only_error(batch)
    assert (problem.row, problem.column, problem.value) == (
        3,
        "Organisation name",
        "Red Thread Youth",
    )
    assert "row 2" in problem.message and "Redthread" in problem.message


def test_a_funder_org_id_with_another_name_than_its_provider_row():
    batch = read(
        {**BASE, "Organisation ref": "GB-CHC-1", "Organisation name": "Redthread"},
        {**BASE, "Service ref": "B", "Funder": "Other Trust (GB-CHC-1)"},
    )
    problem = only_error(batch)
    assert (problem.row, problem.column) == (3, "Funder")


def test_an_organisation_ref_with_spaces():
    batch = read({**BASE, "Organisation ref": "St Giles Trust"})
    assert where(batch) == {(2, "Organisation ref")}


def test_end_before_start():
    batch = read({**BASE, "Funder": "MOPAC", "Start date": "01/04/2022", "End date": "31/03/2022"})
    problem = only_error(batch)
    assert (problem.row, problem.column, problem.value) == (2, "End date", "31/03/2022")
    assert "before the Start date (2022-04-01)" in problem.message
    assert batch.grants[0].duration_months is None


def test_min_age_above_max_age():
    problem = only_error(read({**BASE, "Min age": "25", "Max age": "11"}))
    assert (problem.row, problem.column) == (2, "Min age")
    assert "25" in problem.message and "11" in problem.message


def test_ages_that_disagree_with_min_and_max():
    problem = only_error(read({**BASE, "Ages": "11-25", "Min age": "10"}))
    assert (problem.row, problem.column, problem.value) == (2, "Ages", "11-25")
    assert "Min age is 10" in problem.message


def test_amount_without_a_funder():
    batch = read({**BASE, "Amount": "£45k"})
    problem = only_error(batch)
    assert (problem.row, problem.column) == (2, "Funder")
    assert "Amount" in problem.message and "MOPAC" in problem.message
    assert batch.grants == []


def test_other_grant_details_without_a_funder():
    problem = only_error(read({**BASE, "Programme": "VRU", "Start date": "2021-04-01"}))
    assert (problem.row, problem.column) == (2, "Funder")
    assert "Programme, Start date" in problem.message


def test_no_coverage_and_no_site():
    problem = only_error(read({**BASE, "Coverage": None, "Site name": "Hall"}))
    assert (problem.row, problem.column) == (2, "Coverage")
    assert "Site postcode" in problem.message


# -- round trip -----------------------------------------------------------------------------


def canonical(row: dict[str, Any]) -> dict[str, Any]:
    """The row with the template's own headings (the messy ones are aliases)."""
    by_key = {k: c.heading for c in COLUMNS for k in (c.key, *c.aliases)}
    return {by_key[normalise_header(k)]: v for k, v in row.items()}


def messy_batch() -> Batch:
    snb = {
        "Service ref": "KSNB-01",
        "Service name": "Kingston SNB co-commissioning",
        "Organisation name": "Kingston SNB",
        "Organisation type": "council",
        "Coverage": "Kingston",
        "Grant ref": "360G-MOPAC-LCPF-7",
        "Funder": "MOPAC",
        "Programme": "LCPF co-commissioning",
        "Amount": "£1.2m",
        "Award date": "44287",
        "Start date": "01/04/2021",
        "End date": "31/03/2025",
        "Financial year": "2021/22",
    }
    batch = read(
        {
            **canonical(MESSY),
            "Description": '=HYPERLINK("http://evil.example")',
            "Eligibility": "@everyone under 25",
            "Phone": "+44 20 7946 0000",
            "Email": "Rescue@Example.ORG",
            "Website": "www.example.org/rescue",
            "Charity number": "1123456",
            "Company number": "4312517",
            "Organisation website": "example.org",
            "Last verified": "1 March 2024",
            "Site name": "Youth Centre",
            "Site address": "1 Market Place",
            "Who can refer": "self; professional",
            "Paid through": "Kingston SNB",
            "Funder": "Kingston SNB",
            "Grant ref": "-G-1",
            "Demo": "yes",
        },
        snb,
        {
            **BASE,
            "Service ref": "SHARED-2",
            "Coverage": "Central West BCU; Richmond",
            "Grant ref": "360G-CBT-9",
            "Funder": "City Bridge Trust (GB-CHC-1035628)",
            "Amount": "12,500.50",
            "Status": "closed temporarily",
            "Ages": "under 18",
        },
        {
            **BASE,
            "Service ref": "SHARED-3",
            "Coverage": "pan-London",
            "Grant ref": "360G-CBT-9",
            "Funder": "City Bridge Trust (GB-CHC-1035628)",
        },
        {
            **BASE,
            "Service ref": "ID-ONLY",
            "Funder": "GB-CHC-7777777",
            "Amount": "0",
            "Paid through": "360G-OLDER-GRANT",
            "Organisation ref": "GB-COH-01234567",
        },
        {**BASE, "Service ref": "NO-GRANT", "Coverage": None, "Site postcode": "TW91DN"},
    )
    assert batch.errors == [], batch.errors
    return batch


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_round_trip(tmp_path: Path, fmt: str):
    original = messy_batch()
    path = tmp_path / f"export.{fmt}"
    write_template(path, format=fmt, batch=original)
    table = load(path)
    assert table.columns == HEADINGS
    again = template(table)
    assert again.problems == []
    assert again.organisations == original.organisations
    assert again.services == original.services
    assert again.grants == original.grants
    # and once more, from the re-read batch: a fixed point
    assert rows_from_batch(again) == rows_from_batch(original)


def test_rows_from_batch_writes_one_row_per_service():
    headings, rows = rows_from_batch(messy_batch())
    assert headings == HEADINGS
    assert [r[0] for r in rows] == [
        "SL-RESCUE-01",
        "KSNB-01",
        "SHARED-2",
        "SHARED-3",
        "ID-ONLY",
        "NO-GRANT",
    ]
    cell = dict(zip(headings, rows[0], strict=True))
    assert cell["Funder"] == "Kingston SNB"
    assert cell["Paid through"] == "360G-MOPAC-LCPF-7"
    assert cell["Amount"] == Decimal("45000")
    assert cell["Coverage"] == f"{KINGSTON}; {RICHMOND}"
    assert cell["Demo"] == "yes"
    cbt = dict(zip(headings, rows[2], strict=True))
    assert cbt["Funder"] == "City Bridge Trust (GB-CHC-1035628)"


def test_a_service_with_several_grants_has_a_row_for_each():
    """The export writes a row for each grant of a service, the same but for the grant
    columns, and reading them back gives the service once and each grant its services (it
    wrote the first grant alone, and importing that cut the others' links)."""
    batch = read({**BASE, "Funder": "MOPAC", "Amount": "10k"})
    first = batch.grants[0]
    batch.grants.append(
        GrantRecord(
            ref="G-2",
            funder_ref=MOPAC_REF,
            recipient_ref=first.recipient_ref,
            service_refs=list(first.service_refs),
            amount=Decimal(5),
            areas=list(first.areas),
        )
    )
    _, rows = rows_from_batch(batch)
    assert [dict(zip(HEADINGS, r, strict=True))["Grant ref"] for r in rows] == [
        "SL-RESCUE-01#grant",
        "G-2",
    ]
    again = template(load(csv_bytes([dict(zip(HEADINGS, r, strict=True)) for r in rows]),
                          format="csv"))  # fmt: skip
    assert again.errors == [] and again.services == batch.services
    assert [(g.ref, g.service_refs) for g in again.grants] == [
        ("SL-RESCUE-01#grant", ["SL-RESCUE-01"]),
        ("G-2", ["SL-RESCUE-01"]),
    ]


def test_a_service_row_repeated_with_other_details_is_an_error():
    """A service's second row gives it another grant; a row that differs in a service
    column is an error naming that column, and one with the same grant (or none) repeats
    the first."""
    grant = {"Funder": "MOPAC", "Grant ref": "G-1"}
    batch = read(
        {**BASE, **grant},
        {**BASE, **grant, "Grant ref": "G-2", "Service name": "Rescue"},
        {**BASE, **grant},
        {**BASE, "Grant ref": "G-3", "Funder": "MOPAC"},
    )
    found = {(p.row, p.column, p.value) for p in batch.errors}
    assert found == {(3, "Service name", "Rescue"), (4, "Service ref", "SL-RESCUE-01")}
    assert all("row 2" in p.message for p in batch.errors)
    assert [(g.ref, g.service_refs) for g in batch.grants] == [
        ("G-1", ["SL-RESCUE-01"]),
        ("G-3", ["SL-RESCUE-01"]),
    ]


def test_formula_looking_text_stays_text(tmp_path: Path):
    batch = messy_batch()
    xlsx, csv_path = tmp_path / "out.xlsx", tmp_path / "out.csv"
    write_template(xlsx, format="xlsx", batch=batch)
    write_template(csv_path, format="csv", batch=batch)
    sheet_ = load_workbook(xlsx)["Services"]  # not data_only: a formula would show as one
    cells = {c.value: c for row in sheet_.iter_rows() for c in row if isinstance(c.value, str)}
    for text in (
        '=HYPERLINK("http://evil.example")',
        "@everyone under 25",
        "-G-1",
        "+44 20 7946 0000",
    ):
        assert cells[text].data_type == "s"
    raw = csv_path.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in raw and "'-G-1" in raw
    again = template(load(csv_path))
    assert again.services[0].description == '=HYPERLINK("http://evil.example")'
    assert again.services[0].phone == "+44 20 7946 0000"
    assert again.grants[0].ref == "-G-1"


def test_a_grant_recipient_pays_the_grant_to_another_organisation():
    """A council's grant funding two providers' services: the Grant recipient on each row
    is who the grant is paid to (read as a Funder is), not the row's organisation; rows that
    leave it out take their own organisation, and disagree."""
    council = "Royal Borough of Kingston (GB-LAE-KIN)"
    grant = {"Funder": "MOPAC", "Grant ref": "G-COUNCIL", "Grant recipient": council}
    other = {**BASE, "Service ref": "OXY-1", "Organisation name": "Oxygen"}
    batch = read({**BASE, **grant}, {**other, **grant})
    assert batch.errors == []
    (record,) = batch.grants
    assert (record.recipient_ref, record.service_refs) == ("GB-LAE-KIN", ["SL-RESCUE-01", "OXY-1"])
    assert {o.ref: o.name for o in batch.organisations}["GB-LAE-KIN"] == "Royal Borough of Kingston"
    (error,) = read({**BASE, **grant}, {**other, **grant, "Grant recipient": None}).errors
    assert (error.row, error.column) == (3, "Grant recipient")
