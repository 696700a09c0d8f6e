"""Reading real CSV and XLSX files into rows, and writing them back safely."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from directory.ingest import readers
from directory.ingest.readers import (
    MAX_ROWS,
    ReadError,
    Row,
    Table,
    normalise_header,
    read_table,
    write_table,
)
from directory.ingest.values import parse_amount, parse_date

_WHOLE = read_table


@pytest.fixture(autouse=True, params=["whole", "sheet"])
def reading(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file here is read both ways: whole (``read_table``), and as an import reads a
    template (``read_sheet``, its rows read from the file each time they are asked for,
    twice here, the same both times). Rows, errors and all must be the same."""
    if request.param == "sheet":
        monkeypatch.setitem(globals(), "read_table", _read_as_sheet)


def _read_as_sheet(
    source: Path | bytes, *, format: str | None = None, sheet: str | None = None,
    name: str | None = None, expected: Any = None, keep_errors: bool = False,
) -> Table:  # fmt: skip
    if not isinstance(source, bytes | bytearray):
        path = Path(source)
        if not path.is_file():  # the path's own errors: read_sheet is given bytes
            return _WHOLE(path, format=format, sheet=sheet, name=name, expected=expected)
        source, name = path.read_bytes(), name or path.name
    streamed = readers.read_sheet(
        bytes(source),
        format=format,
        sheet=sheet,
        name=name,
        expected=expected,
        keep_errors=keep_errors,
    )
    rows = list(streamed.each_row())
    assert list(streamed.each_row()) == rows
    return Table(
        streamed.columns, streamed.keys, rows, streamed.source, streamed.sheet, streamed.ended_at,
        header_at=streamed.header_at, above=streamed.above,
    )  # fmt: skip


# -- normalise_header ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "key"),
    [
        ("Service Ref ", "service_ref"),
        ("Amount (£)", "amount"),
        ("Start-date", "start_date"),
        ("\ufeffService ref", "service_ref"),
        ("SERVICE  REF", "service_ref"),
        ("Areas & wards", "areas_and_wards"),
        ("Min. age", "min_age"),
        ("  e-mail  ", "e_mail"),
        ("Charity no.", "charity_no"),
        ("__odd__name__", "odd_name"),
        ("Café", "café"),
        ("Straße", "strasse"),
        (2021, "2021"),
        ("", ""),
        (None, ""),
    ],
)
def test_normalise_header(heading: object, key: str) -> None:
    assert normalise_header(heading) == key


# -- CSV ----------------------------------------------------------------------------------------


def write_bytes(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_reads_a_windows_1252_csv_with_pound_signs_and_accents(tmp_path: Path) -> None:
    text = 'Service ref,Name,Amount (£)\r\nS1,Café Rendezvous,"£1,200"\r\n'
    path = write_bytes(tmp_path, "grants.csv", text.encode("cp1252"))
    assert b"\xa3" in path.read_bytes()  # really Windows-1252, not UTF-8

    table = read_table(path)

    assert table.source == "grants.csv"
    assert table.sheet is None
    assert table.columns == ["Service ref", "Name", "Amount (£)"]
    assert table.keys == ["service_ref", "name", "amount"]
    assert table.rows == [
        Row(2, {"service_ref": "S1", "name": "Café Rendezvous", "amount": "£1,200"})
    ]
    assert parse_amount(table.rows[0].values["amount"]) == Decimal("1200.00")


def test_reads_a_utf8_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    text = "Service Ref,Borough\nS1,Kensington & Chelsea\nS2,Hammersmith – Fulham\n"
    path = write_bytes(tmp_path, "excel.csv", b"\xef\xbb\xbf" + text.encode("utf-8"))

    table = read_table(path)

    assert table.columns == ["Service Ref", "Borough"]  # no BOM left on the first heading
    assert table.keys == ["service_ref", "borough"]
    assert [row.values["borough"] for row in table.rows] == [
        "Kensington & Chelsea",
        "Hammersmith – Fulham",
    ]


def test_reads_utf8_without_bom_and_utf16_with_bom(tmp_path: Path) -> None:
    text = "Ref\tName\r\nS1\tZoë’s Place\r\n"
    utf8 = read_table(write_bytes(tmp_path, "a.csv", text.encode("utf-8")))
    utf16 = read_table(write_bytes(tmp_path, "b.txt", text.encode("utf-16")))
    for table in (utf8, utf16):
        assert table.keys == ["ref", "name"]
        assert table.rows[0].values == {"ref": "S1", "name": "Zoë’s Place"}


def test_sniffs_a_semicolon_delimited_csv(tmp_path: Path) -> None:
    text = 'Ref;Name;Amount\nS1;Youth, Sport & Arts;"1.200,50"\nS2;Mentoring;300\n'
    table = read_table(write_bytes(tmp_path, "semi.csv", text.encode("utf-8")))
    assert table.keys == ["ref", "name", "amount"]
    assert table.rows[0].values == {
        "ref": "S1",
        "name": "Youth, Sport & Arts",
        "amount": "1.200,50",
    }
    assert table.rows[1].values["amount"] == "300"


def test_sniffs_a_tab_delimited_csv() -> None:
    table = read_table(b"Ref\tName\nS1\tA, B and C\n", name="tabs.tsv")
    assert table.rows[0].values == {"ref": "S1", "name": "A, B and C"}


def test_skips_blank_rows_but_keeps_the_files_row_numbers(tmp_path: Path) -> None:
    text = (
        "\r\n"  # row 1: blank
        ",,\r\n"  # row 2: only separators
        "Ref,Name,Notes\r\n"  # row 3: the header
        "S1,One,\r\n"  # row 4
        ",  ,\r\n"  # row 5: blank (whitespace only)
        'S2,"Two\r\nlines",x\r\n'  # row 6: one row, although the cell spans two lines
        "\r\n"  # row 7
        "S3,Three,\r\n"  # row 8
    )
    table = read_table(write_bytes(tmp_path, "gaps.csv", text.encode("utf-8")))
    assert [row.number for row in table.rows] == [4, 6, 8]
    assert table.rows[0].values == {"ref": "S1", "name": "One", "notes": None}
    assert table.rows[1].values["name"] == "Two\r\nlines"  # raw: values.py cleans


def test_cells_are_raw_strings_and_blanks_are_none() -> None:
    table = read_table(b'Ref,Name,Amount\n S1 ,  ,"\xc2\xa31,200"\n', format="csv")
    assert table.rows[0].values == {"ref": " S1 ", "name": None, "amount": "£1,200"}


def test_short_rows_are_padded_and_extra_cells_kept_apart() -> None:
    text = b"Ref,Name\nS1\nS2,Two,surprise,,more\nS3,Three,,\n"
    table = read_table(text, name="x.csv")
    assert table.rows[0].values == {"ref": "S1", "name": None}
    assert table.rows[1].values == {"ref": "S2", "name": "Two", "_extra": ["surprise", "more"]}
    assert table.rows[2].values == {"ref": "S3", "name": "Three"}  # empty extras are dropped


def test_a_column_without_a_heading_is_not_a_column() -> None:
    table = read_table(b"Ref,,Name,\nS1,stray,One,\n", name="x.csv")
    assert table.columns == ["Ref", "Name"]
    assert table.rows[0].values == {"ref": "S1", "name": "One", "_extra": ["stray"]}


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("Ref,Name,Ref", "'Ref'"),
        ("Ref,Amount,Amount (£)", "'Amount' and 'Amount (£)'"),
        ("Service ref,SERVICE REF ,Name", "'Service ref' and 'SERVICE REF'"),
    ],
)
def test_duplicate_headings_are_an_error_naming_them(header: str, named: str) -> None:
    with pytest.raises(ReadError) as caught:
        read_table(f"{header}\n1,2,3\n".encode(), name="dupes.csv")
    assert "more than once" in str(caught.value)
    assert named in str(caught.value)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b",,,\n , \n", b";;\n", b"\xef\xbb\xbf"])
def test_a_file_without_a_header_row_is_an_error(data: bytes) -> None:
    with pytest.raises(ReadError, match="has no header row"):
        read_table(data, name="empty.csv")


def test_a_header_only_file_has_no_rows() -> None:
    table = read_table(b"Ref,Name\r\n", name="x.csv")
    assert table.keys == ["ref", "name"]
    assert table.rows == []


def test_the_format_is_sniffed_from_content_without_a_name(tmp_path: Path) -> None:
    assert read_table(b"Ref,Name\nS1,One\n").source == "upload"
    assert read_table(b"Ref,Name\nS1,One\n").rows[0].values == {"ref": "S1", "name": "One"}
    path = tmp_path / "export"  # no suffix
    write_table(path, ["Ref"], [["S1"]], format="xlsx")
    assert read_table(path).sheet == "Services"


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"\x00\x01\x02binary\x00", None, "not a CSV or XLSX spreadsheet"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "logo.png", "not a CSV or XLSX spreadsheet"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "old-style Excel (.xls)"),
        (b"whatever", "old.xls", "old-style Excel (.xls)"),
        (b"Ref\n\x81\x8d\x8f\x90\x9d\n", "bad.csv", "encoding is not recognised"),
    ],
)
def test_unreadable_files_are_read_errors(data: bytes, name: str | None, message: str) -> None:
    with pytest.raises(ReadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_table(data, name=name)


def test_an_unknown_format_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="'ods' is not supported"):
        read_table(b"Ref\n", format="ods")


def test_a_missing_file_is_a_read_error(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match="nothing.csv does not exist"):
        read_table(tmp_path / "nothing.csv")


def test_a_csv_cell_past_the_csv_modules_limit_is_named_in_words() -> None:
    """csv's own error was "field larger than field limit (131072)"; its row and column
    are the problem's, not only the message's (they were null)."""
    huge = b'Ref,Notes,Other\nS1,"a, b",x\nS2,"' + b"x" * 200_000 + b'",y\n'
    with pytest.raises(ReadError) as raised:
        read_table(huge, name="huge.csv")
    assert str(raised.value) == (
        "Row 3 of huge.csv holds a cell of more than 131,072 characters, more than a "
        "spreadsheet cell can (32,767)"
    )
    assert (raised.value.row, raised.value.column) == (3, "Notes")
    assert raised.value.value == "x" * 60 + "…"


def test_expected_headings_are_looked_for_below_a_title() -> None:
    """A reader told which headings to expect takes the first of the first rows that has
    them (a title and a note above), keeping the rows' numbers; when none has them, the
    first row that is not blank, as without."""
    data = b"Quarterly return\nPrepared by the borough\n\nRef,Name\nS1,Club\n"

    def expected(keys: frozenset[str]) -> bool:
        return "ref" in keys

    table = read_table(data, format="csv", expected=expected)
    assert table.columns == ["Ref", "Name"] and table.header_at == 4
    assert table.above == (1, "Quarterly return")
    assert [(r.number, r.values["ref"]) for r in table.rows] == [(5, "S1")]
    plain = read_table(data, format="csv", expected=lambda keys: False)
    assert plain.columns == ["Quarterly return"] and plain.above is None
    assert plain.header_at == 1
    titled_too_far = b"T\n" * 10 + b"Ref,Name\nS1,Club\n"
    assert read_table(titled_too_far, format="csv", expected=expected).columns == ["T"]


def test_a_cell_longer_than_a_spreadsheet_cell_names_its_row_and_column() -> None:
    """A CSV cell of 40,000 characters: its row, heading and the value cut short (row and
    column were null, the row only in the message)."""
    data = b"Ref,Notes\nS1," + b"y" * 40_000 + b"\n"
    with pytest.raises(ReadError) as raised:
        read_table(data, format="csv")
    assert (raised.value.row, raised.value.column) == (2, "Notes")
    assert raised.value.value == "y" * 60 + "…"
    assert "40,000 characters" in raised.value.reason


def test_a_row_whose_cells_together_pass_a_cells_limit_is_read() -> None:
    """A row's cells are looked at one by one only when their text together is longer than
    a cell may be or holds a ``#``: three cells of 20,000 characters (60,000 together, none
    over 32,767) and a ``#`` that is no Excel error are read as they are; a fourth cell over
    the limit, or ``#N/A`` under a heading, is still refused, naming its cell."""
    long = "z" * 20_000
    data = f"Ref,A,B,C\nS1,{long},{long},#1 {long}\n".encode()
    table = read_table(data, format="csv")
    assert [len(table.rows[0].values[key]) for key in ("a", "b", "c")] == [20_000, 20_000, 20_003]
    with pytest.raises(ReadError) as raised:
        read_table(data + b"S2,x," + b"y" * 40_000 + b",z\n", format="csv")
    assert (raised.value.row, raised.value.column) == (3, "B")
    with pytest.raises(ReadError) as raised:
        read_table(data + b"S2,x,#N/A,z\n", format="csv")
    assert (raised.value.row, raised.value.column) == (3, "B")
    kept = read_table(data + b"S2,x,#N/A,z\n", format="csv", keep_errors=True)
    assert str(kept.rows[1].values["b"]) == "#N/A" and kept.rows[1].values["a"] == "x"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_file_cut_short_inside_a_quoted_cell_is_a_read_error(newline: str) -> None:
    """The csv module (not strict, as messy files need) ends a quoted cell at the end of
    the file without a word: a file cut short there imported the row without the rest of
    its cells. It is refused, naming the row; a quoted cell that spans lines, a quote in
    an unquoted cell and a whole last row without a newline still read."""
    whole = newline.join(["Ref,Who,Amount", 'S1,"self, pro",10', 'S2,"self, professional",20'])
    cut = whole[: whole.index('"self, professional"') + 10]
    with pytest.raises(ReadError) as raised:
        read_table(cut.encode(), name="cut.csv")
    assert str(raised.value) == (
        "The file cut.csv ends inside a quoted cell, in row 3: it was cut short, or a quote "
        '(") opening a cell there is never closed'
    )
    for fine in (whole, whole + newline, 'Ref,Note\nS1,"two\nlines"\nS2,5" screen\n'):
        assert len(read_table(fine.encode(), name="fine.csv").rows) == 2


@pytest.mark.parametrize("error", ["#N/A", "#VALUE!", "#DIV/0!", "#REF!"])
def test_an_excel_error_value_is_refused_naming_its_cell(tmp_path: Path, error: str) -> None:
    """A cell holding Excel's error value (type ``e`` in the workbook: a formula that
    failed), or the same text in a CSV Excel wrote, was read as text: an organisation was
    made called "#N/A". It is refused, naming its row and column; under no heading it is
    not read; "N/A" and a "#" in a longer text are text."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Ref", "Organisation name", None])
    sheet.append(["S1", "Safer Streets", error])  # (under no heading: not read)
    sheet.append(["S2", error, None])
    assert sheet["B3"].data_type == "e"
    path = tmp_path / "errors.xlsx"
    workbook.save(path)
    for content, name in ((path, None), (f"Ref,Organisation name\nS1,{error}\n".encode(), "e.csv")):
        with pytest.raises(ReadError) as raised:
            read_table(content, name=name)
        assert raised.value.column == "Organisation name"
        assert raised.value.value == error  # (it was null)
        assert f"holds Excel's error value {error}" in str(raised.value)
    fine = b"Ref,Organisation name\nS1,N/A\nS2,#1 Youth Club\n"
    assert [r.values["organisation_name"] for r in read_table(fine, name="f.csv").rows] == [
        "N/A", "#1 Youth Club",
    ]  # fmt: skip


def test_cells_merged_across_rows_under_a_heading_read_are_refused(tmp_path: Path) -> None:
    """A merged cell's value is its first row's alone: merged across three services' rows,
    a coverage was read for the first and the two below were imported with none, without
    a word. Such a sheet is refused, naming the range and its heading; merges across
    columns of one row, under no heading, or in a column not read are read as before."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Services"
    sheet.append(["Service ref", "Name", "Coverage", None])
    for n in range(1, 4):
        sheet.append([f"S{n}", f"Club {n}", "Kingston; Richmond" if n == 1 else None, "x"])
    sheet.merge_cells("A1:B1")  # across columns of the header row
    sheet.merge_cells("D2:D4")  # under no heading
    path = tmp_path / "merged.xlsx"
    workbook.save(path)
    assert len(read_table(path).rows) == 3
    sheet.merge_cells("C2:C4")
    workbook.save(path)
    with pytest.raises(ReadError) as raised:
        read_table(path)
    assert str(raised.value) == (
        "The sheet 'Services' in merged.xlsx has cells merged across rows (C2:C4 under "
        "'Coverage'): a merged cell's value belongs to its first row only, so the rows below "
        "would be read without it. Unmerge them and fill the value into every row"
    )
    not_coverage = {"reads": lambda key: key != "coverage"}  # (a column not read: as before)
    assert len(readers.read_table(path, **not_coverage).rows) == 3
    assert len(list(readers.read_sheet(path, **not_coverage).each_row())) == 3


def test_a_sheets_merged_ranges_kept_are_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet may list millions of merged ranges within its unzipped size: the scan keeps
    ``MAX_MERGED`` of them (its memory bounded), enough to name those under a heading."""
    monkeypatch.setattr(readers, "MAX_MERGED", 3)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Ref", "Name"])
    for n in range(20):
        sheet.append([f"S{n}", None])
    for first in range(2, 20, 2):
        sheet.merge_cells(f"B{first}:B{first + 1}")
    path = tmp_path / "many.xlsx"
    workbook.save(path)
    with pytest.raises(ReadError) as raised:
        readers.read_table(path)
    named = re.findall(r"B(\d+):B(\d+) under 'Name'", str(raised.value))
    assert len(named) == 3 and all(int(b) == int(a) + 1 for a, b in named)  # (3 of the 9 kept)


def test_more_than_the_row_limit_is_a_read_error() -> None:
    data = b"Ref\n" + b"S\n" * (MAX_ROWS + 1)
    with pytest.raises(ReadError, match="more than 200,000 rows"):
        read_table(data, name="big.csv")
    assert len(read_table(b"Ref\n" + b"S\n" * MAX_ROWS, name="ok.csv").rows) == MAX_ROWS


def _spaced_workbook(*rows: list[Any]) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_blank_rows_count_towards_the_row_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row read counts, blank or whitespace-only: a row of data past the limit is
    refused as soon as it is read (blank rows were skipped uncounted, so a sheet of a
    million of them was read to its end)."""
    monkeypatch.setattr(readers, "MAX_ROWS", 50)
    monkeypatch.setattr(readers, "MAX_BLANK_RUN", 20)
    spaces = [" ", "  "]
    rows = [["Ref", "Name"]] + ([["S", "x"]] + [spaces] * 10) * 4  # 44 rows: read
    assert len(read_table(_spaced_workbook(*rows), name="ok.xlsx").rows) == 4
    rows += [spaces] * 6 + [["S", "late"]]  # row 52 of the sheet is its 51st below the header
    with pytest.raises(ReadError, match=r"more than 50 rows below its header .*row 52"):
        read_table(_spaced_workbook(*rows), name="big.xlsx")
    csv_data = b"Ref\n" + (b"S\n" + b"\n" * 10) * 6
    with pytest.raises(ReadError, match="more than 50 rows"):
        read_table(csv_data, name="big.csv")


def test_a_run_of_blank_rows_ends_the_sheet(monkeypatch: pytest.MonkeyPatch) -> None:
    """``MAX_BLANK_RUN`` blank rows in a row end a sheet (a workbook of whitespace-only rows
    down to row 1,048,570 took 222 s): a row below them is not read, and the table says
    where the reading stopped; a sheet whose first rows are all blank has no header."""
    monkeypatch.setattr(readers, "MAX_BLANK_RUN", 20)
    spaces = [" ", None, "\t"]
    data = _spaced_workbook(["Ref", "Name"], ["S1", "a"], ["S2", "b"], *[spaces] * 19, ["S3", "c"])
    table = read_table(data, name="gap.xlsx")
    assert [row.number for row in table.rows] == [2, 3, 23] and table.ended_at is None
    data = _spaced_workbook(["Ref", "Name"], ["S1", "a"], ["S2", "b"], *[spaces] * 20, ["S3", "c"])
    table = read_table(data, name="tail.xlsx")
    assert [row.number for row in table.rows] == [2, 3] and table.ended_at == 4
    assert "Reading stopped at row 4" in (readers.ended_warning(table) or "")
    with pytest.raises(ReadError, match="no header row"):
        read_table(_spaced_workbook(*[spaces] * 20, ["Ref", "Name"]), name="late.xlsx")


# -- XLSX ---------------------------------------------------------------------------------------


def make_workbook(path: Path) -> Path:
    """A two-sheet workbook laid out the way officers make them: a title above the header
    on the first sheet, a blank row, then the data; a tidy second sheet."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Grants"
    sheet["A1"] = "MOPAC grants 2021/22"  # a title row above the header
    sheet.append([])
    sheet.append(["Grant ref", "Recipient"])
    sheet.append(["G1", "Café Rendezvous"])
    other = workbook.create_sheet("Services")
    other.append(["Service ref", "Name"])
    other.append(["S1", "Youth club"])
    workbook.save(path)
    return path


def test_reads_the_first_sheet_of_a_real_workbook(tmp_path: Path) -> None:
    table = read_table(make_workbook(tmp_path / "grants.xlsx"))

    assert table.source == "grants.xlsx"
    assert table.sheet == "Grants"
    # the title in A1 is the first non-blank row, so it is taken for the header: officers
    # are told to keep the header in row 1, and this shows why
    assert table.columns == ["MOPAC grants 2021/22"]


def test_reads_dates_serials_and_numbers_from_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "grants.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Grant ref", "Recipient", "Amount (£)", "Start date", "End date", "Charity no."])
    sheet.append(["G1", "Café Rendezvous", 45000, datetime(2021, 4, 1), 44651, 1123456])
    sheet.append([None] * 6)
    sheet.append(["G2", "  Safer Streets ", 1.2e6, datetime(2021, 4, 1, 9, 30), "31/03/2022"])
    sheet["H4"] = "stray"
    workbook.save(path)

    table = read_table(path)

    assert table.keys == [
        "grant_ref",
        "recipient",
        "amount",
        "start_date",
        "end_date",
        "charity_no",
    ]
    assert [row.number for row in table.rows] == [2, 4]
    first, second = (row.values for row in table.rows)
    assert first["start_date"] == datetime(2021, 4, 1)
    assert first["end_date"] == 44651  # a serial number as the cell holds it
    assert parse_date(first["end_date"]) == date(2022, 3, 31)
    assert first["amount"] == 45000
    assert first["charity_no"] == 1123456
    assert second["recipient"] == "  Safer Streets "  # raw
    assert second["start_date"] == datetime(2021, 4, 1, 9, 30)
    assert parse_date(second["start_date"]) == date(2021, 4, 1)
    assert parse_date(second["end_date"]) == date(2022, 3, 31)
    assert second["charity_no"] is None
    assert second["_extra"] == ["stray"]


def test_picks_a_sheet_by_name_in_any_case(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "two.xlsx")
    table = read_table(path, sheet="services")
    assert table.sheet == "Services"
    assert table.keys == ["service_ref", "name"]
    assert table.rows == [Row(2, {"service_ref": "S1", "name": "Youth club"})]


def test_a_missing_sheet_names_the_sheets_there_are(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "two.xlsx")
    with pytest.raises(ReadError) as caught:
        read_table(path, sheet="Outcomes")
    assert str(caught.value) == (
        "The sheet 'Outcomes' does not exist; the workbook has: 'Grants', 'Services'"
    )


def test_keeps_true_row_numbers_when_the_header_is_not_in_row_one(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B3"] = "Ref"
    sheet["C3"] = "Name"
    sheet["B7"] = "S1"
    sheet["C7"] = "One"
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    table = read_table(path)
    assert table.columns == ["Ref", "Name"]
    assert table.rows == [Row(7, {"ref": "S1", "name": "One"})]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"PK\x03\x04 this is not really a zip", "broken.xlsx"),
        (b"not a zip at all", "broken.xlsx"),
        (b"PK\x03\x04 truncated", None),
    ],
)
def test_a_corrupt_workbook_is_a_read_error(tmp_path: Path, data: bytes, name: str | None) -> None:
    with pytest.raises(ReadError, match="not a readable XLSX workbook"):
        read_table(data, name=name)


def test_a_zip_that_is_not_a_workbook_is_a_read_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    path = write_bytes(tmp_path, "fake.xlsx", buffer.getvalue())
    with pytest.raises(ReadError, match="fake.xlsx is not a readable XLSX workbook"):
        read_table(path)


def test_a_workbook_named_csv_is_still_read_as_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "renamed.csv"
    write_table(path, ["Ref"], [["S1"]], format="xlsx")
    assert read_table(path).rows == [Row(2, {"ref": "S1"})]


def test_a_truncated_workbook_is_a_read_error(tmp_path: Path) -> None:
    path = tmp_path / "whole.xlsx"
    write_table(path, ["Ref"], [["S1"]] * 50, format="xlsx")
    data = path.read_bytes()
    with pytest.raises(ReadError, match="not a readable XLSX workbook"):
        read_table(data[: len(data) // 2], name="half.xlsx")


# -- writing and reading back -------------------------------------------------------------------

COLUMNS = ["Service ref", "Name", "Start date", "Amount (£)", "Notes", "Active", "Areas"]
FORMULA = '=HYPERLINK("http://evil.example","Click me")'
ROWS: list[list[object]] = [
    ["S1", FORMULA, date(2021, 4, 1), Decimal("45000.50"), "+44 20 7983 4000", True, ["Camden"]],
    ["S2", "Café £ – Zoë", datetime(2021, 4, 1, 9, 30), Decimal("1000"), "-5 at risk", False, []],
    ["S3", "@mention", None, 12, "\tindented", None, ["Camden", "Kensington & Chelsea"]],
]


def test_csv_round_trip_neutralises_formulas(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_table(path, COLUMNS, ROWS, format="csv")

    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfService ref,")  # BOM for Excel
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")

    table = read_table(path)
    assert table.columns == COLUMNS
    first, second, third = (row.values for row in table.rows)
    assert first["name"] == "'" + FORMULA  # a quote in front: Excel shows it as text
    assert first["notes"] == "'+44 20 7983 4000"
    assert second["notes"] == "'-5 at risk"
    assert third["name"] == "'@mention"
    assert third["notes"] == "'\tindented"
    assert first["start_date"] == "2021-04-01"
    assert parse_date(second["start_date"]) == date(2021, 4, 1)
    assert first["amount"] == "45000.50"
    assert parse_amount(second["amount"]) == Decimal("1000.00")
    assert third["amount"] == "12"
    assert (first["active"], second["active"], third["active"]) == ("yes", "no", None)
    assert second["name"] == "Café £ – Zoë"
    assert third["areas"] == "Camden; Kensington & Chelsea"
    assert second["areas"] is None
    assert [row.number for row in table.rows] == [2, 3, 4]


def test_csv_written_is_what_csv_module_reads(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    write_table(path, ["A", "B"], [["1, 2", 'say "hi"']], format="csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [["A", "B"], ["1, 2", 'say "hi"']]


def _formula_workbook(path: Path, formulas: int) -> None:
    """A workbook as openpyxl (and many exporters) write one: formulas with no saved result."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Services"
    sheet.append(["Service ref", "Service name", "Notes"])
    for number in range(formulas):
        sheet.append([f"S{number}", f'="Service "&"{number}"', "plain"])
    workbook.save(path)


def _with_results(path: Path, results: dict[str, str]) -> None:
    """Save results for the formulas of ``path``'s sheet, as Excel and LibreOffice do: cell
    reference → the cell's XML after its formula (``t`` goes on the cell itself)."""
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as zipped:
        parts = {name: zipped.read(name) for name in zipped.namelist()}
    xml = parts[part].decode()
    for ref, (kind, value) in results.items():
        start = xml.index(f'<c r="{ref}"')
        end = xml.index("</c>", start)
        cell = xml[start:end]
        formula = cell[cell.index("<f>") : cell.index("</f>") + 4]
        typed = f' t="{kind}"' if kind else ""
        xml = xml[:start] + f'<c r="{ref}"{typed}>{formula}<v>{value}</v>' + xml[end:]
    parts[part] = xml.encode()
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in parts.items():
            zipped.writestr(name, data)


def test_a_formula_without_its_result_is_refused_naming_its_cells(tmp_path: Path) -> None:
    """Read for its values, such a cell was empty: its data imported as blank, silently."""
    path = tmp_path / "exported.xlsx"
    _formula_workbook(path, formulas=7)
    with pytest.raises(ReadError) as raised:
        read_table(path)
    message = str(raised.value)
    assert "'Services' in exported.xlsx has formulas with no saved result" in message
    assert "in column 'Service name' (cell B2, B3, B4, B5, B6 and 2 more):" in message
    assert "Open the file in Excel or LibreOffice and save it" in message


def test_formulas_without_results_in_two_columns_name_both(tmp_path: Path) -> None:
    path = tmp_path / "two.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Services"
    sheet.append(["Service ref", "Service name", "Notes"])
    sheet.append(["S1", '="Youth "&"club"', "plain"])
    sheet.append(["S2", '="Help"&"line"', "=1+1"])
    workbook.save(path)
    with pytest.raises(ReadError) as raised:
        read_table(path)
    assert "in columns 'Service name' (cell B2, B3) and 'Notes' (cell C3):" in str(raised.value)


def test_formulas_under_no_heading_are_not_read_so_not_refused(tmp_path: Path) -> None:
    """A helper column beside the data, with no heading: its cells are ignored (a warning
    says so), so its formulas do not matter."""
    path = tmp_path / "helper.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Service ref", "Service name"])
    sheet.append(["S1", "Youth club", "=LEN(B2)"])
    sheet.append(["S2", "Helpline", "=LEN(B3)"])
    workbook.save(path)
    table = read_table(path)
    assert [row.values["service_name"] for row in table.rows] == ["Youth club", "Helpline"]


@pytest.mark.parametrize(("pattern", "replacement"), [
    (r'<c r="[A-Z]+[0-9]+"', "<c"), (r'<c r="B[0-9]+"', "<c"), (r'<c r="B([0-9]+)"', '<c r=""'),
])  # fmt: skip
def test_a_formula_cell_without_its_reference_is_placed_by_its_row(
    tmp_path: Path, pattern: str, replacement: str
) -> None:
    """Some writers leave out a cell's r="B2" (every cell's, or some; or leave it empty): a
    cell is then the one after the one before it, as openpyxl reads it."""
    path = tmp_path / "unreferenced.xlsx"
    _formula_workbook(path, formulas=2)
    _edit_sheet(path, lambda xml: re.sub(pattern, replacement, xml))
    with pytest.raises(ReadError, match=r"column 'Service name' \(cell B2, B3\)"):
        read_table(path)


def test_a_cell_without_its_reference_follows_the_cell_before_it_not_its_count(
    tmp_path: Path,
) -> None:
    """After A2 and D2 (B2 and C2 empty, so not written), a cell with no reference is E2,
    not the row's third cell; and a row with its number keeps it (row 2 absent here)."""
    path = tmp_path / "gaps.xlsx"
    headings = {"A1": "Service ref", "B1": "Service name", "C1": "Areas", "D1": "Amount"}
    _sheet_of(path, {**headings, "E1": "Notes"}, {"A3": "S1", "D3": 5, "E3": "=1+1"})
    _edit_sheet(path, lambda xml: xml.replace('<c r="E3"', "<c"))
    with pytest.raises(ReadError, match=r"in column 'Notes' \(cell E3\):"):
        read_table(path)


def _sheet_of(path: Path, *rows: dict[str, Any]) -> None:
    """A workbook of one sheet, "Services", with these cells (reference → value)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Services"
    for cells in rows:
        for ref, value in cells.items():
            sheet[ref] = value
    workbook.save(path)


def test_a_heading_that_is_a_formula_with_no_saved_result_is_refused(tmp_path: Path) -> None:
    """Read as empty, the heading would drop its column: its data ignored, row by row."""
    path = tmp_path / "heading.xlsx"
    _sheet_of(path, {"A1": "Service ref", "B1": '="Service "&"name"'}, {"A2": "S1", "B2": "Youth"})
    with pytest.raises(ReadError, match=r"in its header row or above it \(cell B1\)"):
        read_table(path)
    # every heading a formula: the header row reads as blank, the next row is not the header
    _sheet_of(path, {"A1": '="Service "&"ref"', "B1": '="Name"'}, {"A2": "S1", "B2": "Youth"})
    with pytest.raises(ReadError, match=r"in its header row or above it \(cell A1, B1\)"):
        read_table(path)


def test_formulas_with_their_results_are_read_as_their_results(tmp_path: Path) -> None:
    """As Excel and LibreOffice save them: text (an empty text too) and numbers."""
    path = tmp_path / "saved.xlsx"
    _formula_workbook(path, formulas=3)
    _with_results(path, {"B2": ("str", "Service 0"), "B3": ("str", ""), "B4": (None, "42")})
    first, second, third = (row.values for row in read_table(path).rows)
    assert first["service_name"] == "Service 0"
    assert second["service_name"] is None  # a formula giving "" is an empty cell, as typed
    assert third["service_name"] == 42


def _edit_sheet(path: Path, edit: Any) -> None:
    """Rewrite the first sheet's XML of ``path`` with ``edit`` (str → str)."""
    part = "xl/worksheets/sheet1.xml"
    with zipfile.ZipFile(path) as zipped:
        parts = {name: zipped.read(name) for name in zipped.namelist()}
    parts[part] = edit(parts[part].decode()).encode()
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in parts.items():
            zipped.writestr(name, data)


def test_a_damaged_sheet_holding_a_formula_is_refused_in_words(tmp_path: Path) -> None:
    """The look for formulas reads the sheet before its rows are: its damage is the same
    one-line error (it was a 500 for an upload, a traceback for the command)."""
    path = tmp_path / "damaged.xlsx"
    _formula_workbook(path, formulas=3)
    _edit_sheet(path, lambda xml: xml[: xml.index("</f>") + 4])  # cut off after a formula
    with pytest.raises(ReadError, match="'Services' in damaged.xlsx cannot be read"):
        read_table(path)


def test_a_sheet_without_its_size_is_opened_without_reading_its_cells(tmp_path: Path) -> None:
    """A sheet saved without its ``<dimension>`` (as some exporters save them) was parsed
    whole by openpyxl each time the workbook was opened, looking for one: a million rows
    took 7 s a time, three times an import, and an upload ran past the worker's timeout.
    Opening a sheet now reads no further than where its cells start: damage at the end of
    the cells is met only by reading down to it, not by finding which sheets there are."""
    path = tmp_path / "unsized.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "Services"
    for row in [["Service ref", "Name"], *([f"S{i}", "x"] for i in range(readers.HEAD_ROWS))]:
        workbook.active.append(row)
    workbook.save(path)
    with readers._open(path) as handle:  # a sheet with its size still has it
        sized = readers._read_only_workbook(handle, path.name).active
        assert (sized.max_row, sized.max_column) == (readers.HEAD_ROWS + 1, 2)
    damage = '<row r="999"><c r="A999"><v>1</v></c></row><row</sheetData>'
    _edit_sheet(
        path,
        lambda xml: re.sub(r"<dimension [^>]*/>", "", xml).replace("</sheetData>", damage),
    )
    with zipfile.ZipFile(path) as zipped:
        assert "<dimension" not in zipped.read("xl/worksheets/sheet1.xml").decode()
    (head,) = readers.sheet_heads(path, path.name)
    assert (head.title, head.keys) == ("Services", frozenset({"service_ref", "name"}))
    with pytest.raises(ReadError, match="'Services' in unsized.xlsx cannot be read"):
        read_table(path)


def test_formulas_after_the_cells_are_not_looked_at(tmp_path: Path) -> None:
    """Excel's extensions after the cells (data validation, conditional formats) hold
    formulas of their own, with no result: no reason to refuse the sheet."""
    path = tmp_path / "validated.xlsx"
    _formula_workbook(path, formulas=0)
    openpyxl_sheet = openpyxl.load_workbook(path)
    openpyxl_sheet["Services"].append(["S1", "Plain", "x"])
    openpyxl_sheet.save(path)
    extension = (
        '<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" xmlns:x14="http://schemas.'
        'microsoft.com/office/spreadsheetml/2009/9/main"><x14:dataValidations count="1" '
        'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main"><x14:dataValidation>'
        "<x14:formula1><xm:f>Lists!$A$1:$A$3</xm:f></x14:formula1><xm:sqref>B2</xm:sqref>"
        "</x14:dataValidation></x14:dataValidations></ext></extLst></worksheet>"
    )
    _edit_sheet(path, lambda xml: xml.replace("</worksheet>", extension))
    assert [row.values["service_name"] for row in read_table(path).rows] == ["Plain"]


def test_one_formula_without_its_result_among_saved_ones_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "half.xlsx"
    _formula_workbook(path, formulas=3)
    _with_results(path, {"B2": ("str", "Service 0"), "B4": ("str", "Service 2")})
    with pytest.raises(ReadError, match=r"\(cell B3\)"):
        read_table(path)


def test_xlsx_round_trip_keeps_formulas_as_plain_text(tmp_path: Path) -> None:
    path = tmp_path / "export.xlsx"
    write_table(path, COLUMNS, ROWS, format="xlsx")

    table = read_table(path)
    assert table.sheet == "Services"
    assert table.columns == COLUMNS
    first, second, third = (row.values for row in table.rows)
    assert first["name"] == FORMULA  # text, not the result of a formula (which would be None)
    assert first["notes"] == "+44 20 7983 4000"
    assert third["name"] == "@mention"
    assert first["start_date"] == datetime(2021, 4, 1)  # a real date
    assert second["start_date"] == datetime(2021, 4, 1, 9, 30)
    assert first["amount"] == 45000.5  # a real number
    assert second["amount"] == 1000
    assert third["amount"] == 12
    assert (first["active"], second["active"]) == (True, False)
    assert third["areas"] == "Camden; Kensington & Chelsea"

    # no formula anywhere in the file, and the cell is stored as a string
    with zipfile.ZipFile(path) as archive:
        sheets = [name for name in archive.namelist() if name.startswith("xl/worksheets/")]
        assert sheets
        for name in sheets:
            assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    workbook = openpyxl.load_workbook(path)  # not data_only: formulas would show as "=..."
    cell = workbook["Services"]["B2"]
    assert cell.data_type == "s"
    assert cell.value == FORMULA
    assert cell.quotePrefix


def test_xlsx_layout_header_widths_and_notes(tmp_path: Path) -> None:
    path = tmp_path / "template.xlsx"
    notes = [("Service ref", "Your own reference for the service"), ("Name", "What it is called")]
    write_table(path, COLUMNS, ROWS, format="xlsx", sheet="Template", notes=notes)

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Template", "Columns"]
    sheet = workbook["Template"]
    assert sheet.freeze_panes == "A2"
    assert all(cell.font.bold for cell in sheet[1])
    assert not sheet["A2"].font.bold
    assert sheet["C2"].is_date
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFG"}
    assert widths["B"] > widths["A"]  # the long formula text makes column B wider
    assert all(8 <= width <= 62 for width in widths.values())

    columns_sheet = workbook["Columns"]
    assert [[cell.value for cell in row] for row in columns_sheet.iter_rows()] == [
        ["Heading", "Meaning"],
        ["Service ref", "Your own reference for the service"],
        ["Name", "What it is called"],
    ]
    assert read_table(path, sheet="columns").keys == ["heading", "meaning"]


def test_xlsx_without_notes_has_one_sheet(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    write_table(path, ["Ref"], [["S1"]], format="xlsx")
    assert openpyxl.load_workbook(path).sheetnames == ["Services"]


@pytest.mark.parametrize(
    ("body", "encoding", "where", "words"),
    [
        ("Ref,Name\nS1,Bad\x00name\n", "utf-8", (2, "Name"), "NUL character"),
        ("Ref,Name\nS1,ok\nS2,x,y\x00\n", "utf-8", (3, "cell 3"), "NUL character"),
        ("Ref,Name\nS1,Bad\x00name\n", "utf-16", (2, "Name"), "NUL character"),
    ],
)
def test_a_cell_holding_text_that_cannot_be_stored_names_its_row_and_column(
    tmp_path: Path, body: str, encoding: str, where: tuple[int, str], words: str
) -> None:
    """A NUL in a cell of a CSV that is otherwise text is that cell's fault, not "not a
    CSV or XLSX": a ReadError naming the row and the column, read whole or row by row."""
    data = body.encode(encoding) if encoding == "utf-8" else codecs_bom16(body)
    for read in (lambda: read_table(data, name="s.csv"),
                 lambda: list(readers.read_sheet(data, name="s.csv").each_row())):  # fmt: skip
        with pytest.raises(ReadError) as caught:
            read()
        assert (caught.value.row, caught.value.column) == where
        assert words in caught.value.reason and "not a CSV" not in str(caught.value)
        assert f"Row {where[0]}, column '{where[1]}' of s.csv" in str(caught.value)


def codecs_bom16(text: str) -> bytes:
    return text.encode("utf-16")  # (with its byte-order mark)


def test_a_heading_holding_a_nul_is_a_read_error() -> None:
    with pytest.raises(ReadError, match="heading of column 2 in the header row holds a NUL"):
        read_table(b"Ref,Na\x00me\nS1,x\n", name="s.csv")


def test_a_lone_surrogate_read_from_a_workbook_names_its_cell(monkeypatch) -> None:
    """openpyxl can hand over a str no file's UTF-8 holds (an ``_xD800_`` escape): the rows
    refuse it as they refuse a NUL, whatever the format."""
    rows = iter([(1, ("Ref", "Name")), (2, ("S1", "Bad\ud800"))])
    with pytest.raises(ReadError) as caught:
        list(readers._data_rows(rows, ["ref", "name"], [0, 1], "w.xlsx", ["Ref", "Name"]))
    assert (caught.value.row, caught.value.column) == (2, "Name")
    assert "damaged character (\\ud800" in caught.value.reason


def test_xlsx_drops_characters_excel_cannot_store(tmp_path: Path) -> None:
    path = tmp_path / "control.xlsx"
    write_table(path, ["Ref", "Name"], [["S1", "bell\x07 and null\x00"]], format="xlsx")
    assert read_table(path).rows[0].values["name"] == "bell and null"


def test_write_table_rejects_an_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'ods' is not supported"):
        write_table(tmp_path / "x.ods", ["Ref"], [], format="ods")


def test_table_column_gives_the_heading_as_written() -> None:
    table = Table(columns=["Amount (£)"], keys=["amount"], rows=[], source="x.csv")
    assert table.column("amount") == "Amount (£)"
    assert table.column("unknown") == "unknown"


def test_openpyxl_warnings_do_not_escape_the_reader(tmp_path: Path) -> None:
    """Excel's data-validation drop-downs make openpyxl warn while it reads the sheet; the
    values are still read and (with warnings as errors in pytest) nothing escapes."""
    plain = tmp_path / "plain.xlsx"
    write_table(plain, ["Ref"], [["S1"]], format="xlsx")
    extension = (
        b'<extLst><ext uri="{CCE6A557-97BC-4b89-ADB6-D9C93CAAB3DF}" '
        b'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
        b'<x14:dataValidations count="0"/></ext></extLst></worksheet>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(buffer, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", extension)
            target.writestr(name, data)
    with pytest.warns(UserWarning, match="Data Validation"):  # the file really does warn
        workbook = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()), read_only=True)
        list(workbook.active.iter_rows(values_only=True))
        workbook.close()

    table = read_table(buffer.getvalue(), name="dropdowns.xlsx")
    assert table.rows == [Row(2, {"ref": "S1"})]


def test_rows_share_their_keys_and_read_as_plain_dicts(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text("Service ref,Name,Amount\nS1,Youth club,\nS2,Boxing,£5k,spare\n", "utf-8")
    first, second = read_table(path).rows
    assert first.values == {"service_ref": "S1", "name": "Youth club", "amount": None}
    assert second.values == {
        "service_ref": "S2", "name": "Boxing", "amount": "£5k", "_extra": ["spare"]
    }  # fmt: skip
    assert first.values.get("name") == "Youth club" and first.values.get("_extra") is None
    assert "_extra" not in first.values and "_extra" in second.values
    assert list(first.values) == ["service_ref", "name", "amount"] and len(first.values) == 3
    with pytest.raises(KeyError):
        first.values["nope"]
    with pytest.raises(TypeError):
        first.values["name"] = "changed"  # type: ignore[index]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "b", ",", '"', "\r", "\n", "£", " "]), max_size=60))
def test_a_csv_is_split_into_lines_as_a_file_opened_with_no_newline_translation(text):
    # what csv.reader is given: each line with its own ending, as io.StringIO(newline="")
    # gives it, from the bytes decoded a block at a time, in each encoding read
    lines = list(io.StringIO(text, newline=""))
    for encoding in ("utf-8-sig", "cp1252", "utf-16"):
        assert list(readers._text(text.encode(encoding), encoding)) == lines


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a,b\n£1,é\n".encode(), "utf-8-sig"),
        ("a,b\n£1,é\n".encode("cp1252"), "cp1252"),
        ("a,b\n€".encode()[:-1], "cp1252"),  # UTF-8 cut short in the last character
        (b"a,\xa3b\n" + b"x" * 20 + b"\x00", "not a CSV"),  # not UTF-8, then a NUL byte
        (b"a,b\n\x00", "utf-8-sig"),  # UTF-8 text: the NUL is the cell's, named by the rows
    ],
)
def test_the_encoding_is_checked_a_block_at_a_time_on_bytes_and_on_a_file(
    tmp_path, monkeypatch, body, expected
):
    """The encoding check reads the file a few bytes at a time here: its answer for the
    bytes and for the file on disk is the same, and a NUL byte anywhere refuses it, even
    after text that is not UTF-8; in UTF-8 text it is left to the rows, which name its cell."""
    monkeypatch.setattr(readers, "_BLOCK", 3)
    path = tmp_path / "sheet.csv"
    path.write_bytes(body)
    answers = []
    for data in (body, path):
        try:
            answers.append(readers._encoding(data))
        except readers.ReadError as error:
            answers.append(str(error))
    assert answers[0] == answers[1]
    assert expected in answers[0]
