"""``directory geodata refresh``: the newest official releases, checked, then loaded
all-or-nothing.

For each source (:data:`geodata.fetch.SOURCES`: GLA borough boundaries, ONS wards, OS
Code-Point Open, ONS NSPL, Met borough crime, ONS/Nomis population, MOPAC's 360Giving
grants) the fetcher's *discover* step asks the publisher's machine interface what its
newest release is. A release whose version equals the one recorded by the last refresh
(``instance/data/refresh.json``) is "nothing new" and is not downloaded. New releases are
downloaded into a staging folder, parsed from their national formats, cut to London by
code and checked by the fetcher; a bad download or a failed check is reported and the
current data stays.

The candidate release is the current data directory (the newest refreshed release, else
what ``directory init`` would use) with the fetched files in place of theirs and its own
``manifest.json``. It is checked as a whole: the geography is read and validated by
:func:`geodata.loaders.read_bundle`; the crime, population and grants files are read by
their importers as dry runs. What would change is reported against what the database holds:
postcodes added, terminated, moved ward or borough; areas added, removed or renamed; new
crime months; population estimates and grants created or updated.

A dry run stops there (no release, no state, no database change), keeping only each
source's London cut it fetched and found good (``releases/.fetched/<source>/``; so does a
refresh refused the write lock), which the next refresh takes instead of downloading and
cutting the same release again.
A real run moves the release to ``instance/data/releases/<UTC time>/``, loads its geography
in one transaction (recorded as a data release), imports the figures and grants (each all
or nothing, recorded as import runs), then marks the release complete and records the
versions; ``directory init`` then uses it (after ``--from`` and DIRECTORY_GEODATA_DIR). If
the geography fails to load, the release is deleted and the database is as it was.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import geodata
from directory.ingest.refresh import RefreshError, geography_turn
from directory.ingest.run import SourceError, run_import
from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database
from directory.store.loading import (
    COMPLETE_MARKER,
    data_root,
    load_geography,
    newest_release,
    releases_dir,
    resolve_data_dir,
)
from directory.store.repositories.funding import FundingQueries
from directory.store.repositories.geography import GeographyRepository
from directory.usecases.geography import GeographySnapshot
from directory.usecases.placing import place_sites, site_moves
from geodata.errors import GeodataError, NotPublishedError
from geodata.fetch import SOURCES, Client, FetchedFile, Found
from geodata.loaders import GeographyBundle, read_bundle
from geodata.postcodes import spaced_form
from geodata.sources import (
    GEOGRAPHY_KEYS,
    Manifest,
    SourceFile,
    manifest_for,
    sha256_file,
    write_manifest_json,
)

log = logging.getLogger(__name__)

STATE_FILE = "refresh.json"
#: manifest keys of the grants files fetched from the 360Giving registry
GRANTS_PREFIX = "mopac_grants:"
#: the figures imported from a release: manifest key → (import format, source name)
FIGURES = {
    "crime": ("mps-crime", "mps-borough-crime"),
    "population": ("population", "ons-population"),
}


@dataclass
class SourceResult:
    """What happened to one source."""

    name: str
    #: new | nothing new | not published | failed | rejected | loaded | load failed
    status: str
    label: str | None = None
    version: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: when the files taken were fetched (the UTC time of the dry run, or of the refresh
    #: that did not load them), rather than downloading and cutting the same release again
    #: (:func:`_take_kept`); None when downloaded now
    kept_from: str | None = None
    #: whether what was fetched is kept for the next refresh (:func:`_keep`: fetched, found
    #: good and not loaded)
    kept: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "label": self.label,
            "version": self.version, "previous": self.previous, "files": self.files,
            "error": self.error, "kept_from": self.kept_from, "kept": self.kept,
        }  # fmt: skip


@dataclass
class RefreshReport:
    """The outcome of a refresh (or of a dry run)."""

    dry_run: bool
    base: dict[str, Any]
    sources: list[SourceResult]
    changes: dict[str, Any] = field(default_factory=dict)
    release: str | None = None
    loaded: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(s.status in ("failed", "rejected", "load failed") for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "base": self.base,
            "sources": [s.to_dict() for s in self.sources],
            "changes": self.changes,
            "release": self.release,
            "loaded": self.loaded,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
        }


# -- state: what the last refresh found -----------------------------------------------------
def state_path(settings: Settings) -> Path:
    return data_root(settings) / STATE_FILE


def read_state(settings: Settings) -> dict[str, Any]:
    """The versions the last refreshes loaded, per source (empty before the first)."""
    try:
        state = json.loads(state_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, RecursionError) as error:  # (RecursionError: nested too deep)
        raise RefreshError(
            f"{state_path(settings)} is unreadable ({error}); remove it to start afresh."
        ) from None
    return state if isinstance(state, dict) else {}


def _write_state(settings: Settings, state: dict[str, Any]) -> None:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# -- assembling a release --------------------------------------------------------------------
def _place(source: Path, target: Path) -> None:
    """Put ``source`` at ``target``: a hard link when the file system allows, else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _entry(found: Found, fetched: FetchedFile, description: str) -> SourceFile:
    return SourceFile(
        key=fetched.key, path=fetched.path, release=fetched.release or found.label,
        vintage=fetched.vintage or found.vintage, licence=fetched.licence or found.licence,
        attribution=fetched.attribution or found.attribution, url=fetched.url or found.url,
        sha256=fetched.sha256, rows=fetched.rows if fetched.rows >= 0 else None,
        source=f"{description} ({found.url})",
    )  # fmt: skip


def _assemble(
    base_dir: Path,
    base: Manifest,
    fetched: dict[str, tuple[Found, list[FetchedFile], Path]],
    target: Path,
    about: dict[str, Any],
) -> Manifest:
    """Write the candidate release into ``target``: the base directory's files, with each
    fetched file in place of the file of its key (new keys, such as grants files, added)."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    replaced: dict[str, SourceFile] = {}
    for name, (found, files, workdir) in fetched.items():
        for f in files:
            _place(workdir / f.path, target / f.path)
            replaced[f.key] = _entry(found, f, SOURCES[name].description)
    entries: list[SourceFile] = []
    for entry in base.files:
        if entry.key in replaced:
            entries.append(replaced.pop(entry.key))
            continue
        _place(base_dir / entry.path, target / entry.path)
        entries.append(replace(entry, stored=None))
    entries.extend(replaced.values())
    paths = Counter(e.path for e in entries)
    clash = [p for p, n in paths.items() if n > 1]
    if clash:
        raise RefreshError(f"Two files of the release would be written to {clash[0]}.")
    manifest = Manifest(files=entries, label=base.label, about=about)
    write_manifest_json(manifest, target)
    return manifest


# -- what would change ------------------------------------------------------------------------
def _postcode_changes(
    old: dict[str, tuple[str, str, str]], bundle: GeographyBundle
) -> dict[str, Any]:
    live_before = {c for c, (status, _b, _w) in old.items() if status == "live"}
    live_now = {p.canonical: p for p in bundle.postcodes if p.status == "live"}
    moved_ward, moved_borough = [], []
    for canonical in live_before & live_now.keys():
        _status, borough, ward = old[canonical]
        record = live_now[canonical]
        if record.borough_code != borough:
            moved_borough.append(canonical)
        elif record.ward_code != ward:
            moved_ward.append(canonical)
    added = sorted(live_now.keys() - live_before)
    ended = sorted(live_before - live_now.keys())

    def sample(codes: list[str]) -> list[str]:
        return [spaced_form(c) for c in sorted(codes)[:10]]

    return {
        "live_before": len(live_before), "live_after": len(live_now),
        "added": len(added), "no_longer_live": len(ended),
        "moved_ward": len(moved_ward), "moved_borough": len(moved_borough),
        "examples": {"added": sample(added), "no_longer_live": sample(ended),
                     "moved_ward": sample(moved_ward), "moved_borough": sample(moved_borough)},
    }  # fmt: skip


def _area_changes(old: dict[str, tuple[str, str]], bundle: GeographyBundle) -> dict[str, Any]:
    new = {a.code: (a.type, a.name) for a in bundle.areas}
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    renamed = sorted(c for c in new.keys() & old.keys() if new[c][1] != old[c][1])
    return {
        "added": [{"code": c, "type": new[c][0], "name": new[c][1]} for c in added],
        "removed": [{"code": c, "type": old[c][0], "name": old[c][1]} for c in removed],
        "renamed": [
            {"code": c, "type": new[c][0], "from": old[c][1], "to": new[c][1]} for c in renamed
        ],
    }


def _months(path: Path) -> list[str]:
    """The YYYY-MM months of a Met crime file's month columns (YYYYMM)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    return sorted(
        f"{h[:4]}-{h[4:]}" for h in (c.strip() for c in header) if re.fullmatch(r"\d{6}", h)
    )


#: the start of the source name of each MOPAC 360Giving file a refresh imports
GRANTS_SOURCE = "mopac-360giving-"


def _grants_source(key: str) -> str:
    return (GRANTS_SOURCE + re.sub(r"[^a-z0-9]+", "-", key[len(GRANTS_PREFIX) :].lower())).strip(
        "-"
    )[:80]


def _fetched_from(file: SourceFile) -> str | None:
    """The URL a grants file was downloaded from, which its import run records (the
    360Giving export's dataSource for its grants); None for the figures, whose manifest url
    is the publication's page rather than the file."""
    return file.url if file.key.startswith(GRANTS_PREFIX) else None


def _imports(manifest: Manifest, fetched_keys: set[str]) -> list[tuple[str, str, str]]:
    """(manifest key, format, source name) of the fetched files that are imported."""
    jobs = [(key, *FIGURES[key]) for key in FIGURES if key in fetched_keys]
    jobs += [(f.key, "360giving", _grants_source(f.key)) for f in manifest.files
             if f.key.startswith(GRANTS_PREFIX) and f.key in fetched_keys]  # fmt: skip
    return jobs


# -- the refresh -------------------------------------------------------------------------------
def refresh_data(
    db: Database,
    settings: Settings,
    snap: GeographySnapshot,
    *,
    sources: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    client: Client | None = None,
    progress: Progress = QUIET,
    now: datetime | None = None,
    waiting: Callable[[str], None] | None = None,
) -> RefreshReport:
    """Refresh the London data from the official publishers (see the module docstring).

    Parameters
    ----------
    sources : list of str, optional
        Names of :data:`geodata.fetch.SOURCES` to refresh (default: all).
    dry_run : bool
        Report what would change; load nothing (what was fetched is kept: :func:`_keep`).
    force : bool
        Download and load a source even when its release is the one last loaded, and
        never take what a refresh kept of it.
    client : geodata.fetch.Client, optional
        Default: a client of ``settings.geodata_base_url`` (a mirror) or the publishers.
    waiting : callable, optional
        Told which lock, before the load waits for the database's setup turn (another
        ``init``, ``geodata load`` or refresh loading). The load takes the setup turn,
        then the write lock (:func:`directory.ingest.refresh.geography_turn`); another
        writer holding the write lock is refused rather than waited for.

    Raises
    ------
    RefreshError
        An unknown source name, or another import or refresh holding the write lock.
    """
    started = time.perf_counter()
    names = sources or list(SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise RefreshError(f"Unknown source {unknown[0]!r}: the sources are {', '.join(SOURCES)}.")
    release_path = newest_release(settings)
    base_dir = release_path or resolve_data_dir(settings).path
    base = manifest_for(base_dir)
    base_about = {"kind": base.about.get("kind", "directory"), "id": base.about.get("id")}
    state = read_state(settings)
    client = client or Client(base_url=settings.geodata_base_url)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    results: dict[str, SourceResult] = {}
    report = RefreshReport(dry_run=dry_run, base=base_about, sources=[])
    root = releases_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    staging, held = _new_staging(root)
    kept_root = root / KEPT_FETCHES
    fetched: dict[str, tuple[Found, list[FetchedFile], Path]] = {}
    try:
        fetched = _fetch_new(names, state, client, staging, force, results, progress, kept_root)
        if not fetched:
            return _finish(report, names, results, started)
        about = {
            "kind": "refresh", "id": stamp,
            "description": "Refreshed from the official publishers: "
            + "; ".join(f"{n} ({found.label})" for n, (found, _f, _w) in fetched.items()),
            "based_on": base_about["id"],
        }  # fmt: skip
        candidate = staging / "release"
        progress.step("checking the new release as a whole")
        manifest, bundle = _checked(base_dir, base, fetched, candidate, about, results, progress)
        report.changes = _changes(
            db, settings, snap, manifest, bundle, candidate, fetched, results, progress
        )
        fetched_keys = {
            f.key
            for n, (_found, files, _w) in fetched.items()
            if results[n].status == "new"
            for f in files
        }
        if dry_run or not fetched_keys:
            return _finish(report, names, results, started)
        report.release = stamp
        with geography_turn(db, waiting_setup=waiting, refuse=True):
            _load(db, settings, snap, manifest, bundle, candidate, fetched, fetched_keys,
                  base_dir, base, about, results, report, progress)  # fmt: skip
        if report.loaded:
            for name, (found, _files, _w) in fetched.items():
                if results[name].status == "loaded":
                    state[name] = {
                        "version": found.version, "label": found.label,
                        "loaded_at": stamp, "release": stamp,
                    }  # fmt: skip
            _write_state(settings, state)
        return _finish(report, names, results, started)
    finally:
        # what was fetched, found good and not loaded (a dry run, a refresh refused the
        # write lock) is kept for the next refresh, before the staging folder goes
        _keep(kept_root, fetched, results, stamp, client, staging)
        shutil.rmtree(staging, ignore_errors=True)
        os.close(held)


#: under the releases folder: what a refresh fetched and did not load (a dry run's, or one
#: refused the write lock), each source's London cut in a folder of its own (``<source>/``,
#: its files at their release paths and KEPT_ABOUT), for the next refresh to take, so that
#: a dry run and then the refresh download and cut Code-Point or the NSPL (hundreds of MB)
#: once, not twice
KEPT_FETCHES = ".fetched"
#: what a kept folder holds: what it is of (:func:`_kept_identity`), when it was fetched and
#: its files
KEPT_ABOUT = "fetched.json"
#: the FetchedFile fields a kept file's entry must give, and their types
_FETCHED_FIELDS = {
    "key": str, "path": str, "rows": int, "sha256": str, "release": str, "vintage": str,
    "licence": str, "attribution": str, "url": str,
}  # fmt: skip


@functools.cache
def _cut_code() -> str:
    """A digest of the code that cuts the publishers' files to London (the ``geodata``
    package): files cut by other code are never taken."""
    digest = hashlib.sha256()
    package = Path(geodata.__file__).parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _kept_identity(name: str, found: Found, client: Client) -> dict[str, Any]:
    """What a kept fetch must be of to be taken: the same source and release (its version,
    as the publisher gives it, and the provenance that goes into the manifest), from the
    same place (a mirror, or the publishers), cut by the same code; as JSON gives it back."""
    identity = {
        "source": name, "version": found.version, "label": found.label,
        "licence": found.licence, "attribution": found.attribution,
        "base_url": getattr(client, "base_url", None), "code": _cut_code(),
    }  # fmt: skip
    return json.loads(json.dumps(identity))  # type: ignore[no-any-return]


def _keep(
    kept_root: Path, fetched: dict[str, tuple[Found, list[FetchedFile], Path]],
    results: dict[str, SourceResult], stamp: str, client: Client, staging: Path,
) -> None:  # fmt: skip
    """Keep what a refresh fetched, found good (status "new": not rejected) and did not load
    (a dry run, or a refresh refused the write lock), each source's folder moved under
    ``kept_root`` in place of any kept before, and say so in its result. A failure to keep
    one is logged: the next refresh downloads it again."""
    for name, (found, files, workdir) in fetched.items():
        result = results[name]
        if result.status != "new" or not workdir.is_dir():
            continue
        try:
            about = {
                **_kept_identity(name, found, client), "kept_from": result.kept_from or stamp,
                "files": [asdict(f) for f in files],
            }  # fmt: skip
            (workdir / KEPT_ABOUT).write_text(json.dumps(about), encoding="utf-8")
            kept_root.mkdir(exist_ok=True)
            _drop_kept(kept_root, name, staging)
            os.replace(workdir, kept_root / name)  # (refused if another was kept meanwhile)
        except (OSError, TypeError, ValueError) as error:
            log.warning("could not keep what was fetched of %s: %s", name, error)
        else:
            result.kept = True


def _take_kept(
    kept_root: Path, name: str, found: Found, client: Client, workdir: Path
) -> tuple[str, list[FetchedFile]] | None:
    """The files kept of ``found``'s release of ``name`` (:func:`_kept_identity`), moved to
    ``workdir`` (so that no other refresh takes them too), with when they were fetched;
    None when none are kept of it, or they fail their checks (a file changed or gone since,
    a damaged KEPT_ABOUT): then they are removed."""
    try:
        os.replace(kept_root / name, workdir)
    except OSError:  # none kept (or another refresh took them first)
        return None
    try:
        about = json.loads((workdir / KEPT_ABOUT).read_text(encoding="utf-8"))
        (workdir / KEPT_ABOUT).unlink()
        identity = _kept_identity(name, found, client)
        if all(about.get(k) == v for k, v in identity.items()):
            files = [_kept_file(entry, workdir) for entry in about["files"]]
            if files and all(sha256_file(workdir / f.path) == f.sha256 for f in files):
                return str(about["kept_from"]), files
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as error:
        log.info("not taking what was kept of %s: %s", name, error)
    _remove(workdir)
    return None


def _kept_file(entry: Any, workdir: Path) -> FetchedFile:
    """A kept file's entry, checked (ValueError): every field of its type, its path inside
    the kept folder."""
    if not isinstance(entry, dict) or set(entry) != set(_FETCHED_FIELDS):
        raise ValueError(f"not a kept file's entry: {entry!r:.200}")
    for key, kind in _FETCHED_FIELDS.items():
        if not isinstance(entry[key], kind) or isinstance(entry[key], bool):
            raise ValueError(f"a kept file's {key} is not {kind.__name__}: {entry[key]!r:.80}")
    inside = workdir.resolve()
    if not (inside / entry["path"]).resolve().is_relative_to(inside):
        raise ValueError(f"a kept file's path is outside its folder: {entry['path']!r:.200}")
    return FetchedFile(**entry)


def _drop_kept(kept_root: Path, name: str, staging: Path) -> None:
    """Remove what was kept of ``name`` (of a release no longer wanted): moved into this
    refresh's staging folder first, so that a refresh taking it at the same moment either
    has it whole or finds none."""
    away = staging / f"dropped-{name}"
    try:
        os.replace(kept_root / name, away)
    except OSError:
        return
    _remove(away)


def _remove(path: Path) -> None:
    """Remove a folder, or whatever is at ``path`` in its place (a file, a symbolic link)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


#: a refresh's staging folder holds this file, locked (``flock``) for as long as the refresh
#: runs; one whose lock is free is a refresh's that was killed before it could remove it
STAGING_LOCK = ".running"
#: a staging folder with no lock file is left alone until it is this old (a refresh makes
#: the file as soon as it has made the folder; code before the lock made none)
UNLOCKED_STAGING_AGE_S = 3600


#: held (``flock``) by a refresh while it clears abandoned staging folders and makes and
#: locks its own, so that no other refresh finds its folder made but not yet locked
STAGING_GUARD = ".refresh.lock"


def _new_staging(root: Path) -> tuple[Path, int]:
    """A new staging folder under ``root`` and the descriptor holding its lock (closed by the
    caller when the folder is removed). The staging folders of refreshes no longer running
    (killed, their ``finally`` never run: a Code-Point or NSPL download is hundreds of MB)
    are removed first; a running refresh's is left alone."""
    guard = os.open(root / STAGING_GUARD, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(guard, fcntl.LOCK_EX)  # (another refresh holds it for milliseconds)
        for folder in root.glob(".refresh-*"):
            _remove_if_abandoned(folder)
        staging = Path(tempfile.mkdtemp(prefix=".refresh-", dir=root))
        held = -1
        try:
            held = os.open(staging / STAGING_LOCK, os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(held, fcntl.LOCK_EX)
        except BaseException:
            if held >= 0:
                os.close(held)
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return staging, held
    finally:
        os.close(guard)  # (closing it gives the lock back)


def _remove_if_abandoned(folder: Path) -> None:
    """Remove a staging folder unless a running refresh holds its lock."""
    try:
        lock = os.open(folder / STAGING_LOCK, os.O_RDWR)
    except FileNotFoundError:
        try:
            age = time.time() - folder.stat().st_mtime
        except OSError:
            return
        if folder.is_dir() and age > UNLOCKED_STAGING_AGE_S:
            log.info("removing %s, left by a refresh that did not finish", folder)
            shutil.rmtree(folder, ignore_errors=True)
        return
    except OSError:
        return
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a refresh running now
        log.info("removing %s, left by a refresh that did not finish", folder)
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(lock)


def _finish(
    report: RefreshReport, names: list[str], results: dict[str, SourceResult], started: float
) -> RefreshReport:
    report.sources = [results[n] for n in names if n in results]
    report.seconds = time.perf_counter() - started
    return report


def _fetch_new(
    names: list[str], state: dict[str, Any], client: Client, staging: Path, force: bool,
    results: dict[str, SourceResult], progress: Progress, kept_root: Path,
) -> dict[str, tuple[Found, list[FetchedFile], Path]]:  # fmt: skip
    """Discover each source and fetch its release when new: the London cut kept of that
    same release (under ``kept_root``: :func:`_keep`) when there is one, unless ``force``;
    else downloaded and cut."""
    fetched: dict[str, tuple[Found, list[FetchedFile], Path]] = {}
    for name in names:
        source = SOURCES[name]
        previous = (state.get(name) or {}).get("version")
        progress.step(f"{name}: asking for the newest release")
        try:
            found = source.discover(client)
        except NotPublishedError as error:  # nothing to fetch: not a failure
            results[name] = SourceResult(name, "not published", previous=previous, error=str(error))
            progress.note(f"{name}: not published: {error}")
            continue
        except GeodataError as error:
            results[name] = SourceResult(name, "failed", previous=previous, error=str(error))
            progress.note(f"{name}: failed: {error}")
            continue
        result = SourceResult(name, "new", found.label, found.version, previous)
        results[name] = result
        if found.version == previous and not force:
            result.status = "nothing new"
            progress.note(f"{name}: nothing new ({found.label})")
            _drop_kept(kept_root, name, staging)  # (kept of it, loaded since by another)
            continue
        workdir = staging / "fetched" / name
        workdir.parent.mkdir(parents=True, exist_ok=True)
        taken = None if force else _take_kept(kept_root, name, found, client, workdir)
        _drop_kept(kept_root, name, staging)  # another release's, or --force: never taken now
        if taken is not None:
            result.kept_from, files = taken
            progress.note(f"{name}: {found.label}: as fetched at {result.kept_from}")
        else:
            progress.step(f"{name}: downloading {found.label}")
            workdir.mkdir(exist_ok=True)  # (kept files that failed their checks may linger)
            try:
                files = source.fetch(client, found, workdir)
            except GeodataError as error:
                result.status, result.error = "failed", str(error)
                progress.note(f"{name}: failed: {error}")
                continue
        result.files = [
            {"key": f.key, "path": f.path, "rows": f.rows, "sha256": f.sha256} for f in files
        ]
        fetched[name] = (found, files, workdir)
        progress.note(
            f"{name}: {found.label}: " + ", ".join(f"{f.path} ({f.rows:,} rows)" for f in files)
        )
    return fetched


def _checked(
    base_dir: Path, base: Manifest, fetched: dict[str, tuple[Found, list[FetchedFile], Path]],
    candidate: Path, about: dict[str, Any], results: dict[str, SourceResult], progress: Progress,
) -> tuple[Manifest, GeographyBundle | None]:  # fmt: skip
    """Assemble the candidate and read its geography as a whole; geography sources whose
    files fail the whole-London checks are rejected and the candidate rebuilt without them."""
    manifest = _assemble(base_dir, base, fetched, candidate, about)
    geography = [
        n for n, (_f, files, _w) in fetched.items() if any(f.key in GEOGRAPHY_KEYS for f in files)
    ]
    if not geography:
        return manifest, None
    try:
        return manifest, read_bundle(candidate)
    except GeodataError as error:
        for name in geography:
            results[name].status, results[name].error = (
                "rejected",
                f"the London geography fails its checks with it: {error}",
            )
            progress.note(f"{name}: rejected: {error}")
            del fetched[name]
        return _assemble(base_dir, base, fetched, candidate, about), None


def _changes(
    db: Database, settings: Settings, snap: GeographySnapshot, manifest: Manifest,
    bundle: GeographyBundle | None, candidate: Path,
    fetched: dict[str, tuple[Found, list[FetchedFile], Path]],
    results: dict[str, SourceResult], progress: Progress,
) -> dict[str, Any]:  # fmt: skip
    """What loading the candidate would change, against the database; the figures and grants
    are read by their importers as dry runs (a file they reject is rejected here)."""
    changes: dict[str, Any] = {}
    if bundle is not None:
        progress.step("comparing postcodes and areas with the database")
        with db.engine.connect() as connection:
            repo = GeographyRepository(connection)
            changes["postcodes"] = _postcode_changes(repo.postcode_places(), bundle)
            changes["areas"] = _area_changes(repo.area_names(), bundle)
            progress.step("placing the sites with the new geography")
            changes["sites"] = site_moves(connection, bundle, settings=settings).to_dict()
    owner = {f.key: n for n, (_found, files, _w) in fetched.items() for f in files}
    for key, fmt, source in _imports(manifest, set(owner)):
        progress.step(f"{owner[key]}: reading {manifest.file(key).path} as a dry run")
        path = candidate / manifest.file(key).path
        message = ""
        try:
            dry = run_import(
                db, snap, settings, str(path), fmt=fmt, source=source, dry_run=True,
                take_over_from=(GRANTS_SOURCE,),  # (as the import itself, below)
            )  # fmt: skip
        except SourceError as error:
            dry, message = None, str(error)
        if dry is None or not dry.ok:
            name = owner[key]
            errors = [p.message for p in (dry.problems if dry else []) if p.severity == "error"]
            results[name].status = "rejected"
            results[name].error = (
                message
                if dry is None
                else f"{len(errors)} errors, e.g. {errors[0] if errors else '?'}"
            )
            continue
        entry: dict[str, Any] = {"file": manifest.file(key).path, "counts": dry.counts}
        if key == "crime":
            with db.engine.connect() as connection:
                loaded = {m.strftime("%Y-%m") for m in FundingQueries(connection).crime_months()}
            months = _months(path)
            entry["months"] = {"first": months[0] if months else None, "last": months[-1] if months else None,
                               "new": [m for m in months if m not in loaded]}  # fmt: skip
        if key.startswith(GRANTS_PREFIX):
            changes.setdefault("grants", []).append(entry)
        else:
            changes[key] = entry
    return changes


def _load(
    db: Database, settings: Settings, snap: GeographySnapshot, manifest: Manifest,
    bundle: GeographyBundle | None, candidate: Path,
    fetched: dict[str, tuple[Found, list[FetchedFile], Path]], fetched_keys: set[str],
    base_dir: Path, base: Manifest, about: dict[str, Any],
    results: dict[str, SourceResult], report: RefreshReport, progress: Progress,
) -> None:  # fmt: skip
    """Move the candidate into place, load it, and mark it complete (see the module doc)."""
    accepted = {n: v for n, v in fetched.items() if results[n].status == "new"}
    if len(accepted) != len(fetched):  # rebuild without the rejected sources' files
        manifest = _assemble(base_dir, base, accepted, candidate, about)
    target = releases_dir(settings) / str(about["id"])
    if target.exists():
        raise RefreshError(f"A release named {target.name} exists already; try again in a second.")
    os.replace(candidate, target)
    geography = [
        n for n, (_f, files, _w) in accepted.items() if any(f.key in GEOGRAPHY_KEYS for f in files)
    ]
    if geography and bundle is not None:
        progress.note("loading the geography (one transaction)")
        try:
            loaded = load_geography(
                db, target, progress=progress, read=bundle,
                place_sites=partial(place_sites, settings=settings),
            )  # fmt: skip
        except Exception as error:  # the transaction rolled back: nothing changed
            log.exception("loading refreshed geography failed")
            shutil.rmtree(target, ignore_errors=True)
            for name in geography:
                results[name].status, results[name].error = (
                    "load failed",
                    f"{type(error).__name__}: {error}"[:500],
                )
            report.release = None
            return
        progress.note(loaded.describe())
        if loaded.sites is not None:  # (what the load did: the dry reading's, as a rule)
            report.changes["sites"] = loaded.sites.to_dict()
        for name in geography:
            results[name].status = "loaded"
        # the figures and grants that follow are read by the geography just loaded: by the
        # one read before it, a grant naming a ward new in this release would lose that area
        with db.engine.connect() as connection:
            repo = GeographyRepository(connection)
            version = repo.data_version()
            if version is not None:  # (the load wrote one)
                snap = GeographySnapshot.build(repo, version)
    owner = {f.key: n for n, (_found, files, _w) in accepted.items() for f in files}
    failed_keys: set[str] = set()
    for key, fmt, source in _imports(manifest, set(owner) & fetched_keys):
        progress.step(f"{owner[key]}: importing {manifest.file(key).path}")
        message = ""
        try:
            # one publisher's files, a source each, may list the same grants (a year's
            # workbook repeats some of the file before it): the file imported last holds
            # them; a grant another source holds (an officer's) is not taken unasked
            done = run_import(
                db, snap, settings, str(target / manifest.file(key).path), fmt=fmt, source=source,
                take_over_from=(GRANTS_SOURCE,), fetched_from=_fetched_from(manifest.file(key)),
            )  # fmt: skip
        except SourceError as error:
            done, message = None, str(error)
        name = owner[key]
        if done is None or not done.ok:
            results[name].status = "load failed"
            results[name].error = (
                message if done is None else "the import failed; see /api/v1/imports"
            )
            failed_keys.add(key)
        elif results[name].status != "load failed":
            results[name].status = "loaded"
    if failed_keys:  # the release lists the file it holds data for: the base's, not the failed one
        keep = {n: v for n, v in accepted.items() if results[n].status == "loaded"}
        shutil.rmtree(target)
        manifest = _assemble(base_dir, base, keep, target, about)
    (target / COMPLETE_MARKER).write_text(str(about["id"]) + "\n", encoding="utf-8")
    report.loaded = True
