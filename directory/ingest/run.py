"""Run an import: fetch a file (path or URL), read it in its format, apply it.

Formats: ``template`` (the directory's own spreadsheet, CSV or XLSX), ``360giving`` (a
360Giving JSON package, or its flat CSV/XLSX) and ``hsds`` (Open Referral HSDS 3.0 JSON);
and the need figures ``mps-crime`` (Met Police borough-level crime) and ``population``
(borough population estimates), read and written by ``directory.usecases.funding``.
Without ``--format`` the format is recognised from the file.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from directory.ingest.apply import (
    ImportOptions,
    ImportReport,
    finish_row,
    import_batch,
    now,
    run_row,
)
from directory.ingest.context import GeographyContext
from directory.ingest.giving360 import (
    GRANT_KEYS,
    json_text,
    read_360giving_json,
    read_360giving_table,
)
from directory.ingest.hsds import read_hsds_json
from directory.ingest.need import NEED_FORMATS, detect_need_format, import_need
from directory.ingest.opportunity_sheet import SHEET as OPPORTUNITY_SHEET
from directory.ingest.opportunity_sheet import add_opportunities
from directory.ingest.readers import (
    Content,
    ReadError,
    Sheet,
    SheetHead,
    bytes_of,
    head_of,
    is_workbook,
    normalise_header,
    read_sheet,
    read_table,
    sha256_of,
    sheet_heads,
    sheet_names,
)
from directory.ingest.records import Batch, Problem, Spool
from directory.ingest.template import (
    are_template_headings,
    is_template_sheet,
    read_template,
    template_sheet,
)
from directory.ingest.template import funder as template_funder
from directory.ingest.values import unstorable
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.directory import DirectoryRepository
from directory.store.repositories.geography import GeographyRepository
from directory.store.repositories.scratch import ScratchFullError
from directory.usecases.geography import GeographySnapshot
from geodata.sources import data_file

FORMATS = ("template", "360giving", "hsds", "mps-crime", "population")
MODES = ("incremental", "full")
MAX_BYTES = 100 * 1024 * 1024
#: the longest a download may wait for its next bytes, and may take in all: a server
#: sending a byte now and then held an import (and the write lock) without end
FETCH_TIMEOUT_S = 60
FETCH_DEADLINE_S = 600
MAX_SOURCE_NAME = 80
FULL_NEEDS_SOURCE = (
    "A full import withdraws what its source no longer lists, so it needs the source named "
    "(--source, or the API's source): taken from the file's name, week49.xlsx and "
    "week50.xlsx would be two sources, and neither would withdraw anything."
)


def public_location(location: str) -> str:
    """Where a run read from, as the API may show it: a URL without credentials or query
    (which can carry tokens), a local file by its name only."""
    if location.startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(location)
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))[:1000]
    return Path(location).name[:1000]


class SourceError(Exception):
    """The source cannot be fetched at all (missing file, HTTP error, too big)."""


def _read_by(response: Any, deadline: float, location: str) -> bytes:
    """The answer's body, up to one byte past MAX_BYTES, read as it comes (each read
    returns what one arrival brings) until its end, or a SourceError at ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BYTES:
        if time.monotonic() > deadline:
            raise SourceError(
                f"Cannot download {location}: it took longer than {FETCH_DEADLINE_S} s in "
                f"all ({size:,} bytes came)"
            )
        chunk = response.read1(min(1 << 20, MAX_BYTES + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def fetch(location: str, base_dir: Path | None = None) -> Content:
    """The bytes of an http(s) URL, or of a local path (relative to ``base_dir``); a
    regular file is given back as its path, checked to be readable and not too big: the
    readers read it as they need it (a spreadsheet a block at a time, several times, never
    held whole). A pipe can be read only once: its bytes are read here."""
    if location.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(location, timeout=FETCH_TIMEOUT_S) as response:  # noqa: S310
                declared = response.headers.get("Content-Length", "")
                data = _read_by(response, time.monotonic() + FETCH_DEADLINE_S, location)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise SourceError(f"Cannot download {location}: {error}") from None
        except http.client.IncompleteRead as error:  # (a chunked answer cut short)
            raise SourceError(f"Cannot download {location}: it was cut short ({error})") from None
        except (ValueError, http.client.HTTPException) as error:  # a URL that is not one
            # ('http://[::1/x', a port that is no number, a space in the host)
            raise SourceError(f"Cannot download {location}: not a URL ({error})") from None
        if declared.strip().isdigit() and len(data) < min(int(declared), MAX_BYTES + 1):
            # (a server that closes early is no error to urllib: the bytes just stop, and a
            # file cut short could withdraw every service it no longer lists)
            raise SourceError(
                f"Cannot download {location}: it was cut short ({len(data):,} of "
                f"{int(declared):,} bytes)"
            )
    else:
        path = Path(location)
        if location.startswith("file:"):  # (a file: URL, RFC 8089: it was a relative path)
            parts = urllib.parse.urlsplit(location)
            if parts.netloc not in ("", "localhost"):
                raise SourceError(f"Cannot read {location}: a file: URL of another host")
            path = Path(urllib.parse.unquote(parts.path))
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            with path.open("rb") as handle:  # (a directory cannot be opened)
                status = os.fstat(handle.fileno())
                if not stat.S_ISREG(status.st_mode):
                    data = handle.read(MAX_BYTES + 1)
        except OSError as error:
            raise SourceError(f"Cannot read {path}: {error.strerror or error}") from None
        if stat.S_ISREG(status.st_mode):
            if status.st_size > MAX_BYTES:
                raise SourceError(f"{location} is larger than {MAX_BYTES // 2**20} MB.")
            return path
    if len(data) > MAX_BYTES:
        raise SourceError(f"{location} is larger than {MAX_BYTES // 2**20} MB.")
    return data


def detect_format(data: Content, name: str) -> str:
    """Guess the format: JSON with "grants", or a list of grants, is 360Giving, other JSON
    is HSDS (JSON too deep
    to parse is left to the 360Giving or HSDS reader to refuse); a spreadsheet is 360Giving
    when a sheet's header row has 360Giving's "Identifier" and "Amount Awarded" columns, the
    template when one names the "Service ref" column (every sheet of a workbook is looked
    at, a visible one before a hidden one), else the template (whose reader says what is
    missing)."""
    return _sniff(data, name)[0]


#: members every 360Giving grant has and no Open Referral service does
_GRANT_MEMBERS = frozenset({"amountAwarded", "awardDate", "recipientOrganization"})


def _are_grants(parsed: object) -> bool:
    """Whether parsed JSON is 360Giving: a package (``{"grants": [...]}``), or a bare list
    of grants (which its reader takes too), known by their first item's members."""
    if isinstance(parsed, dict):
        return "grants" in parsed
    first = parsed[0] if isinstance(parsed, list) and parsed else None
    return isinstance(first, dict) and not _GRANT_MEMBERS.isdisjoint(first)


def _sniff(data: Content, name: str) -> tuple[str, Sheet | None]:
    """The format (as :func:`detect_format`) and, in the template, the sheet whose headings
    told it, so the template reader need not find and read them a second time."""
    suffix = Path(name).suffix.lower()
    if suffix == ".json" or _is_json(data):
        guess = "hsds" if suffix != ".json" else "360giving"
        try:
            parsed = json.loads(json_text(bytes_of(data)))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return guess, None  # its reader refuses it, saying why ("nested too deeply")
        return ("360giving" if _are_grants(parsed) else "hsds"), None
    try:
        if not is_workbook(data, name):
            table = read_sheet(data, name=name, expected=_either_headings, keep_errors=True)
            keys = set(table.keys)
            need = detect_need_format(sorted(keys))  # Met crime counts or population estimates
            if need is not None:
                return need, table
            if keys >= GRANT_KEYS:
                return "360giving", table
            # its headings, unless a title above them was read for them (the template's
            # reading looks further down for them)
            head = SheetHead(None, False, frozenset(keys))
            return "template", table if is_template_sheet(head) else None
        heads = sheet_heads(data, name, _either_headings)
    except ReadError:
        return "template", None
    need = detect_need_format(sorted(heads[0].keys))  # (read from the first sheet)
    if need is not None:
        return need, None
    for head in sorted(heads, key=lambda head: head.hidden):  # (a stable sort)
        if head.keys >= GRANT_KEYS:
            return "360giving", None
        if is_template_sheet(head):
            break
    try:
        return "template", template_sheet(data, name, heads)
    except ReadError:
        return "template", None  # read_source reports it


def _either_headings(keys: frozenset[str]) -> bool:
    """Whether a row is 360Giving's headings or the template's (below a title, either)."""
    return keys >= GRANT_KEYS or are_template_headings(keys)


def _is_json(data: Content) -> bool:
    return json_text(head_of(data, 64), "ignore").lstrip("\ufeff \t\r\n")[:1] in ("{", "[")


def read_source(
    data: Content,
    name: str,
    fmt: str,
    ctx: GeographyContext,
    *,
    progress: Progress = QUIET,
    label: str = "checking rows",
    table: Sheet | None = None,
) -> Batch:
    """Read the bytes in ``fmt`` into a Batch; an unreadable file is one error in it.
    A spreadsheet in the template is checked row by row: ``progress`` is told that step
    (``label``) and its rows. ``table``, if given, is the spreadsheet's headings already
    read from ``data``. A template's services are read again as they are written
    (:func:`read_template`)."""
    try:
        if fmt == "hsds":
            return read_hsds_json(bytes_of(data), ctx)
        if fmt == "360giving":
            whole = bytes_of(data)
            return (
                read_360giving_json(whole, ctx)
                if _is_json(whole)
                else read_360giving_table(whole, ctx, name=name)
            )
        if table is None:
            table = template_sheet(data, name)
        batch = read_template(table, ctx, progress=progress, label=label)
        # a workbook: its "Opportunities" sheet too, if it has one
        if head_of(data, 2) == b"PK" and OPPORTUNITY_SHEET.casefold() in sheet_names(data, name):
            try:  # (an Excel error value is its cell's problem, as in the services')
                sheet = read_table(data, name=name, sheet=OPPORTUNITY_SHEET, keep_errors=True)
            except ReadError as error:  # beside the services' problems, naming its sheet
                batch.error(
                    f"{OPPORTUNITY_SHEET}: {error.reason}", row=error.row,
                    column=error.column, value=error.value,
                )  # fmt: skip
            else:
                add_opportunities(sheet, ctx, batch, template_funder)
            batch.lists_opportunities = True
        return batch
    except ReadError as error:
        batch = Batch()
        batch.error(error.reason, row=error.row, column=error.column, value=error.value)
        return batch


def run_import(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    location: str,
    *,
    fmt: str | None = None,
    source: str | None = None,
    mode: str = "incremental",
    dry_run: bool = False,
    take_over: bool = False,
    take_over_from: tuple[str, ...] = (),
    allow_withdrawals: bool = False,
    base_dir: Path | None = None,
    progress: Progress = QUIET,
    fetched_from: str | None = None,
) -> ImportReport:
    """Fetch, read and apply one source. Raises SourceError when it cannot be fetched.
    ``progress`` is told each step (downloading, reading, then :func:`import_batch`'s or
    :func:`import_need`'s), each named after the source. The report's elapsed time
    includes the fetching and reading. ``fetched_from``: the URL a local ``location`` was
    downloaded from (a refresh's file), recorded as the run's location in its place."""
    clock = datetime.now()
    _check_source(source, mode)
    name = location.rsplit("/", 1)[-1]
    from_name = normalise_header(Path(name).stem).replace("_", "-")[:80]
    shown = source or from_name or name
    remote = location.startswith(("http://", "https://"))
    progress.step(f"{shown}: {'downloading' if remote else 'reading'} {name}")
    data = fetch(location, base_dir)
    if remote:
        progress.step(f"{shown}: reading {name}")
    return import_data(
        db, snap, settings, data, location,
        fmt=fmt, source=source, mode=mode, dry_run=dry_run, take_over=take_over,
        take_over_from=take_over_from,
        allow_withdrawals=allow_withdrawals, progress=progress, clock=clock,
        fetched_from=fetched_from,
    )  # fmt: skip


def import_data(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    data: Content,
    location: str,
    *,
    fmt: str | None = None,
    source: str | None = None,
    mode: str = "incremental",
    dry_run: bool = False,
    take_over: bool = False,
    take_over_from: tuple[str, ...] = (),
    allow_withdrawals: bool = False,
    actor: str | None = None,
    progress: Progress = QUIET,
    clock: datetime | None = None,
    fetched_from: str | None = None,
) -> ImportReport:
    """Read and apply one source (its bytes, or its file: ``data``), fetched from
    ``location`` (a path, URL or an uploaded file's name): :func:`run_import` after the
    fetch, and the API's upload. ``actor`` (the API key's name) is recorded on the run,
    and so is ``location``, or the URL the file was downloaded from (``fetched_from``): a
    360Giving export names it as its grants' ``dataSource``. The report's elapsed time is
    from ``clock`` (local, naive; default: now), so it includes the reading."""
    clock = clock or datetime.now()
    _check_source(source, mode)
    name = location.rsplit("/", 1)[-1]
    from_name = normalise_header(Path(name).stem).replace("_", "-")[:80]
    shown = source or from_name or name
    table, batch = None, None
    try:
        with _read_as_one(data, location):
            if fmt is None:
                fmt, table = _sniff(data, name)
            if fmt in NEED_FORMATS:  # not directory records: directory.usecases.funding's
                data = bytes_of(data)
            else:
                with db.engine.connect() as connection:
                    ctx = GeographyContext(
                        snap, GeographyRepository(connection),
                        giving360_prefix=settings.giving360_prefix,
                    )  # fmt: skip
                    batch = read_source(
                        data, name, fmt, ctx, progress=progress,
                        label=f"{shown}: checking rows", table=table,
                    )  # fmt: skip
            checksum = sha256_of(data)
    except (SourceError, ScratchFullError):
        if batch is not None:
            _close_spools(batch)
        raise
    options = ImportOptions(
        source=source_name(location, source, fmt),
        format=fmt,
        location=public_location(fetched_from or location),
        checksum=checksum,
        mode=mode,
        dry_run=dry_run,
        actor=actor,
        take_over=take_over,
        take_over_from=take_over_from,
        allow_withdrawals=allow_withdrawals,
    )
    if batch is None:  # a need format
        assert isinstance(data, bytes)
        return import_need(db, snap, data, name, options, progress=progress, clock=clock)
    try:
        return import_batch(db, snap, settings, batch, options, ctx, progress=progress, clock=clock)
    finally:
        _close_spools(batch)


def _close_spools(batch: Batch) -> None:
    for spool in (batch.services, batch.grants):
        if isinstance(spool, Spool):
            spool.close()  # its temporary file


@contextmanager
def _read_as_one(data: Content, location: str) -> Iterator[None]:
    """A file read several times (the format's sniffing, a sheet's readings, its checksum)
    must be one file throughout: one changed, replaced or gone meanwhile is a SourceError,
    never an import of two versions mixed."""
    if not isinstance(data, Path):
        yield
        return
    try:
        before = _identity(data)
        yield
        after = _identity(data)
    except OSError as error:
        raise SourceError(f"Cannot read {location}: {error.strerror or error}") from None
    if after != before:
        raise SourceError(
            f"{location} changed while it was being read: import it again once it is written."
        )


def _identity(path: Path) -> tuple[int, ...]:
    status = path.stat()
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


def _check_source(source: str | None, mode: str = "incremental") -> None:
    """A source name given is 1 to MAX_SOURCE_NAME characters of text that can be stored;
    a full import names its source (the file's name would make each week's file a source
    of its own, which never withdraws anything)."""
    if source is None:
        if mode == "full":
            raise SourceError(FULL_NEEDS_SOURCE)
        return
    if not 0 < len(source.strip()) <= MAX_SOURCE_NAME:
        raise SourceError(f"A source name must be 1 to {MAX_SOURCE_NAME} characters.")
    if why := unstorable(source):
        raise SourceError(f"The source name {why}.")


def source_name(location: str, source: str | None, fmt: str) -> str:
    """The source a run is recorded under: the one given, else the file's name (without
    its suffix, as a key: "MOPAC services.csv" is mopac-services), else the format's."""
    name = location.rsplit("/", 1)[-1]
    from_name = normalise_header(Path(name).stem).replace("_", "-")[:80]
    return source or from_name or (fmt if fmt in NEED_FORMATS else "import")


def record_refused(
    db: Database,
    location: str,
    *,
    fmt: str | None,
    source: str | None,
    mode: str,
    reason: str,
    actor: str | None = None,
) -> int:
    """Record an import that did not start (another writer held the lock) as a run with
    status ``refused``, so /imports shows it was asked for; returns its id."""
    name = location.rsplit("/", 1)[-1]
    options = ImportOptions(
        source=(source or normalise_header(Path(name).stem).replace("_", "-")[:80] or "import"),
        format=fmt or "unknown", location=public_location(location), checksum="", mode=mode,
        actor=actor,
    )  # fmt: skip
    now_ = now()
    with db.session() as session:
        repo = DirectoryRepository(session)
        run_id = repo.add_run(run_row(options, now_))
        repo.finish_run(run_id, finish_row("refused", {}, [Problem(reason)]))
    return run_id


#: the need figures of a data directory: (manifest key, import format, source name)
REFERENCE_FILES = (
    ("population", "population", "ons-population"),
    ("crime", "mps-crime", "mps-borough-crime"),
)


def load_reference_data(
    db: Database,
    snap: GeographySnapshot,
    settings: Settings,
    data_dir: Path,
    *,
    progress: Progress = QUIET,
) -> list[tuple[str, ImportReport]]:
    """Import a data directory's population and Met crime files (``REFERENCE_FILES``,
    found by manifest key) through the
    same path as ``directory import`` (each recorded as an import run). Idempotent: a file
    already loaded is ``unchanged``. Call it under the write lock (``refresh.write_lock``),
    as ``directory demo load`` does for its sources. Returns (file, report) per file."""
    reports = []
    for key, fmt, source in REFERENCE_FILES:
        path = data_file(data_dir, key)
        report = run_import(
            db, snap, settings, str(path), fmt=fmt, source=source, progress=progress
        )
        reports.append((path.relative_to(data_dir).as_posix(), report))
    return reports
