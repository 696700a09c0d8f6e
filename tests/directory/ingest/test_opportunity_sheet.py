"""The template's Opportunities sheet as the import reads it (``run.read_source``), with
no database: a deadline of a month alone, Excel's error values, a sheet the reader
refuses. Writing (all or nothing, on both databases) is in tests/directory/test_opportunities.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from directory.ingest.opportunity_sheet import HEADINGS, SHEET
from directory.ingest.records import Batch, Problem
from directory.ingest.run import read_source
from directory.ingest.template import write_template
from tests.directory.ingest.fakes import FakeContext

LONDON = ZoneInfo("Europe/London")
EXCEL_SAYS = "Fix the formula, or type (or paste as values) what the cell should hold."


def rounds(tmp_path: Path, rows: list[dict[str, Any]], services: list[dict[str, Any]] = (),
           merge: str | None = None) -> Path:  # fmt: skip
    """The blank template with these rows on its Opportunities sheet (and Services sheet);
    ``merge``: a range of the Opportunities sheet to merge."""
    path = tmp_path / "rounds.xlsx"
    write_template(path, format="xlsx")
    book = load_workbook(path)
    for name, entries in (("Opportunities", rows), ("Services", services)):
        sheet = book[name]
        headings = [c.value for c in sheet[1]]
        for entry in entries:
            assert set(entry) <= set(headings), set(entry) - set(headings)
            sheet.append([entry.get(h) for h in headings])
    if merge is not None:
        book["Opportunities"].merge_cells(merge)
    book.save(path)
    return path


def round_row(ref: str, **cells: Any) -> dict[str, Any]:
    return {
        "Opportunity ref": ref, "Title": f"Round {ref}", "Funder": "MOPAC",
        "Closes": "28/02/2027 12:00", "Areas": "Lambeth; Southwark", **cells,
    }  # fmt: skip


def read(path: Path) -> Batch:
    return read_source(path, path.name, "template", FakeContext())  # type: ignore[arg-type]


def cells(problems: list[Problem]) -> set[tuple[int | None, str | None, str | None]]:
    return {(p.row, p.column, p.value) for p in problems}


def warnings_of(batch: Batch) -> list[Problem]:
    return [p for p in batch.problems if p.severity == "warning" and p.row is not None]


def test_a_deadline_of_a_month_alone_is_its_last_day_and_said(tmp_path: Path) -> None:
    """A deadline of "March 2027" was read as 1 March, a round closing a month early (and
    shown as closing soon): it closes at the end of the month's last day, London time, and
    a warning on the cell says which day was taken. An opening of a month alone is its
    first day; a day given is not warned of. A quarter, a season or a weekday with no day
    is refused naming the forms accepted, as an End date's is (which day is meant is a
    guess)."""
    path = rounds(tmp_path, [
        round_row("r-month", Closes="March 2027", Opens="January 2027"),
        round_row("r-leap", Closes="Feb 2028 17:00"),
        round_row("r-day", Closes="31 March 2027", Opens="2027-01-10 09:00"),
        round_row("r-quarter", Closes="Q1 2027"),
        round_row("r-season", Closes="Spring 2027", Opens="Autumn 2026"),
        round_row("r-weekday", Closes="Sat March 2027"),
    ])  # fmt: skip
    batch = read(path)
    got = {r.ref: r for r in batch.opportunities}
    assert set(got) == {"r-month", "r-leap", "r-day"}
    assert got["r-month"].closes_at == datetime(2027, 3, 31, 23, 59, tzinfo=LONDON)
    assert got["r-month"].opens_at == datetime(2027, 1, 1, 0, 0, tzinfo=LONDON)
    assert got["r-leap"].closes_at == datetime(2028, 2, 29, 17, 0, tzinfo=LONDON)
    assert got["r-day"].closes_at == got["r-month"].closes_at
    month, leap = warnings_of(batch)
    assert cells([month, leap]) == {
        (2, "Closes", "March 2027"),
        (3, "Closes", "Feb 2028 17:00"),
    }
    assert month.message == (
        f"{SHEET}: 'March 2027' is a month alone: the round is taken to close on its last "
        "day, 31 March 2027 at 23:59 London time. Give the day (and time) if it closes earlier."
    )
    assert "29 February 2028 at 17:00" in leap.message
    assert cells(batch.errors) == {
        (5, "Closes", "Q1 2027"),
        (6, "Closes", "Spring 2027"),
        (6, "Opens", "Autumn 2026"),
        (7, "Closes", "Sat March 2027"),
    }
    says = {p.value: p.message for p in batch.errors}
    assert "is a period, not a date" in says["Q1 2027"] and "a period" in says["Autumn 2026"]
    assert "names a weekday but no day of the month" in says["Sat March 2027"]
    assert all("write it like 01/04/2021" in message for message in says.values())


def test_a_deadline_typed_as_a_month_into_a_date_cell_is_its_last_day_and_said(
    tmp_path: Path,
) -> None:
    """ "Mar-27" typed into a cell is, to Excel, the date 1 March 2027 shown as ``mmm-yy``:
    as a Closes it closed the round a month early, with no word. It closes at 23:59 on the
    month's last day, and the warning names the month as the cell shows it; an Opens of
    one is the 1st at 00:00; a date cell showing its day is that day."""
    path = rounds(tmp_path, [
        round_row("r-month", Closes=datetime(2027, 3, 1), Opens=datetime(2027, 1, 1)),
        round_row("r-day", Closes=datetime(2027, 3, 1)),
    ])  # fmt: skip
    book = load_workbook(path)
    sheet = book["Opportunities"]
    headings = [c.value for c in sheet[1]]
    closes, opens = headings.index("Closes") + 1, headings.index("Opens") + 1
    sheet.cell(2, closes).number_format = "mmm-yy"
    sheet.cell(2, opens).number_format = "mmmm yyyy"
    sheet.cell(3, closes).number_format = "dd/mm/yyyy"
    book.save(path)
    batch = read(path)
    assert batch.errors == []
    got = {r.ref: r for r in batch.opportunities}
    assert got["r-month"].closes_at == datetime(2027, 3, 31, 23, 59, tzinfo=LONDON)
    assert got["r-month"].opens_at == datetime(2027, 1, 1, 0, 0, tzinfo=LONDON)
    assert got["r-day"].closes_at == datetime(2027, 3, 1, 23, 59, tzinfo=LONDON)
    (warning,) = warnings_of(batch)
    assert (warning.row, warning.column, warning.value) == (2, "Closes", "Mar 2027")
    assert warning.message.startswith(
        f"{SHEET}: 'Mar 2027' is a month alone: the round is taken to close on its last day, "
        "31 March 2027 at 23:59 London time."
    )


def test_excel_error_values_are_each_their_cells_problem_beside_the_services(
    tmp_path: Path,
) -> None:
    """An Excel error value in the Opportunities sheet was the whole file's one problem,
    and the services sheet's were lost with it: each such cell is a problem of its own,
    the other cells and rows of both sheets are still checked, and a required cell
    holding one is not also said to be missing."""
    path = rounds(
        tmp_path,
        [
            round_row("r-1", Closes="#N/A", **{"Amount max": "#DIV/0!"}),
            round_row("r-2", Title="#REF!", Areas="Narnia"),
            round_row("r-3", Themes="#VALUE!", Opens="someday"),
            round_row("r-4"),
        ],
        services=[
            {"Service ref": "S-1", "Service name": "Club", "Organisation name": "#NAME?",
             "Coverage": "Kingston"},
            {"Service ref": "S-2", "Service name": "Club", "Organisation name": "Trust",
             "Coverage": "Atlantis"},
        ],
    )  # fmt: skip
    sheet = load_workbook(path)["Opportunities"]
    assert sheet["N2"].value == "#N/A" and sheet["N2"].data_type == "e"
    batch = read(path)
    assert cells(batch.errors) == {
        (2, "Organisation name", "#NAME?"),  # the services'
        (3, "Coverage", "Atlantis"),
        (2, "Closes", "#N/A"),  # the opportunities'
        (2, "Amount max", "#DIV/0!"),
        (3, "Title", "#REF!"),
        (3, "Areas", "Narnia"),
        (4, "Themes", "#VALUE!"),
        (4, "Opens", "someday"),
    }
    ours = [p for p in batch.errors if p.message.startswith(f"{SHEET}: ")]
    assert len(ours) == 6
    for problem in ours:
        if problem.value.startswith("#"):
            assert problem.message == (
                f"{SHEET}: The cell holds Excel's error value {problem.value}: its formula's "
                f"result is an error. {EXCEL_SAYS}"
            )
    assert [r.ref for r in batch.opportunities] == ["r-4"]


def test_a_fault_the_reader_refuses_names_the_sheet_beside_the_services_problems(
    tmp_path: Path,
) -> None:
    """A fault of the Opportunities sheet the reader refuses (cells merged across rows)
    replaced every problem of the services sheet, and named no sheet: it is said beside
    them, as the Opportunities sheet's."""
    path = rounds(
        tmp_path, [round_row("r-1"), round_row("r-2")],
        services=[{"Service ref": "S-1", "Service name": "Club", "Organisation name": "Trust",
                   "Coverage": "Atlantis"}],
        merge="B2:B3",
    )  # fmt: skip
    assert HEADINGS[1] == "Title"
    batch = read(path)
    coverage, merged = batch.errors
    assert (coverage.row, coverage.column, coverage.value) == (2, "Coverage", "Atlantis")
    assert merged.message.startswith(f"{SHEET}: The sheet 'Opportunities' in rounds.xlsx has ")
    assert "B2:B3 under 'Title'" in merged.message


def test_text_longer_than_the_directory_keeps_is_its_cells_problem(tmp_path: Path) -> None:
    """Found by the import's own check, once the sheet's other problems were mended: no
    value, and no subject ("Opportunities: 400 characters long"). It is found as the cell
    is read, beside them, named as a services sheet's is."""
    path = rounds(tmp_path, [round_row("r-long", Title="T" * 400), round_row("r-2", Closes="soon")])
    long, soon = read(path).errors
    assert (long.row, long.column, long.value) == (2, "Title", "T" * 60 + "…")
    assert long.message == f"{SHEET}: Title is 400 characters long; at most 300 are kept."
    assert (soon.row, soon.column, soon.value) == (3, "Closes", "soon")
