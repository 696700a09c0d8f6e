"""Benchmark the refusal of a workbook too long to import whose sheet has no ``<dimension>``.

Some exporters save a sheet without the ``<dimension>`` element that gives its size, and
openpyxl (3.1) then parsed the whole sheet each time the workbook was opened, looking for
one; an import opens it three times (which sheet, its header, its rows). This writes such
a workbook, a template sheet of ``--rows`` rows (by default Excel's most, 1,048,575; about
14 MB, under the upload limit), and times a dry-run import of it into a fresh SQLite
database, in this process, as ``POST /api/v1/imports`` runs one: the seconds until it is
refused for its rows past ``MAX_ROWS``, and the longest stretch without a look at the clock
(where an upload's time limit can stop it; see ``scripts/bench_import.py``).

Usage::

    .venv/bin/python scripts/bench_unsized_sheet.py [--rows 1048575] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _benchlib import default_data_dir, directory_env, init_database, machine  # noqa: E402
from bench_import import Looks  # noqa: E402

from directory import create_app  # noqa: E402
from directory.ingest.run import run_import  # noqa: E402
from directory.settings import Settings  # noqa: E402
from directory.store.repositories.geography import GeographyRepository  # noqa: E402


def write_unsized(path: Path, rows: int) -> None:
    """A template workbook of ``rows`` rows (a header, then services) with no dimension."""
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "Services"
    workbook.active.append(["placeholder"])
    saved = io.BytesIO()
    workbook.save(saved)
    header = "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{text}</t></is></c>'
        for column, text in zip("ABC", ["Service ref", "Service name", "Organisation"], strict=True)
    )
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                xml = re.sub(rb"<dimension [^>]*/>", b"", data)
                before, _, after = xml.partition(b"<sheetData>")
                cells = [f'<row r="1">{header}</row>'.encode()]
                cells += [
                    b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>S%d</t></is></c>'
                    b'<c r="B%d" t="inlineStr"><is><t>Service %d</t></is></c></row>'
                    % (n, n, n, n, n)
                    for n in range(2, rows + 1)
                ]
                rest = after.partition(b"</sheetData>")[2]  # (the placeholder's row dropped)
                data = before + b"<sheetData>" + b"".join(cells) + b"</sheetData>" + rest
            out.writestr(info, data)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_048_575)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        path = work / "unsized.xlsx"
        write_unsized(path, args.rows)
        env = directory_env(f"sqlite:///{work / 'db.sqlite3'}", work / "instance", args.data_dir)
        init_database(env, args.data_dir)
        app = create_app(Settings.from_env(env))
        state = app.extensions["directory"]
        with state.db.engine.connect() as connection:
            snap = state.geography.get(GeographyRepository(connection))
        looks = Looks()
        started = time.perf_counter()
        report = run_import(state.db, snap, state.settings, str(path), dry_run=True, progress=looks)
        seconds = time.perf_counter() - started
        looks.step("the end")
        state.db.dispose()
        size = path.stat().st_size
    refusal = report.problems[0].message if report.problems else "(none)"
    print(f"## A workbook of {args.rows:,} rows with no <dimension>\n")
    print(f"- machine: {machine()}")
    print(f"- file: {size / 2**20:.1f} MB; imported as a dry run, as an upload is")
    print(f"- refused: {not report.ok}, in **{seconds:.1f} s**: {refusal}")
    print(
        f"- longest stretch without a look at the clock: {looks.longest[0]:.1f} s ({looks.longest[1]})"
    )
    return 0 if not report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
