"""Read a CSV or XLSX spreadsheet into rows keyed by normalised column headings, and write one.

Reading does not interpret cells: strings come back as they were typed (only cells that are
blank or all whitespace become None) and :mod:`directory.ingest.values` does the cleaning.
Row numbers are the spreadsheet's own, so a problem can be reported as "row 7, column Amount"
and found at once in Excel.

Plain Python only: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import re
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from directory.ingest.values import MonthCell, clean_text, shows_month_alone, unstorable

__all__ = [
    "EXTRA",
    "Content",
    "ExcelError",
    "MAX_BLANK_RUN",
    "MAX_ROWS",
    "ReadError",
    "SheetHead",
    "above_warning",
    "bytes_of",
    "ended_warning",
    "head_of",
    "is_workbook",
    "sha256_of",
    "Row",
    "Sheet",
    "Table",
    "normalise_header",
    "read_sheet",
    "read_table",
    "sheet_heads",
    "write_table",
]

#: a file as a reader is given it: its bytes (an upload), or where it is (read again as
#: often as needed, a block at a time, never held whole: a 100,000-row CSV is 32 MB)
Content = bytes | Path
#: what a file is read by, a block at a time
_BLOCK = 2**20


#: the most rows a sheet may have after its header row, blank ones included: a row of data
#: further down is refused as soon as it is read (a file of a million blank or
#: whitespace-only rows took minutes to read)
MAX_ROWS = 200_000
#: this many blank rows in a row end a sheet: what follows is not read, and the readers
#: warn where it ended. Excel can leave empty or whitespace-only rows (formulas giving "")
#: down to row 1,048,576; openpyxl takes about a millisecond a row of 36 whitespace cells,
#: so 1,000 keep a reading's cost of such rubbish to a second
MAX_BLANK_RUN = 1_000
#: how many rows of each sheet the format's detection looks at for its header row
HEAD_ROWS = 100
#: a reader told which headings to expect looks for them among this many rows that are not
#: blank (below a title, a date, a note), else takes the first as the header row
HEADING_SEARCH = 10
#: the key under which a row keeps cells found to the right of the last heading
EXTRA = "_extra"

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls, encrypted .xlsx
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_DELIMITERS = (",", ";", "\t")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ReadError(ValueError):
    """The file cannot be read at all. The message is plain English, for the person who
    uploaded it. A fault in one cell also says where (``row``, ``column``: the heading, or
    "cell N" where there is none) and what is wrong there (``reason``), for a problem that
    names them apart; the message names them too), with the cell's ``value`` (cut short)
    where it can be shown. ``cell``: the index of the cell in its row, where the reading
    knows no heading yet (the headings name it as ``column`` once they are read)."""

    def __init__(
        self, message: str, *, row: int | None = None, column: str | None = None,
        reason: str | None = None, value: str | None = None, cell: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.row, self.column, self.reason = row, column, reason or message
        self.value, self.cell = value, cell


def normalise_header(text: Any) -> str:
    """The key for a column heading: ``"Service Ref "`` → ``service_ref``, ``"Amount (£)"``
    → ``amount``, ``"Start-date"`` → ``start_date``, ``"Areas & wards"`` →
    ``areas_and_wards``. Case is folded, ``&`` becomes ``and`` and every run of other
    characters that are not letters or digits becomes one ``_``."""
    words = (clean_text(text) or "").casefold().replace("&", " and ")
    return re.sub(r"[\W_]+", "_", words).strip("_")


class RowValues(Mapping[str, Any]):
    """A row's cells by column key, read-only: the keys' positions are shared by every row
    of a table and the cells are a tuple (36 cells: about 330 bytes, where a dict of them
    took over 1 KB, a row)."""

    __slots__ = ("_cells", "_index")

    def __init__(self, index: dict[str, int], cells: tuple[Any, ...]) -> None:
        self._index = index
        self._cells = cells

    def __getitem__(self, key: str) -> Any:
        return self._cells[self._index[key]]

    def get(self, key: str, default: Any = None) -> Any:
        position = self._index.get(key)
        return default if position is None else self._cells[position]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, slots=True)
class ExcelError:
    """A cell holding one of Excel's error values (``#N/A``), kept for the caller to report
    as its cell's problem (``keep_errors``): refused as the whole file's one error, it hid
    every other problem of the sheet until it was put right."""

    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def problem(self) -> str:
        """What is said of the cell, in every sheet that reads it."""
        return (
            f"The cell holds Excel's error value {self.text}: its formula's result is an "
            "error. Fix the formula, or type (or paste as values) what the cell should hold."
        )


@dataclass(frozen=True, slots=True)
class Row:
    """One data row. ``number`` is the row number shown by the spreadsheet program (the
    header row of a CSV is row 1). ``values`` (read-only) has a key for every column; blank
    cells are None. Non-blank cells to the right of the last heading are listed under
    ``"_extra"``."""

    number: int
    values: Mapping[str, Any]


@dataclass
class Table:
    """A sheet of data: the headings as written (stripped), their keys, and the rows."""

    columns: list[str]
    keys: list[str]
    rows: list[Row]
    source: str
    sheet: str | None = None
    #: where ``MAX_BLANK_RUN`` blank rows began, ending the sheet (None: it ended itself)
    ended_at: int | None = None
    #: the workbook's other sheets laid out the same way, which are not read
    passed_over: tuple[str, ...] = ()
    #: the header row's number
    header_at: int = 1
    #: the first row above the header row that is not blank (a title), and its text, when
    #: the header row is not the first such row; it is not read
    above: tuple[int, str] | None = None

    def column(self, key: str) -> str:
        """The heading as written for a key (for messages); the key itself if unknown."""
        return _column(self.columns, self.keys, key)

    def each_row(self) -> Iterator[Row]:
        """The rows, as :meth:`Sheet.each_row` gives a sheet's."""
        return iter(self.rows)


def _column(columns: list[str], keys: list[str], key: str) -> str:
    try:
        return columns[keys.index(key)]
    except ValueError:
        return key


#: numbered rows of cells as a file holds them, header and all: read from its bytes afresh
#: each time it is called
Cells = Callable[[], Generator[tuple[int, Sequence[Any]]]]


@dataclass
class Sheet:
    """A sheet read as it is needed: its headings at once, its rows each time
    :meth:`each_row` is called, from the file's bytes (none held in between). A 100,000-row
    sheet held as a :class:`Table` is 170 MB; an import reads its rows twice instead."""

    columns: list[str]
    keys: list[str]
    source: str
    sheet: str | None
    _cells: Cells
    _positions: list[int]
    #: where ``MAX_BLANK_RUN`` blank rows began, ending the sheet, once its rows are read
    ended_at: int | None = None
    #: the workbook's other sheets laid out the same way, which are not read
    passed_over: tuple[str, ...] = ()
    #: the header row's number, and the title above it (as :class:`Table` has them)
    header_at: int = 1
    above: tuple[int, str] | None = None
    #: Excel's error values are :class:`ExcelError` cells, not a ReadError (``read_table``)
    keep_errors: bool = False
    #: a workbook's sheet (not a CSV): reading its rows again costs a third of an import's
    #: reading (its XML parsed again), where a CSV's cost under a tenth
    workbook: bool = False

    def column(self, key: str) -> str:
        """The heading as written for a key (for messages); the key itself if unknown."""
        return _column(self.columns, self.keys, key)

    def each_row(self) -> Iterator[Row]:
        """The data rows, read again from the file; raises :class:`ReadError` where
        :func:`read_table` would (too many rows, a cell too long, malformed CSV)."""
        numbered = self._cells()
        for number, _ in numbered:  # to the header row
            if number >= self.header_at:
                break

        def ended(number: int) -> None:
            self.ended_at = number

        return _data_rows(
            numbered, self.keys, self._positions, self.source, self.columns, ended,
            keep_errors=self.keep_errors,
        )  # fmt: skip


# -- reading ------------------------------------------------------------------------------------


def read_table(
    source: Path | bytes,
    *,
    format: str | None = None,
    sheet: str | None = None,
    name: str | None = None,
    reads: Callable[[str], bool] | None = None,
    expected: Headings | None = None,
    keep_errors: bool = False,
) -> Table:
    """Read a CSV or XLSX file (a path, or the uploaded bytes) into a :class:`Table`.

    ``format`` is ``"csv"`` or ``"xlsx"``; without it the format comes from the suffix of
    ``name`` or the path, and failing that from the content. ``sheet`` picks an XLSX sheet by
    name (any case); the first sheet is read otherwise. ``name`` is the file name reported
    as ``Table.source``. ``reads`` says, by a column's key, whether the caller reads it
    (all of them by default): formulas with no saved result under a heading it does not
    read are not refused. ``expected`` says, by their keys, whether a row's cells are the
    headings the caller expects: the header row is then the first of the first
    ``HEADING_SEARCH`` rows that are not blank it accepts (below a title), else the first
    such row, as without it. A cell holding one of Excel's error values under a heading is
    a :class:`ReadError` naming it, or with ``keep_errors`` an :class:`ExcelError` cell for
    the caller to report among the sheet's other problems. Raises :class:`ReadError` when
    the file cannot be read.
    """
    if isinstance(source, bytes | bytearray):
        data = bytes(source)
        label = name or "upload"
    else:
        path = Path(source)
        label = name or path.name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ReadError(f"The file {label} does not exist") from None
        except OSError as error:
            raise ReadError(f"The file {label} cannot be opened: {error.strerror}") from None
    cells, title, faults = _cells_of(data, format, sheet, label)
    numbered, header, above = _find_header(cells, expected)
    try:  # one reading: the header, then the rows
        if header is None:
            raise ReadError(f"The file {label} has no header row (it is empty)")
        columns, keys, positions = _header(header[1])
        used = _used(columns, keys, positions, reads)
        _refuse_faults(faults, header[0], used, label, title())
        ended: list[int] = []
        rows = list(
            _data_rows(
                numbered, keys, positions, label, columns, ended.append, keep_errors=keep_errors
            )
        )
    finally:
        numbered.close()  # a workbook is closed at once, not when collected
    table = Table(columns=columns, keys=keys, rows=rows, source=label, sheet=title())
    table.ended_at = ended[0] if ended else None
    table.header_at, table.above = header[0], above
    return table


def read_sheet(
    data: Content, *, format: str | None = None, sheet: str | None = None,
    name: str | None = None, reads: Callable[[str], bool] | None = None,
    expected: Headings | None = None, keep_errors: bool = False,
) -> Sheet:  # fmt: skip
    """:func:`read_table` without reading the rows: a :class:`Sheet` that reads them from
    ``data`` (the file's bytes, or the file itself: a path, read again and never held) each
    time they are asked for. Its headings are read now, so a file that cannot be read, or
    has no header row, is a :class:`ReadError` here."""
    label = name or (data.name if isinstance(data, Path) else "upload")
    content = data if isinstance(data, Path) else bytes(data)
    cells, title, faults = _cells_of(content, format, sheet, label)
    first, header, above = _find_header(cells, expected)
    first.close()  # a workbook is closed at once, not when collected
    if header is None:
        raise ReadError(f"The file {label} has no header row (it is empty)")
    columns, keys, positions = _header(header[1])
    _refuse_faults(faults, header[0], _used(columns, keys, positions, reads), label, title())
    return Sheet(
        columns, keys, label, title(), cells, positions, header_at=header[0], above=above,
        keep_errors=keep_errors, workbook=_format_of(content, format, label) == "xlsx",
    )  # fmt: skip


def _cells_of(
    data: Content, format: str | None, sheet: str | None, label: str
) -> tuple[Cells, Callable[[], str | None], SheetFaults]:
    """How to read the file's numbered rows of cells afresh (as often as called), its
    sheet's title once they have been read (None for a CSV), and its faults (formulas with
    no saved result, cells merged across rows) found when the rows are first read (none in
    a CSV). What can be
    checked before reading is checked here: the format, a workbook's unzipped size, a CSV's
    encoding."""
    faults = SheetFaults()
    if _format_of(data, format, label) == "xlsx":
        _check_unzipped_size(data, label)
        titles: list[str] = []

        def workbook() -> Generator[tuple[int, Sequence[Any]]]:
            return _xlsx_cells(data, label, sheet, titles, faults)

        return workbook, lambda: titles[0] if titles else None, faults
    encoding = _encoding(data)  # checked now, on the whole file
    with _text(data, encoding) as head:
        delimiter = _sniff_delimiter("".join(itertools.islice(head, 50)))

    def text() -> Generator[tuple[int, Sequence[Any]]]:
        return _numbered(_text(data, encoding), label, delimiter)

    return text, lambda: None, faults


def ended_warning(table: Table | Sheet) -> str | None:
    """What to warn when a run of blank rows ended the sheet before its last row."""
    if table.ended_at is None:
        return None
    return (
        f"Reading stopped at row {table.ended_at:,}: {MAX_BLANK_RUN:,} blank rows in a row "
        "end a sheet, so any rows below them were not read (delete the blank rows to "
        "import them)."
    )


def above_warning(table: Table | Sheet) -> str | None:
    """What to warn when the headings were found below a title (``expected``): the row
    taken for them, and the title's row, which is not read."""
    if table.above is None:
        return None
    number, text = table.above
    return (
        f"The headings are taken from row {table.header_at}: row {number} ('{text}') "
        f"{'and the rows below it are' if table.header_at - number > 1 else 'is'} above "
        "them, and not read."
    )


def is_workbook(data: Content, label: str) -> bool:
    """Whether the file is read as an XLSX workbook (by its bytes, else its name); a file
    that is neither CSV nor XLSX is a :class:`ReadError`."""
    return _format_of(data, None, label) == "xlsx"


def _format_of(data: Content, format: str | None, label: str) -> str:
    if format is not None:
        kind = format.lower().lstrip(".")
        if kind not in ("csv", "xlsx"):
            raise ReadError(f"The format {format!r} is not supported; use CSV or XLSX")
        return kind
    head = head_of(data, 4096)
    if head.startswith(_OLE_MAGIC):
        raise ReadError(
            "The file is an old-style Excel (.xls) workbook or is password-protected; "
            "save it as .xlsx or CSV without a password"
        )
    if head.startswith(_ZIP_MAGIC):  # whatever its name says, a zip can only be a workbook
        return "xlsx"
    suffix = Path(label).suffix.lower()
    if suffix in _XLSX_SUFFIXES:
        return "xlsx"
    if suffix == ".xls":
        raise ReadError("The file is an old-style Excel (.xls) workbook; save it as .xlsx or CSV")
    if suffix in _CSV_SUFFIXES:
        return "csv"
    if _looks_like_text(head):
        return "csv"
    raise ReadError("The file is not a CSV or XLSX spreadsheet")


def _looks_like_text(data: bytes) -> bool:
    # kept hand-written: charset-normalizer's is_binary() calls b"\x00\x01\x02binary\x00" text,
    # which test_readers requires to be refused as not a spreadsheet
    sample = data[:4096]
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF8)):
        return True
    if b"\x00" not in sample:
        return True
    # a NUL byte: binary, unless the sample is UTF-8 text whose first line (the headings) holds
    # no control character: a sheet with a NUL in a cell, which the rows name (_data_rows)
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(sample) - 3:  # (not just a character cut at the sample's end)
            return False
        text = sample[: error.start].decode("utf-8")
    first, newline, _rest = text.partition("\n")
    return bool(newline) and not any(c < " " and c not in "\t\r" for c in first)


def _encoding(data: Content) -> str:
    """The encoding of a CSV file's text, checked on the whole of it: UTF-8 (with or
    without BOM), UTF-16 with BOM, or Windows-1252 (what Excel's plain "CSV" saves on a
    UK PC)."""
    # Kept hand-written rather than charset-normalizer (issue 12), on measurement: on 3,000
    # generated sheets of UK text (accents, £, €, curly quotes) it read 36 valid UTF-8 files as
    # Windows-1252 ("Amount (Â£)"; 48 with threshold=1.0) even limited to these three
    # encodings, and refused 170 valid Windows-1252 files; with its defaults it misread 2,182
    # of the Windows-1252 ones (as cp1250, mac_roman, ...). Strict UTF-8 first is decisive (text
    # in any other encoding is almost never valid UTF-8), and Windows-1252 is the only other
    # encoding a UK spreadsheet saves, so there is nothing left to detect.
    # tests/directory/ingest/test_parsing_libraries.py keeps the two files it got wrong.
    if head_of(data, 2).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        if _decodes(data, "utf-16"):
            return "utf-16"
        raise ReadError("The file's text is damaged; save it again as CSV UTF-8")
    if _decodes(data, "utf-8-sig", refuse_nul=True):  # one reading: UTF-8 (a NUL byte in
        return "utf-8-sig"  # UTF-8 text is a cell's fault, found by row and column)
    if _decodes(data, "cp1252"):
        return "cp1252"
    raise ReadError("The file's text encoding is not recognised; save it from Excel as 'CSV UTF-8'")


def _is_blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(data: Content, encoding: str) -> io.TextIOWrapper:
    """The file's text, decoded a block at a time as it is read (the whole of it would be a
    second copy of the file, up to four bytes a character), its lines untranslated as
    ``csv.reader`` needs them."""
    return io.TextIOWrapper(_open(data), encoding=encoding, newline="")


def _open(data: Content) -> BinaryIO:
    return data.open("rb") if isinstance(data, Path) else io.BytesIO(data)


def head_of(data: Content, size: int) -> bytes:
    """The file's first ``size`` bytes."""
    if isinstance(data, Path):
        with data.open("rb") as handle:
            return handle.read(size)
    return data[:size]


def bytes_of(data: Content) -> bytes:
    """The whole file (for the formats read whole: JSON)."""
    return data.read_bytes() if isinstance(data, Path) else data


def sha256_of(data: Content) -> str:
    """The file's SHA-256 (hex), read a block at a time."""
    digest = hashlib.sha256()
    for block in _blocks(data):
        digest.update(block)
    return digest.hexdigest()


def _blocks(data: Content) -> Iterator[bytes]:
    with _open(data) as handle:
        while block := handle.read(_BLOCK):
            yield block


def _decodes(data: Content, encoding: str, *, refuse_nul: bool = False) -> bool:
    """Whether the whole file is text in ``encoding``, decoded a block at a time (decoding
    it at once made the text of the whole file, up to four times its size). With
    ``refuse_nul``, a NUL byte in a file that is not text in ``encoding`` (a binary file)
    is a :class:`ReadError`; in one that is, it is left for the rows to report where it is
    (:func:`_data_rows`)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    decodes, nul = True, False
    for block in _blocks(data):
        nul = nul or (refuse_nul and b"\x00" in block)
        if decodes:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                decodes = False  # (read on for a NUL byte, if refused)
        if not decodes and (nul or not refuse_nul):
            break
    if decodes:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            decodes = False
    if nul and not decodes:
        raise ReadError("The file is not a CSV or XLSX spreadsheet")
    return decodes


def _numbered(
    lines: io.TextIOWrapper, label: str, delimiter: str
) -> Generator[tuple[int, Sequence[Any]]]:
    """CSV records numbered as a spreadsheet program numbers them (a quoted cell that spans
    lines is still one row); a malformed file becomes a ReadError."""
    number = 0
    record: list[str] = []  # the lines of the record being read (most records: one)

    def kept() -> Iterator[str]:
        for line in lines:
            record.append(line)
            yield line

    iterator = csv.reader(kept(), delimiter=delimiter)
    last: list[str] = []
    with lines:  # the file closed once read, or once its reading is closed
        while True:
            try:
                cells = next(iterator)
            except StopIteration:
                if last and _ends_in_a_quoted_cell(last, delimiter):
                    raise ReadError(
                        f"The file {label} ends inside a quoted cell, in row {number}: it was "
                        'cut short, or a quote (") opening a cell there is never closed'
                    ) from None
                return
            except csv.Error as error:
                if "field larger than field limit" in str(error):  # (the csv module's words)
                    limit = csv.field_size_limit()
                    cell, start = _long_cell(record, delimiter, limit)
                    raise ReadError(
                        f"Row {number + 1} of {label} holds a cell of more than "
                        f"{limit:,} characters, more than a spreadsheet cell "
                        f"can ({MAX_CELL_CHARS:,})",
                        row=number + 1,
                        reason=f"The cell holds more than {limit:,} characters, more than a "
                        f"spreadsheet cell can ({MAX_CELL_CHARS:,}).",
                        cell=cell,
                        value=_cut(start),
                    ) from None
                raise ReadError(
                    f"The file {label} is not valid CSV near row {number + 1}: {error}"
                ) from None
            number += 1
            last = record.copy()
            record.clear()
            yield number, cells


def _long_cell(lines: list[str], delimiter: str, limit: int) -> tuple[int | None, str]:
    """The index of a record's first cell longer than ``limit``, and its start, from the
    lines of the record read so far (the csv module's error names no cell): its
    delimiters outside quotes counted, as csv reads them."""
    text = "".join(lines)
    cell = begun = at = 0
    quoted = False
    while at < len(text):
        char = text[at]
        if quoted and char == '"':
            if text[at + 1 : at + 2] == '"':  # a quote inside a quoted cell, doubled
                at += 1
            else:
                quoted = False
        elif char == '"' and at == begun:
            quoted = True
        elif char == delimiter and not quoted:
            cell, begun = cell + 1, at + 1
        if at - begun > limit:
            return cell, text[begun : begun + 61].lstrip('"')
        at += 1
    return None, ""


def _cut(text: str) -> str | None:
    """A long cell's start, to show with its problem (none when it cannot be stored)."""
    if not text or unstorable(text[:60]):
        return None
    return text[:60] + "…"


def _ends_in_a_quoted_cell(lines: list[str], delimiter: str) -> bool:
    """Whether a record's lines end inside a quoted cell: ``csv.reader`` (not strict, as a
    messy file needs) ends such a cell at the end of the file without a word, so a file cut
    short in one lost the rest of its row silently. Its last record read again, strictly."""
    try:
        for _ in csv.reader(lines, delimiter=delimiter, strict=True):
            pass
    except csv.Error as error:
        return "unexpected end of data" in str(error)  # (the csv module's words)
    return False


def _sniff_delimiter(text: str) -> str:
    """``,``, ``;`` or tab: the one that splits the first rows into the most columns, the
    same number on most rows (a title above the headings is one cell, whatever splits it)."""
    lines = [line for line in text.splitlines()[:50] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (False, 0.0, 0)
    sample = "\n".join(lines)
    for delimiter in _DELIMITERS:
        try:
            rows = list(csv.reader(io.StringIO(sample), delimiter=delimiter))
        except csv.Error:
            continue
        rows = [row for row in rows if row]
        if not rows:
            continue
        counts = Counter(len(row) for row in rows)
        width = max(counts, key=lambda w: (counts[w], w))  # (of as many rows, the wider)
        agreement = sum(len(row) == width for row in rows) / len(rows)
        score = (width > 1, agreement, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


#: whether a row's headings (their keys) are those a reader expects
Headings = Callable[[frozenset[str]], bool]


def _find_header(
    cells: Cells, expected: Headings | None
) -> tuple[Generator[tuple[int, Sequence[Any]]], tuple[int, Sequence[Any]] | None,
           tuple[int, str] | None]:  # fmt: skip
    """The file's rows, opened and read to the header row; that row with its number (None:
    the sheet is empty); and the first row above it that is not blank, with its text, when
    there is one (a title). The header row is the first row that is not blank, or with
    ``expected`` the first of the first ``HEADING_SEARCH`` such rows whose headings it
    accepts (when none does, the first such row, whose reading says what it lacks)."""
    numbered = cells()
    try:
        if expected is not None:
            above = None
            for number, row in itertools.islice(_filled_rows(numbered), HEADING_SEARCH):
                if expected(_keys_of(row)):
                    return numbered, (number, row), above
                if above is None:
                    text = " ".join(str(c).strip() for c in row if not _is_blank(c))
                    above = (number, text if len(text) <= 100 else text[:99] + "…")
            numbered.close()
            numbered = cells()
        return numbered, _header_row(numbered), None
    except BaseException:
        numbered.close()
        raise


def _filled_rows(
    numbered: Iterator[tuple[int, Sequence[Any]]],
) -> Iterator[tuple[int, Sequence[Any]]]:
    """The rows that are not blank, until ``MAX_BLANK_RUN`` blank rows in a row."""
    blanks = 0
    for number, cells in numbered:
        if all(_is_blank(cell) for cell in cells):
            blanks += 1
            if blanks >= MAX_BLANK_RUN:
                return
            continue
        blanks = 0
        yield number, cells


def _header_row(
    numbered: Iterator[tuple[int, Sequence[Any]]],
) -> tuple[int, Sequence[Any]] | None:
    """The first row that is not blank (taken from ``numbered``), with its number, or None:
    none before the end, or before ``MAX_BLANK_RUN`` blank rows in a row (the sheet is
    empty)."""
    for blanks, (number, cells) in enumerate(numbered):
        if blanks >= MAX_BLANK_RUN:
            return None
        if not all(_is_blank(cell) for cell in cells):
            return number, cells
    return None


def _data_rows(
    numbered: Iterator[tuple[int, Sequence[Any]]],
    keys: list[str],
    positions: list[int],  # the cell index of each heading
    label: str,
    columns: list[str],  # the headings, as written
    ended: Callable[[int], None] | None = None,
    *,
    keep_errors: bool = False,
) -> Iterator[Row]:
    """The rows after the header that are not blank, each with a value for every key. A
    cell too long, or holding text that cannot be stored
    (:func:`~directory.ingest.values.unstorable`), is a ReadError naming its row and
    column; so is one holding Excel's error value, unless ``keep_errors`` (it is then an
    :class:`ExcelError`). Every row read counts towards ``MAX_ROWS``, blank or not: a row of data past it
    is a ReadError as soon as it is read; ``MAX_BLANK_RUN`` blank rows in a row end the
    sheet (``ended`` is told the row number where they began)."""
    heading = dict(zip(positions, columns, strict=True))
    try:
        yield from _rows_read(numbered, keys, positions, heading, label, ended, keep_errors)
    except ReadError as error:  # (a cell the CSV reader refused, which knows no heading)
        if error.cell is not None and error.column is None:
            error.column = heading.get(error.cell, f"cell {error.cell + 1}")
        raise


def _rows_read(
    numbered: Iterator[tuple[int, Sequence[Any]]],
    keys: list[str],
    positions: list[int],
    heading: dict[int, str],
    label: str,
    ended: Callable[[int], None] | None,
    keep_errors: bool,
) -> Iterator[Row]:
    """:func:`_data_rows`' rows."""
    used = set(positions)
    by_key = {key: n for n, key in enumerate(keys)}  # shared by every row
    with_extra = {**by_key, EXTRA: len(keys)}
    unused: dict[int, list[int]] = {}  # by a row's length: its cells under no heading
    count = blanks = 0
    for number, cells in numbered:
        count += 1
        # each cell's blankness once (:func:`_is_blank` written out: it was asked three
        # times a cell, 780,000 calls for a 10,000-row file read twice)
        blank = [c is None or (isinstance(c, str) and not c.strip()) for c in cells]
        if all(blank):
            blanks += 1
            if blanks >= MAX_BLANK_RUN:  # the sheet has ended: what lies below is not read
                if ended is not None:
                    ended(number - blanks + 1)
                return
            continue
        blanks = 0
        failed = False  # (a cell holding Excel's error value, kept)
        if count > MAX_ROWS:
            raise ReadError(
                f"The file has more than {MAX_ROWS:,} rows below its header (blank rows "
                f"between rows of data count too): row {number} is past the limit; split it "
                "into smaller files"
            )
        text = "".join(cell for cell in cells if isinstance(cell, str))
        if len(text) > MAX_CELL_CHARS or "#" in text:  # (else no cell can be either)
            failed = _check_cells(number, cells, used, heading, label, keep_errors)
        if unstorable(text):
            _refuse_unstorable(number, cells, heading, label)  # (the row's text looked at once)
        if failed:
            cells = [
                ExcelError(c) if isinstance(c, str) and c in EXCEL_ERRORS else c for c in cells
            ]
        size = len(cells)
        values = [
            None if position >= size or blank[position] else cells[position]
            for position in positions
        ]
        others = unused.get(size)
        if others is None:
            others = unused[size] = [n for n in range(size) if n not in used]
        extra = [cells[n] for n in others if not blank[n]]
        if extra:
            yield Row(number, RowValues(with_extra, (*values, extra)))
        else:
            yield Row(number, RowValues(by_key, tuple(values)))


def _check_cells(
    number: int, cells: Sequence[Any], used: set[int], heading: dict[int, str], label: str,
    keep_errors: bool,
) -> bool:  # fmt: skip
    """Refuse a row with a cell too long, or holding Excel's error value under a heading
    (:class:`ReadError`, the first such cell named); with ``keep_errors`` such an error
    value is kept instead, and the answer is whether the row holds one."""
    failed = False
    for index, cell in enumerate(cells):
        if not isinstance(cell, str):
            continue
        if len(cell) > MAX_CELL_CHARS:
            raise ReadError(
                f"Row {number}, cell {index + 1} of {label} holds {len(cell):,} characters, "
                f"more than a spreadsheet cell can ({MAX_CELL_CHARS:,})",
                row=number,
                reason=f"The cell holds {len(cell):,} characters, more than a spreadsheet "
                f"cell can ({MAX_CELL_CHARS:,}).",
                cell=index,
                value=_cut(cell),
            )
        if cell[:1] == "#" and cell in EXCEL_ERRORS and index in used:
            if keep_errors:
                failed = True
                continue
            column = heading[index]
            raise ReadError(
                f"Row {number}, column '{column}' of {label} holds Excel's error value "
                f"{cell} (a formula that failed, or a value Excel could not show): "
                "correct it in the sheet, or clear the cell",
                row=number, column=column, reason=f"Excel's error value {cell}.",
                value=cell,
            )  # fmt: skip
    return failed


#: the values Excel shows (and saves, and writes to a CSV) for a cell whose formula failed:
#: read as text they became names and refs (an organisation called "#N/A")
EXCEL_ERRORS = frozenset({
    "#N/A", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!",
    "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
})  # fmt: skip


def _refuse_unstorable(
    number: int, cells: Sequence[Any], heading: dict[int, str], label: str
) -> None:
    """The ReadError naming the first cell of row ``number`` whose text cannot be stored."""
    for index, cell in enumerate(cells):
        why = unstorable(cell) if isinstance(cell, str) else None
        if why is not None:
            column = heading.get(index, f"cell {index + 1}")
            raise ReadError(
                f"Row {number}, column '{column}' of {label}: the cell {why}",
                row=number,
                column=column,
                reason=f"The cell {why}.",
            )


def _header(cells: Sequence[Any]) -> tuple[list[str], list[str], list[int]]:
    """Headings, keys and cell positions from the header row. Cells with no heading are
    skipped (anything under them is kept as an extra); two headings with the same key are a
    ReadError naming them."""
    columns: list[str] = []
    keys: list[str] = []
    positions: list[int] = []
    first_heading: dict[str, str] = {}
    clashes: list[str] = []
    for position, cell in enumerate(cells):
        heading = clean_text(cell)
        if heading is None:
            continue
        why = unstorable(heading)
        if why is not None:
            raise ReadError(f"The heading of column {position + 1} in the header row {why}")
        key = normalise_header(heading) or f"column_{position + 1}"
        if key in first_heading:
            clashes.append(
                f"'{heading}'"
                if heading == first_heading[key]
                else f"'{first_heading[key]}' and '{heading}'"
            )
            continue
        first_heading[key] = heading
        columns.append(heading)
        keys.append(key)
        positions.append(position)
    if clashes:
        raise ReadError(
            "The header row names the same column more than once: "
            + ", ".join(clashes)
            + "; give each column a different heading"
        )
    return columns, keys, positions


#: the most an XLSX workbook may hold once unzipped (its parts' declared sizes, which
#: zipfile holds each part to): a 300 KB file can otherwise unzip to a 400 MB cell. A
#: 10,000-service template workbook (scripts/make_directory.py) unzips to 16 MB, so
#: MAX_ROWS rows fit.
MAX_XLSX_UNZIPPED = 384 * 1024 * 1024
#: the longest text a cell may hold: Excel's own limit
MAX_CELL_CHARS = 32_767


def _check_unzipped_size(data: Content, label: str) -> None:
    try:
        with _open(data) as handle, zipfile.ZipFile(handle) as archive:
            unzipped = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ReadError(
            f"The file {label} is not a readable XLSX workbook (it may be damaged); "
            "open it in Excel and save it again"
        ) from error
    if unzipped > MAX_XLSX_UNZIPPED:
        raise ReadError(
            f"The workbook {label} unzips to {unzipped / 2**20:,.0f} MB, more than "
            f"{MAX_XLSX_UNZIPPED // 2**20} MB; split it into smaller files"
        )


def _read_only_workbook(handle: BinaryIO, label: str) -> Any:
    """The workbook in ``handle`` opened read-only, values only (a damaged one a ReadError).

    openpyxl opens each read-only sheet by looking for its ``<dimension>`` element, and
    means to stop at ``<sheetData>`` when there is none; but it stops at the *end* of
    ``<sheetData>``, so a sheet saved without one (as some exporters save them) was parsed
    whole before its first row could be read: 7 s for a million rows, three times over an
    import (which sheet, its header, its rows), so an uploaded file took a server worker past
    its timeout. The sheets are opened here as openpyxl means to: stopping at the start of
    ``<sheetData>``. (The size found is not used: every reader calls ``reset_dimensions``.)"""
    from openpyxl import load_workbook
    from openpyxl.worksheet._reader import WorkSheetParser

    WorkSheetParser.parse_dimensions = _dimensions_before_the_cells
    try:
        return load_workbook(handle, read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML and openpyxl's own errors
        raise ReadError(
            f"The file {label} is not a readable XLSX workbook (it may be damaged); "
            "open it in Excel and save it again"
        ) from error


def _dimensions_before_the_cells(parser: Any) -> tuple[int, int, int, int] | None:
    """openpyxl's ``WorkSheetParser.parse_dimensions`` (3.1), reading the sheet's XML only
    as far as the start of its cells: the boundaries its ``<dimension>`` gives, or None."""
    from openpyxl.worksheet._reader import DATA_TAG, DIMENSION_TAG
    from openpyxl.worksheet.dimensions import SheetDimension
    from openpyxl.xml.functions import iterparse

    for _, element in iterparse(parser.source, events=("start",)):
        if element.tag == DIMENSION_TAG:  # (an empty element: its attributes are read)
            return SheetDimension.from_tree(element).boundaries
        if element.tag == DATA_TAG:
            return None
    return None


def _xlsx_cells(
    data: Content, label: str, sheet: str | None, titles: list[str], faults: SheetFaults
) -> Generator[tuple[int, Sequence[Any]]]:
    """The numbered rows of cells of the sheet (the first, or ``sheet``) of a workbook
    whose unzipped size has been checked; its title is put in ``titles`` once opened, and
    on that first reading its formulas with no saved result and its cells merged across
    rows in ``faults``."""
    with warnings.catch_warnings():
        # openpyxl warns about features it drops (data validation, conditional formats,
        # unknown extensions); none of them matter for reading values
        warnings.simplefilter("ignore")
        handle = _open(data)
        try:
            workbook = _read_only_workbook(handle, label)
        except ReadError:
            handle.close()
            raise
        try:
            worksheet = _pick_sheet(workbook.worksheets, sheet, label)
            if not titles:  # the first read of the sheet (its rows may be read again)
                try:
                    any_formula, faults.merged[:] = _scan(worksheet)
                    if any_formula:
                        faults.formulas.update(_uncalculated(worksheet))
                except Exception as error:  # zipfile's CRC, broken XML: a damaged sheet
                    raise ReadError(
                        f"The sheet '{worksheet.title}' in {label} cannot be read (it may "
                        "be damaged); open it in Excel and save it again"
                    ) from error
            titles[:] = [worksheet.title]
            worksheet.reset_dimensions()  # do not trust the size the file claims
            try:
                if _shows_months(workbook, worksheet):
                    yield from enumerate(map(_with_months, worksheet.iter_rows()), start=1)
                else:  # (the cells' values alone: a tenth faster)
                    yield from enumerate(worksheet.iter_rows(values_only=True), start=1)
            except Exception as error:  # damaged sheet XML
                raise ReadError(
                    f"The sheet '{worksheet.title}' in {label} cannot be read (it may be "
                    "damaged); open it in Excel and save it again"
                ) from error
        finally:
            workbook.close()
            handle.close()  # (openpyxl closes what it opened, not a file it is given)


def _shows_months(workbook: Any, worksheet: Any) -> bool:
    """Whether any of the workbook's cell styles shows a date as a month alone (its styles
    by openpyxl's own list, ``_cell_styles``, each as a read-only cell reads its format)."""
    from openpyxl.cell.read_only import ReadOnlyCell

    return any(
        shows_month_alone(ReadOnlyCell(worksheet, 1, 1, None, style_id=style).number_format)
        for style in range(len(workbook._cell_styles))
    )


def _with_months(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """The values of a row of read-only cells; a date shown as a month alone (typed as
    "Mar-27") a :class:`~directory.ingest.values.MonthCell`, not the 1st of the month."""
    return tuple(
        MonthCell.of(cell.value)
        if isinstance(cell.value, datetime) and shows_month_alone(cell.number_format)
        else cell.value
        for cell in row
    )


#: how a formula's element starts in a sheet's XML (``<f>``, ``<f t="shared" …/>``, or with
#: a namespace prefix): looked for as plain bytes, which is fast (text holding one only
#: costs the closer look)
_FORMULA_ELEMENTS = tuple(
    start + end for start in (b"<f", b":f") for end in (b">", b" ", b"/", b"\t", b"\n", b"\r")
)
#: the end of a sheet's cells: what follows (Excel's extensions, whose data validation and
#: conditional formats hold formulas of their own, ``<xm:f>``) is not looked at
_CELLS_END = b"sheetData>"
#: cell types whose empty saved result means "never calculated" (a formula giving the
#: empty string is saved as ``t="str"`` with an empty value; a number is never empty)
_NUMERIC_TYPES = frozenset({None, "n"})


def _closes(xml: bytes, at: int) -> bool:
    """Whether the tag whose name ends at ``at`` is a closing one (``</sheetData>``,
    ``</x:sheetData>``)."""
    start = xml.rfind(b"<", 0, at)
    return xml[start + 1 : start + 2] == b"/"


@dataclass
class ColumnFormulas:
    """One column's formulas with no saved result: how many, and the first few cells, as
    (row number, reference), in the sheet's order."""

    count: int = 0
    cells: list[tuple[int, str]] = field(default_factory=list)


#: a sheet's formulas with no saved result, by column (its cells' index in a row)
Uncalculated = dict[int, ColumnFormulas]
#: a merged range: (first row, last row, first column, last column), from 1
Merged = tuple[int, int, int, int]


@dataclass
class SheetFaults:
    """What a sheet's values alone do not show, found when its rows are first read: its
    formulas with no saved result, and its ranges of cells merged across rows."""

    formulas: Uncalculated = field(default_factory=dict)
    merged: list[Merged] = field(default_factory=list)


#: a merged range in a sheet's XML (``<mergeCell ref="B2:B4"/>``, listed after its cells)
_MERGE_CELL = re.compile(
    rb'<(?:[A-Za-z_][\w.-]*:)?mergeCell\b[^>]*?\bref="\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)"'
)


#: the most ranges merged across rows a sheet's scan keeps (a hostile sheet may list
#: millions within its unzipped size; a real one a few, which the first of them show)
MAX_MERGED = 10_000


def _scan(worksheet: Any) -> tuple[bool, list[Merged]]:
    """One quick read of the sheet's XML as bytes: whether its cells hold any formula (most
    sheets have none, and only those with one are parsed again, :func:`_uncalculated`),
    and its ranges of cells merged across more than one row (listed after the cells;
    openpyxl's read-only sheets do not keep them)."""
    from openpyxl.utils.cell import column_index_from_string

    formula, in_cells, merged = False, True, set()
    with worksheet._get_source() as source:  # the sheet's XML in the workbook (openpyxl's)
        tail = b""
        while chunk := source.read(1 << 20):
            chunk, rest = tail + chunk, b""
            if in_cells:
                end = chunk.find(_CELLS_END)
                while end != -1 and not _closes(chunk, end):
                    end = chunk.find(_CELLS_END, end + 1)  # <sheetData>, not its end
                cells, rest = (chunk, b"") if end == -1 else (chunk[:end], chunk[end:])
                formula = formula or any(start in cells for start in _FORMULA_ELEMENTS)
                in_cells = end == -1
            else:
                rest = chunk
            if b"mergeCell" in rest:
                for first_col, first_row, last_col, last_row in _MERGE_CELL.findall(rest):
                    if int(last_row) > int(first_row) and len(merged) < MAX_MERGED:
                        merged.add((
                            int(first_row), int(last_row),
                            column_index_from_string(first_col.decode()),
                            column_index_from_string(last_col.decode()),
                        ))  # fmt: skip
            tail = chunk[-256:]
    return formula, sorted(merged)


#: how many of a column's cells a refusal names
NAMED_CELLS = 5


def _uncalculated(worksheet: Any) -> Uncalculated:
    """The sheet's formulas that have no saved result, by column. A workbook written by a
    program that does not calculate (openpyxl, many exporters) keeps only the formula, and
    reading values then gives an empty cell. Excel and LibreOffice save every result. Only
    a sheet whose quick scan (:func:`_scan`) found a formula is parsed here."""
    from openpyxl.utils.cell import coordinate_to_tuple, get_column_letter
    from openpyxl.xml.functions import iterparse  # openpyxl's parser (defusedxml if present)

    columns: Uncalculated = {}
    # Where a cell is, as openpyxl reads it: its reference ("B12"), worked out only for the
    # cells named; a writer may leave references out (or leave them empty), and then a cell
    # follows the one before it in its row, and a row the one before it
    row, rows, column, last_ref = 0, 0, 0, None
    unplaced: list[tuple[ColumnFormulas, int]] = []  # the row's named cells without one
    with worksheet._get_source() as source:
        for _, element in iterparse(source, events=("end",)):
            name = element.tag.rpartition("}")[2]
            if name == "row":
                row = int(element.get("r") or row + 1)
                for found_here, at in unplaced:
                    found_here.cells.append((row, f"{get_column_letter(at)}{row}"))
                unplaced.clear()
                element.clear()  # its cells are looked at (a sheet's rows are not kept)
                rows, column, last_ref = rows + 1, 0, None
                if rows > MAX_ROWS:  # reading the rows refuses the sheet: no need to go on
                    break
                continue
            if name == "sheetData":
                break
            if name != "c":
                continue
            ref = element.get("r") or None
            if ref is None:
                column = (coordinate_to_tuple(last_ref)[1] if last_ref else column) + 1
            last_ref = ref
            formula = value = None
            for child in element:
                name = child.tag.rpartition("}")[2]
                if name == "f":
                    formula = child
                elif name == "v":
                    value = child
            if (
                formula is not None and element.get("t") in _NUMERIC_TYPES
                and (value is None or not (value.text or "").strip())
            ):  # fmt: skip
                at_row, at = coordinate_to_tuple(ref) if ref else (0, column)  # 1-based
                found_here = columns.setdefault(at - 1, ColumnFormulas())
                found_here.count += 1
                if found_here.count > NAMED_CELLS:
                    pass  # counted, not named
                elif ref is None:
                    unplaced.append((found_here, at))  # named at its row's end, numbered
                else:
                    found_here.cells.append((at_row, ref))
            element.clear()
    return columns


def _used(
    columns: list[str], keys: list[str], positions: list[int], reads: Callable[[str], bool] | None
) -> list[tuple[str, int]]:
    """The (heading, position) of the columns the caller reads (``reads`` by key; all)."""
    return [
        (heading, position)
        for heading, key, position in zip(columns, keys, positions, strict=True)
        if reads is None or reads(key)
    ]


def _refuse_faults(
    faults: SheetFaults, header_row: int, used: list[tuple[str, int]], label: str,
    sheet: str | None,
) -> None:  # fmt: skip
    _refuse_uncalculated(faults.formulas, header_row, used, label, sheet)
    _refuse_merged(faults.merged, header_row, used, label, sheet)


def _refuse_merged(
    merged: list[Merged], header_row: int, used: list[tuple[str, int]], label: str,
    sheet: str | None,
) -> None:  # fmt: skip
    """Refuse a sheet whose cells are merged across rows below its header in a column
    read: a merged cell's value is the first row's alone, so the rows below would be
    imported without it (a coverage merged over three services' rows left two with none)."""
    from openpyxl.utils.cell import get_column_letter

    headings = {position + 1: heading for heading, position in used}
    named = []
    for first_row, last_row, first_col, last_col in merged:
        if last_row <= header_row:
            continue
        under = [headings[c] for c in range(first_col, last_col + 1) if c in headings]
        if under:
            ref = (
                f"{get_column_letter(first_col)}{first_row}:{get_column_letter(last_col)}{last_row}"
            )
            named.append(f"{ref} under '{under[0]}'")
    if named:
        shown = ", ".join(named[:NAMED_CELLS]) + (
            f" and {len(named) - NAMED_CELLS:,} more" if len(named) > NAMED_CELLS else ""
        )
        raise ReadError(
            f"The sheet '{sheet}' in {label} has cells merged across rows ({shown}): a merged "
            "cell's value belongs to its first row only, so the rows below would be read "
            "without it. Unmerge them and fill the value into every row"
        )


def _refuse_uncalculated(
    formulas: Uncalculated, header_row: int, used: list[tuple[str, int]], label: str,
    sheet: str | None,
) -> None:  # fmt: skip
    """Refuse a sheet holding formulas with no saved result where they are read: in its
    header row or above it (a heading read as empty would drop its column), or under the
    heading of a column read (``used``: heading, position). Read for their values they are
    empty cells, and their data would be imported as blank without a word. A column
    without a heading, or one the format ignores, is not read, so its formulas below the
    header do not matter."""
    fix = (
        ": the program that wrote it did not work them out, so they would be read as empty. "
        "Open the file in Excel or LibreOffice and save it (which works them out), or paste "
        "their values over them"
    )
    high = sorted(
        cell for found in formulas.values() for cell in found.cells if cell[0] <= header_row
    )
    if high:
        refs = ", ".join(ref for _, ref in high[:NAMED_CELLS])
        raise ReadError(
            f"The sheet '{sheet}' in {label} has formulas with no saved result in its header "
            f"row or above it (cell {refs})" + fix
        )
    named = [(heading, formulas[position]) for heading, position in used if position in formulas]
    if not named:
        return
    parts = []
    for heading, found in named:
        more = (
            f" and {found.count - len(found.cells):,} more"
            if found.count > len(found.cells)
            else ""
        )
        parts.append(f"'{heading}' (cell {', '.join(ref for _, ref in found.cells)}{more})")
    which = (
        f"column {parts[0]}"
        if len(parts) == 1
        else f"columns {', '.join(parts[:-1])} and {parts[-1]}"
    )
    raise ReadError(
        f"The sheet '{sheet}' in {label} has formulas with no saved result in {which}" + fix
    )


@dataclass(frozen=True)
class SheetHead:
    """A sheet's header row as the format's detection sees it: its title (None for a CSV),
    whether it is hidden, and the keys of its headings (the first row that is not blank
    among its first ``HEAD_ROWS``; none if there is no such row)."""

    title: str | None
    hidden: bool
    keys: frozenset[str]


def sheet_heads(data: Content, label: str, expected: Headings | None = None) -> list[SheetHead]:
    """Every sheet's header row, in the workbook's order, read cheaply: the first
    ``HEAD_ROWS`` rows of each sheet, in read-only mode. A CSV is one sheet. ``expected``:
    as :func:`read_table` takes it."""
    if not is_workbook(data, label):
        sheet = read_sheet(data, name=label, expected=expected)
        return [SheetHead(None, False, frozenset(sheet.keys))]
    _check_unzipped_size(data, label)
    heads = []
    with warnings.catch_warnings(), _open(data) as handle:
        warnings.simplefilter("ignore")
        workbook = _read_only_workbook(handle, label)
        try:
            for worksheet in workbook.worksheets:
                worksheet.reset_dimensions()
                try:
                    rows = worksheet.iter_rows(max_row=HEAD_ROWS, values_only=True)
                    filled = list(itertools.islice(
                        (r for r in rows if not all(map(_is_blank, r))),
                        1 if expected is None else HEADING_SEARCH,
                    ))  # fmt: skip
                    header = next(
                        (
                            r for r in filled[:HEADING_SEARCH]
                            if expected is not None and expected(_keys_of(r))
                        ),
                        filled[0] if filled else None,
                    )  # fmt: skip
                except Exception as error:  # damaged sheet XML
                    raise ReadError(
                        f"The sheet '{worksheet.title}' in {label} cannot be read (it may be "
                        "damaged); open it in Excel and save it again"
                    ) from error
                keys = _keys_of(header or ())
                hidden = getattr(worksheet, "sheet_state", "visible") != "visible"
                heads.append(SheetHead(worksheet.title, hidden, keys))
        finally:
            workbook.close()
    if not heads:
        raise ReadError(f"The workbook {label} has no sheets of data")
    return heads


def _keys_of(cells: Sequence[Any]) -> frozenset[str]:
    """The keys of a row's cells read as headings."""
    return frozenset(normalise_header(cell) for cell in cells if not _is_blank(cell))


def choose_sheet(
    heads: Sequence[SheetHead], fits: Callable[[SheetHead], bool], prefer: str
) -> SheetHead | None:
    """The sheet whose header row ``fits``: a visible one before any hidden one, then one
    whose title is ``prefer`` (or contains it, ignoring case and punctuation), then the
    first; None if none fits."""
    fitting = [head for head in heads if fits(head)]
    wanted = normalise_header(prefer)

    def rank(head: SheetHead) -> tuple[bool, int]:
        title = normalise_header(head.title or "")
        return head.hidden, 0 if title == wanted else 1 if wanted in title else 2

    return min(fitting, key=rank, default=None)  # (min keeps the first of equals)


def sheet_names(data: Content, label: str) -> list[str]:
    """The names of an XLSX workbook's sheets, case-folded and stripped."""
    _check_unzipped_size(data, label)
    with warnings.catch_warnings(), _open(data) as handle:
        warnings.simplefilter("ignore")
        workbook = _read_only_workbook(handle, label)
        try:
            return [w.title.strip().casefold() for w in workbook.worksheets]
        finally:
            workbook.close()


def add_sheet(path: Path, sheet: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Add a sheet (bold frozen header, as ``write_table`` writes) to an XLSX file."""
    from openpyxl import load_workbook

    workbook = load_workbook(path)
    position = workbook.sheetnames.index("Columns") if "Columns" in workbook.sheetnames else None
    _fill_sheet(workbook.create_sheet(sheet, position), columns, rows)
    workbook.save(path)


def _pick_sheet(worksheets: list[Any], wanted: str | None, label: str) -> Any:
    if not worksheets:
        raise ReadError(f"The workbook {label} has no sheets of data")
    if wanted is None:
        return worksheets[0]
    for worksheet in worksheets:
        if worksheet.title.strip().casefold() == wanted.strip().casefold():
            return worksheet
    names = ", ".join(f"'{worksheet.title}'" for worksheet in worksheets)
    raise ReadError(f"The sheet '{wanted}' does not exist; the workbook has: {names}")


# -- writing ------------------------------------------------------------------------------------


def write_table(
    path: Path,
    columns: list[str],
    rows: list[list[Any]],
    *,
    format: str,
    sheet: str = "Services",
    notes: list[tuple[str, str]] | None = None,
) -> None:
    """Write a table as CSV or XLSX.

    CSV is UTF-8 with a byte-order mark (so Excel shows £ and accents right) and ``\\r\\n``
    line ends; dates are ISO ``yyyy-mm-dd``. XLSX has a bold, frozen header row, fitted
    column widths, real dates and numbers, and (when ``notes`` are given) a second sheet
    "Columns" explaining each heading. Text that a spreadsheet would run as a formula
    (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return) is made harmless: prefixed
    with ``'`` in CSV, stored as plain text in XLSX. Lists are written as ``a; b``.
    """
    kind = format.lower().lstrip(".")
    if kind == "csv":
        _write_csv(Path(path), columns, rows)
    elif kind == "xlsx":
        _write_xlsx(Path(path), columns, rows, sheet, notes)
    else:
        raise ValueError(f"The format {format!r} is not supported; use csv or xlsx")


def _neutralised(text: str) -> str:
    """Text made safe to open in a spreadsheet: a leading ``'`` where it could be a formula."""
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.time() == datetime.min.time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | tuple | set | frozenset):
        return _neutralised("; ".join(str(item) for item in value))
    return _neutralised(str(value))


def _write_csv(path: Path, columns: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([_csv_cell(column) for column in columns])
        for row in rows:
            writer.writerow([_csv_cell(value) for value in row])


def _xlsx_cell(value: Any) -> Any:
    """A value openpyxl writes as the right kind of cell (strings are handled apart)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list | tuple | set | frozenset):
        return "; ".join(str(item) for item in value)
    if value is None or isinstance(value, bool | int | float | date):
        return value
    return str(value)


def _write_xlsx(
    path: Path,
    columns: list[str],
    rows: list[list[Any]],
    sheet: str,
    notes: list[tuple[str, str]] | None,
) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet
    _fill_sheet(worksheet, columns, rows)
    if notes is not None:
        _fill_sheet(workbook.create_sheet("Columns"), ["Heading", "Meaning"], notes)
    workbook.save(path)


def _fill_sheet(worksheet: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    widths = [len(str(column)) for column in columns]
    bold = Font(bold=True)
    for row_number, values in enumerate([columns, *rows], start=1):
        for column_number, value in enumerate(values, start=1):
            value = _xlsx_cell(value)
            cell = worksheet.cell(row=row_number, column=column_number)
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell.value = value
                cell.data_type = "s"  # never a formula, whatever it starts with
                if value.startswith(_FORMULA_STARTS):
                    cell.quotePrefix = True  # Excel keeps it as text if the cell is edited
            else:
                cell.value = value
                if isinstance(value, datetime):
                    cell.number_format = "yyyy-mm-dd hh:mm"
                elif isinstance(value, date):
                    cell.number_format = "yyyy-mm-dd"
            if row_number == 1:
                cell.font = bold
            if column_number > len(widths):
                widths.append(0)
            if row_number <= 1000:  # fit to the first rows; enough for a sensible width
                shown = 10 if isinstance(value, date) else len(str(value or ""))
                widths[column_number - 1] = max(widths[column_number - 1], shown)
    for index, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = min(max(width, 6), 60) + 2
    worksheet.freeze_panes = "A2"
