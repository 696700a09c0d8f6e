"""What every fetcher shares: the release found, the files written, staging, checks.

A source (one module each in :mod:`geodata.fetch`) has two steps. ``discover(client)``
makes metadata calls only and answers :class:`Found`: which release is the newest, with a
``version`` that stays equal while the publisher's release is unchanged. ``fetch(client,
found, workdir)`` downloads that release, cuts it to London, validates it and writes the
files the loaders read, answering one :class:`FetchedFile` per file.

Outputs are written through :class:`Staging`: to hidden temporary files beside their
targets, moved into place together only when every file of the source is complete, so
a failure leaves nothing new in the work directory.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.errors import FetchError
from geodata.loaders import BOROUGH_CODES, valid_geometry

if TYPE_CHECKING:
    from geodata.fetch.http import Client

__all__ = [
    "BOROUGH_CODES",
    "OGL_V3",
    "Found",
    "FetchedFile",
    "Source",
    "Staging",
    "column_index",
    "multipolygon",
    "release_month",
    "scratch_dir",
    "write_csv",
    "write_gpkg",
    "year_of",
]

OGL_V3 = "Open Government Licence v3.0"

_MONTHS = {
    m: n
    for n, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_MONTH_YEAR = re.compile(
    r"(?<![a-z])(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*[\s_-]+((?:19|20)\d\d)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    """The newest release of a source, as discovered.

    Attributes
    ----------
    source : str
        The source's name (a key of :data:`geodata.fetch.SOURCES`).
    version : dict
        JSON-serialisable values identifying the release; equal for an unchanged release,
        different when the publisher publishes a new one.
    label : str
        Human description, e.g. "OS Code-Point Open 2026-08".
    vintage : str
        The release's date or period, e.g. "2026-08".
    licence : str
        Licence name.
    attribution : str
        The attribution text to carry with the data.
    url : str
        The discover URL, official form.
    details : dict
        What the fetch step needs (download URLs in official form, checksums, field names).
    """

    source: str
    version: dict[str, Any]
    label: str
    vintage: str
    licence: str
    attribution: str
    url: str
    details: dict[str, Any] = field(default_factory=dict)

    def file(
        self, key: str, path: str, *, rows: int, sha256: str, url: str, **provenance: str
    ) -> FetchedFile:
        """A file written for this release, carrying the release's provenance (label,
        vintage, licence, attribution) unless ``provenance`` overrides some of it."""
        return FetchedFile(
            key=key, path=path, rows=rows, sha256=sha256, url=url,
            **{"release": self.label, "vintage": self.vintage, "licence": self.licence,
               "attribution": self.attribution, **provenance},
        )  # fmt: skip


@dataclass(frozen=True)
class FetchedFile:
    """One file written by a fetch, with its provenance.

    Attributes
    ----------
    key : str
        Manifest key ("postcodes", "nspl", "wards", "ward_names", "boroughs", "crime",
        "population", "mopac_grants:<identifier>").
    path : str
        Relative POSIX path inside the work directory.
    rows : int
        Rows (features, grants) in the file.
    sha256 : str
        Hex digest of the written file.
    release, vintage, licence, attribution, url : str
        Provenance; ``url`` is where the data came from, official form.
    """

    key: str
    path: str
    rows: int
    sha256: str
    release: str
    vintage: str
    licence: str
    attribution: str
    url: str


class Source(Protocol):
    """What each fetcher offers (see the module docstring)."""

    name: str
    description: str
    keys: tuple[str, ...]

    def discover(self, client: Client) -> Found:
        """Find the newest release with metadata calls only."""
        ...

    def fetch(self, client: Client, found: Found, workdir: Path) -> list[FetchedFile]:
        """Download ``found``, cut it to London, validate it and write the files."""
        ...


# -- staging ----------------------------------------------------------------------------
class Staging:
    """Output files written to temporary names and moved into place together.

    Parameters
    ----------
    workdir : Path
        The work directory; targets are relative paths inside it.

    Notes
    -----
    Use as a context manager: on a clean exit every staged file is moved to its target
    with :func:`os.replace`; on an exception the staged files (and folders this object
    created that are left empty) are removed and nothing is moved.
    """

    def __init__(self, workdir: str | Path) -> None:
        self.workdir = Path(workdir)
        self._pending: list[tuple[Path, Path]] = []
        self._created: list[Path] = []

    def path(self, relative: str) -> Path:
        """A fresh temporary path (not yet existing) to write ``relative`` to."""
        target = self.workdir / relative
        self._mkdir(target.parent)
        # keep the suffix: GDAL picks (and checks) a format by the file's extension
        temp = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.part{target.suffix}")
        self._pending.append((temp, target))
        return temp

    def _mkdir(self, folder: Path) -> None:
        missing = []
        current = folder
        while not current.exists():
            missing.append(current)
            current = current.parent
        folder.mkdir(parents=True, exist_ok=True)
        self._created.extend(reversed(missing))

    def commit(self) -> None:
        """Move every staged file into place."""
        for temp, target in self._pending:
            if not temp.is_file():
                raise FetchError(f"Internal error: {target} was staged but never written")
        for temp, target in self._pending:
            os.replace(temp, target)
        self._pending.clear()
        self._created.clear()

    def discard(self) -> None:
        """Remove the staged files and the folders created for them (when empty)."""
        for temp, _target in self._pending:
            with contextlib.suppress(OSError):
                if temp.is_dir():
                    shutil.rmtree(temp)
                else:
                    temp.unlink(missing_ok=True)
            # GDAL may leave a journal beside a GeoPackage it was writing
            for extra in temp.parent.glob(temp.name + "-*"):
                with contextlib.suppress(OSError):
                    extra.unlink()
        self._pending.clear()
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._created.clear()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.discard()
                raise
        else:
            self.discard()


@contextlib.contextmanager
def scratch_dir(workdir: str | Path) -> Iterator[Path]:
    """A temporary folder inside ``workdir`` for raw downloads, removed afterwards.

    It lives in the work directory (not the system temp folder) so that national files
    of a gigabyte land on the same disk as the outputs.
    """
    workdir = Path(workdir)
    created = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=workdir) as folder:
            yield Path(folder)
    finally:
        if created:
            with contextlib.suppress(OSError):
                workdir.rmdir()  # only if empty: a failed first fetch leaves no folder


# -- files ------------------------------------------------------------------------------
def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a UTF-8 CSV (``\\n`` line ends, minimal quoting); return the data rows written."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def csv_rows(lines: Iterable[str], where: str, url: str) -> Iterator[list[str]]:
    """The CSV rows of ``lines``. A line the csv module cannot read (a field past its
    limit, 131,072 characters) is a FetchError naming ``where``, not csv's own error."""
    reader = csv.reader(lines)
    try:
        yield from reader
    except csv.Error as exc:
        raise FetchError(
            f"{where} line {reader.line_num}: not readable as CSV ({exc})", url=url
        ) from exc


#: the most bytes one member of a downloaded zip may hold unpacked (Code-Point Open's
#: largest postcode area is a few MB): a member past it is refused before it is read, so
#: that a small zip cannot unpack into gigabytes of memory
MAX_MEMBER_BYTES = 256 * 2**20


def read_member(archive: Any, member: str, url: str) -> bytes:
    """``member`` of the zip ``archive``, refused (FetchError) if it unpacks to more than
    MAX_MEMBER_BYTES."""
    size = archive.getinfo(member).file_size
    if size > MAX_MEMBER_BYTES:
        raise FetchError(
            f"{url}: {member} unpacks to {size:,} bytes, more than {MAX_MEMBER_BYTES:,}: "
            "not a file of this product",
            url=url,
        )
    return archive.read(member)  # type: ignore[no-any-return]


def multipolygon(geom: BaseGeometry | None, where: str) -> MultiPolygon:
    """A valid MultiPolygon from a polygonal geometry (made valid, other parts dropped).

    Raises
    ------
    FetchError
        If the geometry is missing, empty or has no polygon area.
    """
    geom = valid_geometry(geom, where, FetchError)
    parts = [
        p for part in shapely.get_parts(geom) for p in shapely.get_parts(part) if not p.is_empty
    ]
    polygons = [p for p in parts if isinstance(p, Polygon)]
    if not polygons:
        raise FetchError(f"{where}: geometry has no polygon area")
    return MultiPolygon(polygons)


def write_gpkg(
    path: Path,
    layer: str,
    geometries: Sequence[BaseGeometry],
    fields: dict[str, Sequence[Any]],
    crs: str = "EPSG:27700",
) -> None:
    """Write polygons and attribute columns to a one-layer GeoPackage with pyogrio."""
    import pyogrio.raw  # lazy: only the boundary fetchers write GeoPackages

    wkb = np.array(shapely.to_wkb(np.asarray(geometries, dtype=object)), dtype=object)
    columns = []
    for values in fields.values():
        array = np.asarray(values)
        if array.dtype.kind in "US":
            array = array.astype(object)
        columns.append(array)
    try:
        pyogrio.raw.write(
            str(path),
            geometry=wkb,
            field_data=columns,
            fields=list(fields),
            layer=layer,
            driver="GPKG",
            geometry_type="MultiPolygon",
            crs=crs,
            encoding="UTF-8",
        )
    except Exception as exc:  # pyogrio raises several DataSource/Layer error types
        raise FetchError(f"Cannot write {path} (layer {layer!r}): {exc}") from exc


# -- parsing helpers --------------------------------------------------------------------
def column_index(
    header: Sequence[str], patterns: Sequence[str], *, what: str, where: str
) -> int | None:
    """The position of the first header name matching one of ``patterns``.

    Parameters
    ----------
    header : sequence of str
        Column names as read.
    patterns : sequence of str
        Regular expressions tried in order, each matched in full, case-insensitively,
        against the stripped names.
    what, where : str
        For the error message: the column's meaning and the file/URL.

    Returns
    -------
    int or None
        None when nothing matches.

    Raises
    ------
    FetchError
        If one pattern matches two columns (ambiguous).
    """
    names = [h.strip().lstrip("\ufeff") for h in header]
    for pattern in patterns:
        regex = re.compile(pattern, re.IGNORECASE)
        hits = [i for i, name in enumerate(names) if regex.fullmatch(name)]
        if len(hits) > 1:
            raise FetchError(
                f"{where}: the {what} column is ambiguous: {', '.join(names[i] for i in hits)}"
            )
        if hits:
            return hits[0]
    return None


def release_month(*texts: str | None) -> tuple[int, int] | None:
    """The first "<Month> <Year>" found in the texts (titles, service names), as (y, m).

    Examples: "National Statistics Postcode Lookup (February 2026) for the UK" → (2026, 2);
    "WD_DEC_2024_UK_BGC" → (2024, 12).
    """
    for text in texts:
        if not text:
            continue
        match = _MONTH_YEAR.search(text)
        if match:
            return int(match.group(2)), _MONTHS[match.group(1)[:3].lower()]
    return None


def year_of(vintage: str, default: str = "") -> str:
    """The four-digit year at the start of a vintage ("2026-08" → "2026")."""
    match = re.search(r"(?:19|20)\d\d", vintage or "")
    return match.group(0) if match else default
