"""The packaged London snapshot: every data file the project needs, compressed, verified.

A bare clone with no shared data folder and no network runs on this snapshot. It is the
data directory ``shared/data`` cut to the files the manifest lists (the five geography
files, the demo directory's sources, Met crime counts, ONS population), each stored
byte for byte as ``<path>.xz`` under ``geodata/data/snapshot/``, with a
``manifest.json`` that says for each file: its source, release, vintage, licence, the
exact attribution text, row count, and the sha256 and size of the uncompressed content.

:func:`build_snapshot` makes it from a data directory (``scripts/build_snapshot.py``);
the result is reproducible: the same inputs give the same bytes (xz is deterministic and
the manifest holds no timestamps or local paths). :func:`extract_snapshot` unpacks it
into a plain data directory (checking every file's sha256) that the loaders read like
any other.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import lzma
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from geodata.errors import DataFileError
from geodata.sources import (
    MANIFEST_FILE,
    Manifest,
    SourceFile,
    load_manifest,
    manifest_json,
    read_manifest_json,
    sha256_file,
)

__all__ = [
    "PACKAGED_SNAPSHOT",
    "build_snapshot",
    "count_rows",
    "describe",
    "extract_snapshot",
    "packaged_manifest",
    "sha256_file",
]

#: the snapshot shipped inside the package
PACKAGED_SNAPSHOT = Path(__file__).with_name("data") / "snapshot"
#: xz at its strongest: the postcode file goes from 16.8 MB to 1.7 MB
_PRESET = 9 | lzma.PRESET_EXTREME
_COMPLETE = ".complete"


def count_rows(path: str | Path, layer: str | None = None) -> int:
    """Data rows in a data file: CSV records after the header, GeoPackage features, the
    grants of a 360Giving JSON package (else 1 for any other JSON document).

    Raises
    ------
    DataFileError
        If the file cannot be read as its suffix says.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                return max(sum(1 for _ in csv.reader(handle)) - 1, 0)
        if suffix == ".gpkg":
            import pyogrio  # lazy: ingest only

            return int(pyogrio.read_info(path, layer=layer)["features"])
        if suffix == ".json":
            doc = json.loads(path.read_bytes())
            grants = doc.get("grants") if isinstance(doc, dict) else None
            return len(grants) if isinstance(grants, list) else 1
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(f"Cannot count the rows of {path}: {exc}") from exc
    except Exception as exc:  # pyogrio raises several DataSource/Layer error types
        raise DataFileError(f"Cannot count the rows of {path}: {exc}") from exc
    return 0


def _content_id(files: list[SourceFile]) -> str:
    digest = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.key):
        digest.update(f"{f.key}:{f.path}:{f.sha256}\n".encode())
    return digest.hexdigest()


def build_snapshot(
    source_dir: str | Path, out_dir: str | Path = PACKAGED_SNAPSHOT, spec: Manifest | None = None
) -> Manifest:
    """Build a snapshot of ``source_dir`` into ``out_dir``.

    Parameters
    ----------
    source_dir : str or Path
        A data directory laid out like ``shared/data``.
    out_dir : str or Path, default the packaged snapshot folder
        Receives ``<path>.xz`` per file and ``manifest.json``; compressed files of an
        earlier build that the new manifest does not list are removed.
    spec : Manifest, optional
        The files to take and their provenance (default: the built-in ``sources.toml``).

    Returns
    -------
    Manifest
        The snapshot's manifest (``about``: kind "snapshot", id, content sha256).

    Raises
    ------
    DataFileError
        If a listed file is missing or unreadable.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    spec = spec if spec is not None else load_manifest()
    out_dir.mkdir(parents=True, exist_ok=True)
    files: list[SourceFile] = []
    for entry in spec.files:
        path = source_dir / entry.path
        if not path.is_file():
            raise DataFileError(f"Snapshot input ({entry.key}) not found: {path}")
        data = path.read_bytes()
        stored = entry.path + ".xz"
        target = out_dir / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        compressed = lzma.compress(data, format=lzma.FORMAT_XZ, preset=_PRESET)
        if not target.is_file() or target.read_bytes() != compressed:
            _write_atomically(target, compressed)
        files.append(
            replace(
                entry,
                sha256=hashlib.sha256(data).hexdigest(),
                rows=count_rows(path, entry.layer),
                stored=stored,
            )
        )
    content = _content_id(files)
    manifest = Manifest(
        files=files,
        label=spec.label,
        about={
            "kind": "snapshot",
            "id": f"london-{content[:12]}",
            "content_sha256": content,
            "description": "The London data snapshot packaged with the project",
            "bytes": sum((source_dir / f.path).stat().st_size for f in files),
        },
    )
    _write_atomically(out_dir / MANIFEST_FILE, manifest_json(manifest))
    keep = {out_dir / f.stored for f in files if f.stored}
    for old in out_dir.rglob("*.xz"):
        if old not in keep:
            old.unlink()
    return manifest


def _write_atomically(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; this is a published file
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def packaged_manifest(snapshot_dir: str | Path = PACKAGED_SNAPSHOT) -> Manifest:
    """The manifest of a snapshot folder (the packaged one by default).

    Raises
    ------
    DataFileError
        If the folder has no valid ``manifest.json``.
    """
    return read_manifest_json(Path(snapshot_dir) / MANIFEST_FILE)


def extract_snapshot(
    target_parent: str | Path, snapshot_dir: str | Path = PACKAGED_SNAPSHOT
) -> Path:
    """Unpack a snapshot into ``target_parent/<snapshot id>/`` and return that directory.

    Every file is decompressed and checked against the manifest's sha256 and size before
    the directory is moved into place (an interrupted or corrupt extraction leaves nothing
    behind). A directory already extracted and complete is returned as it is.

    Parameters
    ----------
    target_parent : str or Path
        Where extracted snapshots live (e.g. ``instance/data/snapshot``).
    snapshot_dir : str or Path, default the packaged snapshot

    Returns
    -------
    Path
        A data directory with the files at their manifest paths and the snapshot's
        ``manifest.json``.

    Raises
    ------
    DataFileError
        A missing or corrupt compressed file, or a checksum that does not match.
    """
    snapshot_dir, target_parent = Path(snapshot_dir), Path(target_parent)
    manifest = packaged_manifest(snapshot_dir)
    snapshot_id = str(manifest.about.get("id") or "snapshot")
    target = target_parent / snapshot_id
    if (target / _COMPLETE).is_file():
        return target
    target_parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{snapshot_id}.", dir=target_parent))
    try:
        for entry in manifest.files:
            if not entry.stored or not entry.sha256:
                raise DataFileError(
                    f"Snapshot {snapshot_dir}: entry {entry.key} lacks stored/sha256"
                )
            source = snapshot_dir / entry.stored
            out = work / entry.path
            out.parent.mkdir(parents=True, exist_ok=True)
            digest = _unpack(source, out, target_parent)
            if digest != entry.sha256:
                raise DataFileError(
                    f"Snapshot file {source} does not match its manifest: sha256 "
                    f"{digest}, expected {entry.sha256}"
                )
        shutil.copyfile(snapshot_dir / MANIFEST_FILE, work / MANIFEST_FILE)
        (work / _COMPLETE).write_text(snapshot_id + "\n", encoding="utf-8")
        if (target / _COMPLETE).is_file():  # another process finished first: keep theirs
            return target
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target)
        try:
            os.replace(work, target)
        except OSError:
            if not (target / _COMPLETE).is_file():  # not another process winning the race
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return target


def _unpack(source: Path, out: Path, folder: Path) -> str:
    """Decompress ``source`` into ``out``; the sha256 of what was written.

    A file that cannot be read or decompressed is the snapshot's fault (DataFileError); one
    that cannot be written is the instance folder's (a full disk, a quota): that OSError
    names ``folder``, so that it is not taken for a corrupt package (it was, "missing or
    corrupt: [Errno 28] No space left on device").
    """
    digest = hashlib.sha256()
    try:
        packed = lzma.open(source, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise DataFileError(f"Snapshot file {source} is missing or corrupt: {exc}") from exc
    try:
        with packed, out.open("wb") as handle:
            while True:
                try:
                    chunk = packed.read(1 << 20)
                except (OSError, lzma.LZMAError, EOFError) as exc:
                    raise DataFileError(
                        f"Snapshot file {source} is missing or corrupt: {exc}"
                    ) from exc
                if not chunk:
                    return digest.hexdigest()
                digest.update(chunk)
                handle.write(chunk)
    except OSError as exc:  # (writing, or closing the file written)
        raise OSError(exc.errno, exc.strerror, str(folder)) from exc


def describe(manifest: Manifest) -> str:
    """One paragraph describing a snapshot: id, files, rows, sizes."""
    out = io.StringIO()
    about = manifest.about
    out.write(f"{about.get('id', '?')}: {len(manifest.files)} files")
    if about.get("bytes"):
        out.write(f", {about['bytes'] / 1e6:.1f} MB uncompressed")
    out.write("\n")
    for f in manifest.files:
        out.write(f"  {f.key:<16} {f.path} ({f.rows if f.rows is not None else '?'} rows)\n")
    return out.getvalue()
