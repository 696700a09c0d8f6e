"""Progress of long work: the terminal display (rich, on stderr), when the CLI shows it, and
the steps loading the geography and imports report, with rows that add up to their totals."""

from __future__ import annotations

import csv
import json
import re
import sys
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from directory import terminal
from directory.cli import cli
from directory.ingest.readers import write_table
from directory.ingest.run import run_import
from directory.progress import QUIET, Progress
from directory.store.db import Database
from directory.store.loading import load_geography
from directory.store.repositories.geography import GeographyRepository
from directory.terminal import TerminalProgress, progress_for
from tests.directory.test_import import HEADER, OXYGEN, RESCUE

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CRIME = "crime/mps_borough_level_crime_2024-07_to_2026-06.csv"


def forced_console() -> Console:
    """A console that takes itself for a 120-column terminal, writing into a string."""
    return Console(file=StringIO(), force_terminal=True, width=120)


def text_of(console: Console) -> str:
    """What was written, without the escape sequences (colours, cursor moves)."""
    return ANSI.sub("", console.file.getvalue())  # type: ignore[attr-defined]


def screen_of(console: Console) -> str:
    """The lines a terminal keeps: each as the last carriage return on it left it (the live
    line is redrawn in place; a finished step's line replaces it)."""
    kept = []
    for line in text_of(console).split("\n"):
        drawn = [part for part in line.split("\r") if part]
        if drawn:
            kept.append(drawn[-1])
    return "\n".join(kept) + "\n"


class Recording(Progress):
    """Records every step as [label, total, rows advanced], and the notes."""

    def __init__(self) -> None:
        self.steps: list[list[object]] = []
        self.notes: list[str] = []

    def step(self, label: str, total: int | None = None) -> None:
        self.steps.append([label, total, 0])

    def advance(self, amount: int = 1) -> None:
        assert self.steps, "advance() before any step()"
        self.steps[-1][2] += amount  # type: ignore[operator]

    def note(self, text: str) -> None:
        self.notes.append(text)

    def labels(self) -> list[str]:
        return [str(label) for label, _total, _rows in self.steps]

    def rows(self, label: str) -> int:
        return next(int(rows) for name, _t, rows in self.steps if name == label)  # type: ignore[call-overload]

    def assert_totals_reached(self) -> None:
        short = [
            (label, total, rows)
            for label, total, rows in self.steps
            if total is not None and rows != total
        ]
        assert not short, f"steps whose rows do not add up to their total: {short}"


@pytest.fixture(autouse=True)
def _no_forced_colour(monkeypatch):
    """Whether stderr is a terminal must not depend on the environment the tests run in."""
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)


# -- the terminal display ------------------------------------------------------------------------
def test_steps_show_their_label_rows_and_elapsed_time():
    console = forced_console()
    with TerminalProgress(console) as progress:
        progress.step("reading postcodes")
        progress.advance(180_792)
        progress.step("writing postcodes", total=1_000)
        progress.advance(400)
        progress.refresh()
        live = text_of(console)
        progress.advance(600)
        progress.note("the same files are loaded already")  # after the step it ends
        progress.step("recording the release")
    shown = screen_of(console)
    # while a step with a total runs: a bar and rows done of the total
    assert re.search(r"writing postcodes ━+╺?━* 400/1,000 rows \d+\.\d s", live), live
    # finished steps stay, one line each, with their rows and the time they took
    assert re.search(r"^✓ reading postcodes 180,792 rows \d+\.\d s$", shown, re.M), shown
    assert re.search(r"^✓ writing postcodes 1,000 rows \d+\.\d s$", shown, re.M), shown
    assert re.search(r"^✓ recording the release \d+\.\d s$", shown, re.M), shown
    assert "  the same files are loaded already\n" in shown
    order = [shown.index(t) for t in ("✓ reading", "✓ writing", "the same files", "✓ recording")]
    assert order == sorted(order)


def test_a_step_without_a_total_shows_a_spinner_not_a_bar():
    console = forced_console()
    with TerminalProgress(console) as progress:
        progress.step("building BCUs")
        progress.refresh()
        live = text_of(console)
    line = next(line for line in live.splitlines() if "building BCUs" in line)
    assert line.lstrip()[0] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏" and "━" not in line and "rows" not in line


def test_a_step_that_fails_is_marked_and_the_work_ends_cleanly():
    console = forced_console()
    with pytest.raises(ValueError), TerminalProgress(console) as progress:
        progress.step("writing postcodes", total=10)
        progress.advance(4)
        raise ValueError("broken")
    assert re.search(r"^✗ writing postcodes 4/10 rows \d+\.\d s$", screen_of(console), re.M)
    assert not isinstance(sys.stderr, terminal._LinesAbove)


def test_lines_written_meanwhile_go_above_the_live_line_unwrapped(capsys):
    console = forced_console()
    long_line = "INFO directory.store.loading: " + "x" * 200
    with TerminalProgress(console) as progress:
        progress.step("writing postcodes", total=2)
        print(long_line, file=sys.stderr)
        progress.advance(2)
    shown = screen_of(console)
    assert long_line + "\n" in shown  # one line, however narrow the console
    assert shown.index(long_line) < shown.index("✓ writing postcodes")
    assert long_line not in capsys.readouterr().err  # not also drawn through the live line


def test_nothing_is_written_when_quiet_or_not_a_terminal():
    forced = forced_console()
    with progress_for(quiet=True, console=forced) as progress:
        assert progress is QUIET
        progress.step("reading postcodes", total=3)
        progress.advance(3)
        progress.note("a note")
        progress.done()
    assert forced.file.getvalue() == ""  # type: ignore[attr-defined]
    plain = Console(file=StringIO(), width=120)  # a file, not a terminal
    with progress_for(console=plain) as progress:
        assert progress is QUIET
        progress.step("reading postcodes")
    assert plain.file.getvalue() == ""  # type: ignore[attr-defined]
    with progress_for(console=forced_console()) as progress:
        assert isinstance(progress, TerminalProgress)


# -- the CLI picks it ----------------------------------------------------------------------------
def test_the_cli_shows_progress_only_on_a_terminal_and_not_with_quiet(
    writable_app, tmp_path, monkeypatch
):
    path = tmp_path / "oxygen.csv"
    path.write_text(HEADER + OXYGEN, "utf-8")
    runner = writable_app.test_cli_runner()
    # CliRunner's stderr is not a terminal: nothing but the report
    plain = runner.invoke(cli, ["import", str(path), "--dry-run"])
    assert plain.exit_code == 0, plain.output
    assert "✓" not in plain.output and "\x1b[" not in plain.output
    # a terminal: the steps, on the console; stdout keeps the JSON report alone
    console = forced_console()
    monkeypatch.setattr(terminal, "stderr_console", lambda: console)
    shown = runner.invoke(cli, ["import", str(path), "--dry-run", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["status"] == "dry-run"
    lines = screen_of(console)
    assert "✓ oxygen: reading oxygen.csv" in lines
    assert re.search(r"^✓ oxygen: checking services 1 row \d+\.\d s$", lines, re.M), lines
    # --quiet: nothing on the terminal
    console = forced_console()
    monkeypatch.setattr(terminal, "stderr_console", lambda: console)
    quiet = runner.invoke(cli, ["import", str(path), "--dry-run", "--quiet"])
    assert quiet.exit_code == 0, quiet.output
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]
    assert "dry-run" in quiet.stdout


# -- what the work reports ---------------------------------------------------------------------
def test_loading_the_geography_reports_each_step_and_every_row(empty_settings, shared_data_dir):
    db = Database(empty_settings)
    try:
        db.migrate()
        recorded = Recording()
        report = load_geography(db, shared_data_dir, progress=recorded)
        with db.engine.connect() as connection:
            counts = GeographyRepository(connection).count_postcodes()
        unchanged = Recording()
        again = load_geography(db, shared_data_dir, progress=unchanged)
    finally:
        db.dispose()
    assert report.loaded and not again.loaded
    assert again.counts == report.counts  # (the database's, the files' not read)
    assert unchanged.labels()[-1] == "comparing the checksum with the loaded release"
    assert unchanged.notes == [f"the same files are loaded already (release {report.release_id})"]
    assert recorded.labels() == [
        "comparing the checksum with the loaded release",
        "reading borough boundaries",
        "reading ward boundaries",
        "building BCUs, the region and neighbours",
        "reading postcodes",
        "reading terminated postcodes",
        "checking postcodes",
        "removing the previous geography",
        "writing areas and neighbours",
        "writing postcodes",
        "recording the release",
    ]
    recorded.assert_totals_reached()
    postcodes = report.counts["postcodes"]
    assert (
        recorded.rows("reading postcodes") + recorded.rows("reading terminated postcodes")
        == postcodes
    )
    assert recorded.steps[recorded.labels().index("writing postcodes")][1] == postcodes
    assert sum(counts.values()) == postcodes
    areas = recorded.steps[recorded.labels().index("writing areas and neighbours")][1]
    assert areas == report.counts["areas"] + 2 * report.counts["neighbour pairs"]


def test_an_import_reports_reading_checking_and_writing_with_its_rows(
    writable_app, tmp_path, shared_data_dir
):
    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    path = tmp_path / "oxygen.csv"
    # a row whose only value is in a cell with no heading: counted, nothing to read
    stray = "," * HEADER.count(",") + ",stray\n"
    path.write_text(HEADER + OXYGEN + stray + RESCUE, "utf-8")

    dry = Recording()
    run_import(state.db, snap, state.settings, str(path), dry_run=True, progress=dry)
    assert "oxygen: checking services" in dry.labels()

    recorded = Recording()
    report = run_import(state.db, snap, state.settings, str(path), progress=recorded)
    assert report.status == "succeeded"
    assert recorded.labels() == [
        "oxygen: reading oxygen.csv",
        "oxygen: checking rows",
        "oxygen: writing organisations",
        "oxygen: writing services",
        "oxygen: writing grants",
        "oxygen: writing outcomes and contacts",
        "oxygen: recording change events",
    ]
    recorded.assert_totals_reached()
    assert recorded.steps[1][1:] == [3, 3]  # checking rows: total and rows done
    assert recorded.rows("oxygen: writing services") == 2
    assert recorded.rows("oxygen: writing grants") == 2
    assert recorded.rows("oxygen: recording change events") == report.events > 0

    crime = Recording()
    report = run_import(
        state.db, snap, state.settings, str(shared_data_dir / CRIME), fmt="mps-crime",
        source="mps-borough-crime", progress=crime,
    )  # fmt: skip
    assert report.status == "succeeded"
    assert crime.labels() == [
        f"mps-borough-crime: reading {Path(CRIME).name}",
        "mps-borough-crime: comparing crime counts with the database",
        "mps-borough-crime: writing crime counts",
    ]
    crime.assert_totals_reached()
    assert (
        crime.rows("mps-borough-crime: writing crime counts")
        == (report.counts["crime_counts"]["created"])
    )


def test_a_workbooks_rows_are_checked_in_one_reading_counted_as_they_come(writable_app, tmp_path):
    """A workbook's rows are read once (reading its XML again cost a third of its
    import): its checking step has no total, and counts every row, the row with a stray
    value alone too, as it comes."""
    state = writable_app.extensions["directory"]
    with state.db.engine.connect() as connection:
        snap = state.geography.get(GeographyRepository(connection))
    stray = "," * HEADER.count(",") + ",stray\n"
    header, *rows = csv.reader(StringIO(HEADER + OXYGEN + stray + RESCUE))
    path = tmp_path / "oxygen.xlsx"
    write_table(path, header, rows, format="xlsx")
    recorded = Recording()
    report = run_import(state.db, snap, state.settings, str(path), progress=recorded)
    assert report.status == "succeeded"
    assert recorded.labels()[:2] == ["oxygen: reading oxygen.xlsx", "oxygen: checking rows"]
    assert recorded.steps[1][1:] == [None, 3]
    assert recorded.rows("oxygen: writing services") == 2
