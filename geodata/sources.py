"""The manifest of public data files that :mod:`geodata.loaders` reads.

The manifest (``geodata/data/sources.toml`` by default) names each file's path inside the
data directory, the release it comes from, its vintage, licence, attribution and the
official download page.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from geodata.errors import DataFileError

__all__ = ["SourceFile", "Manifest", "load_manifest", "DEFAULT_MANIFEST"]

DEFAULT_MANIFEST = Path(__file__).with_name("data") / "sources.toml"
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
        Expected checksum of the file's bytes, checked on download when given.
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
    files: list[SourceFile] = []
    seen: set[str] = set()
    for n, entry in enumerate(entries, start=1):
        missing = [k for k in _REQUIRED if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise DataFileError(f"Manifest {where}: entry {n} is missing {', '.join(missing)}")
        key, rel = entry["key"], entry["path"]
        if key in seen:
            raise DataFileError(f"Manifest {where}: key {key!r} appears twice")
        seen.add(key)
        if rel.startswith(("/", "\\")) or ".." in Path(rel).parts:
            raise DataFileError(f"Manifest {where}: path {rel!r} must stay inside the data dir")
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
            )
        )
    return Manifest(files=files, label=str(doc.get("label", "")))
