"""The manifest of a London data directory: which file is which, and where it came from.

A data directory is laid out like ``shared/data``. Its manifest names each file's key
(what the file is to the loaders: ``postcodes``, ``wards`` …), path inside the directory,
the release it comes from, its vintage, licence, attribution and official page.

Two forms: the built-in ``geodata/data/sources.toml`` (hand-written; describes
``shared/data``), and ``manifest.json`` written into a directory by the machine (the
packaged snapshot and every refreshed release), which also carries each file's sha256 and
row count. :func:`manifest_for` picks the directory's own ``manifest.json`` when it has
one, else the built-in manifest.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from geodata.errors import DataFileError

__all__ = [
    "DEFAULT_MANIFEST",
    "data_file",
    "manifest_json",
    "GEOGRAPHY_KEYS",
    "MANIFEST_FILE",
    "Manifest",
    "SourceFile",
    "load_manifest",
    "manifest_for",
    "read_manifest_json",
    "sha256_file",
    "write_manifest_json",
]

DEFAULT_MANIFEST = Path(__file__).with_name("data") / "sources.toml"
#: the name of a data directory's own (machine-written) manifest
MANIFEST_FILE = "manifest.json"
#: the files :func:`geodata.loaders.read_bundle` reads; the others (demo sources, crime,
#: population) travel in the same directory but are not geography
GEOGRAPHY_KEYS = ("boroughs", "wards", "ward_names", "postcodes", "nspl")
_REQUIRED = ("key", "path", "release", "vintage", "licence", "attribution", "url")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One data file in the manifest.

    Attributes
    ----------
    key : str
        What the file is to the loaders: "boroughs", "wards", "ward_names", "postcodes",
        "nspl".
    path : str
        Relative path inside the data directory (POSIX separators).
    release, vintage, licence, attribution, url : str
        Provenance; ``url`` is the official publication's download page.
    layer : str or None
        Layer name for multi-layer formats (GeoPackage).
    sha256 : str or None
        Checksum of the file's bytes: checked on download and on extracting a snapshot.
    source : str or None
        Where this copy was taken from (a repository citation, or the API it was fetched by).
    rows : int or None
        Data rows (CSV records, features, grants), when known.
    stored : str or None
        In a packaged snapshot only: the compressed file holding it.
    """

    key: str
    path: str
    release: str
    vintage: str
    licence: str
    attribution: str
    url: str
    layer: str | None = None
    sha256: str | None = None
    source: str | None = None
    rows: int | None = None
    stored: str | None = None


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed manifest.

    Attributes
    ----------
    files : list of SourceFile
        In manifest order; keys are unique.
    label : str
        A one-line description of the whole release.
    """

    files: list[SourceFile]
    label: str = ""
    #: a machine-written manifest's identity: e.g. ``{"kind": "snapshot", "id": …}``
    about: dict[str, Any] = field(default_factory=dict)
    _by_key: dict[str, SourceFile] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_key.update({f.key: f for f in self.files})

    def file(self, key: str) -> SourceFile:
        """Return the entry with this key.

        Raises
        ------
        KeyError
            If the manifest has no such entry.
        """
        return self._by_key[key]

    def release_label(self) -> str:
        """A one-line description of the release, e.g. for an answer's ``source`` field.

        Returns
        -------
        str
            The manifest's ``label``, or the files' releases joined with "; ".
        """
        return self.label or "; ".join(f.release for f in self.files)

    def has(self, key: str) -> bool:
        """Whether the manifest has an entry with this key."""
        return key in self._by_key


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read a sources manifest.

    Parameters
    ----------
    path : str or Path, optional
        A TOML file; the built-in ``geodata/data/sources.toml`` when omitted.

    Returns
    -------
    Manifest

    Raises
    ------
    DataFileError
        If the file is missing, not valid TOML, or an entry lacks a required field,
        repeats a key or has an absolute/parent-relative path.
    """
    where = str(DEFAULT_MANIFEST if path is None else path)
    try:
        raw = Path(where).read_bytes()
    except OSError as exc:
        raise DataFileError(f"Manifest not found or unreadable: {where} ({exc})") from exc
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataFileError(f"Manifest {where} is not valid TOML: {exc}") from exc
    entries = doc.get("files")
    if not isinstance(entries, list) or not entries:
        raise DataFileError(f"Manifest {where} has no [[files]] entries")
    return Manifest(files=_entries(entries, where), label=str(doc.get("label", "")))


def _inside(rel: str) -> bool:
    return not rel.startswith(("/", "\\")) and ".." not in Path(rel).parts and ":" not in rel


def _entries(entries: list[Any], where: str) -> list[SourceFile]:
    files: list[SourceFile] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise DataFileError(f"Manifest {where}: entry {n} is not a table")
        missing = [k for k in _REQUIRED if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise DataFileError(f"Manifest {where}: entry {n} is missing {', '.join(missing)}")
        key, rel = entry["key"], entry["path"]
        if key in seen:
            raise DataFileError(f"Manifest {where}: key {key!r} appears twice")
        seen.add(key)
        for name in ("path", "stored"):
            value = entry.get(name)
            if value is not None and (not isinstance(value, str) or not _inside(value)):
                raise DataFileError(
                    f"Manifest {where}: {name} {value!r} must stay inside the data dir"
                )
        rows = entry.get("rows")
        if rows is not None and (not isinstance(rows, int) or isinstance(rows, bool) or rows < 0):
            raise DataFileError(f"Manifest {where}: entry {key!r} has a bad row count {rows!r}")
        files.append(
            SourceFile(
                key=key,
                path=rel,
                release=entry["release"],
                vintage=entry["vintage"],
                licence=entry["licence"],
                attribution=entry["attribution"],
                url=entry["url"],
                layer=entry.get("layer") or None,
                sha256=(entry.get("sha256") or None),
                source=entry.get("source") or None,
                rows=rows,
                stored=entry.get("stored") or None,
            )
        )
    return files


def read_manifest_json(path: str | Path) -> Manifest:
    """Read a machine-written ``manifest.json`` (a snapshot's or a refreshed release's).

    Parameters
    ----------
    path : str or Path
        The JSON file: ``{"about": {...}, "label": str, "files": [entry, ...]}``.

    Returns
    -------
    Manifest

    Raises
    ------
    DataFileError
        If the file is missing, not JSON, or an entry is malformed (as for TOML manifests).
    """
    where = str(path)
    try:
        doc = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise DataFileError(f"Manifest not found or unreadable: {where} ({exc})") from exc
    except (ValueError, RecursionError) as exc:  # (RecursionError: nested too deep)
        raise DataFileError(f"Manifest {where} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list) or not doc["files"]:
        raise DataFileError(f"Manifest {where} has no files")
    about = doc.get("about") if isinstance(doc.get("about"), dict) else {}
    return Manifest(
        files=_entries(doc["files"], where), label=str(doc.get("label", "")), about=about
    )


def manifest_json(manifest: Manifest) -> bytes:
    """The bytes of a ``manifest.json`` for this manifest: stable (sorted keys, no
    timestamps added), so the same inputs always give the same file."""
    doc = {
        "about": manifest.about,
        "label": manifest.label,
        "files": [{k: v for k, v in asdict(f).items() if v is not None} for f in manifest.files],
    }
    return (json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_manifest_json(manifest: Manifest, directory: str | Path) -> Path:
    """Write ``manifest.json`` into ``directory`` (see :func:`manifest_json`)."""
    path = Path(directory) / MANIFEST_FILE
    path.write_bytes(manifest_json(manifest))
    return path


def manifest_for(data_dir: str | Path) -> Manifest:
    """The manifest describing a data directory: its own ``manifest.json`` when it has one
    (the packaged snapshot, a refreshed release), else the built-in ``sources.toml``
    (a directory laid out like ``shared/data``)."""
    own = Path(data_dir) / MANIFEST_FILE
    return read_manifest_json(own) if own.is_file() else load_manifest()


def data_file(data_dir: str | Path, key: str) -> Path:
    """The path of one file of a data directory, by its manifest key.

    Raises
    ------
    DataFileError
        If the directory's manifest has no such key, or the file is missing.
    """
    manifest = manifest_for(data_dir)
    if not manifest.has(key):
        raise DataFileError(f"The manifest of {data_dir} has no {key!r} file")
    path = Path(data_dir) / manifest.file(key).path
    if not path.is_file():
        raise DataFileError(f"Data file ({key}) not found: {path}")
    return path


def sha256_file(path: str | Path) -> str:
    """The sha256 hex digest of a file's bytes (what manifests record)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
