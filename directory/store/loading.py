"""Where London's data comes from, and loading its geography into the database
(idempotent and all-or-nothing).

The data directory is chosen in this order (:func:`resolve_data_dir`): ``--from DIR``,
``DIRECTORY_GEODATA_DIR``, the newest release refreshed from the official publishers
under ``instance/data/releases/`` (``directory geodata refresh``), then the London
snapshot packaged with the project (extracted once under ``instance/data/snapshot/``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy.orm import Session

from directory.progress import QUIET, Progress
from directory.settings import Settings
from directory.store.db import Database
from directory.store.repositories.geography import GeographyRepository, grid_cell
from geodata.errors import DataFileError
from geodata.loaders import GeographyBundle, read_bundle, release_checksum
from geodata.snapshot import PACKAGED_SNAPSHOT, extract_snapshot, packaged_manifest
from geodata.sources import MANIFEST_FILE

log = logging.getLogger(__name__)
DATASET = "geography"


#: a refreshed release directory is complete (usable) once this marker is in it
COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class DataDir:
    """A London data directory and how it was chosen.

    Attributes
    ----------
    path : Path
        The directory (laid out like shared/data, or with its own manifest.json).
    origin : str
        "--from", "DIRECTORY_GEODATA_DIR", "refreshed release" or "packaged snapshot".
    name : str
        The release's or snapshot's id, or the directory path.
    """

    path: Path
    origin: str
    name: str

    def describe(self) -> str:
        return (
            f"{self.origin} {self.name}"
            if self.name != str(self.path)
            else f"{self.origin} ({self.path})"
        )


def data_root(settings: Settings) -> Path:
    """Where the instance keeps data: ``releases/`` (refreshed) and ``snapshot/``."""
    return settings.instance_dir / "data"


def releases_dir(settings: Settings) -> Path:
    return data_root(settings) / "releases"


def newest_release(settings: Settings) -> Path | None:
    """The newest complete refreshed release under the instance directory, if any.
    Release directories are named by UTC time (``20261129T221500Z``), so the newest
    sorts last; incomplete ones (no marker) are ignored."""
    root = releases_dir(settings)
    if not root.is_dir():
        return None
    complete = sorted(
        p for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / COMPLETE_MARKER).is_file()
        and (p / MANIFEST_FILE).is_file()
    )  # fmt: skip
    return complete[-1] if complete else None


def resolve_data_dir(
    settings: Settings, given: Path | None = None, *, snapshot: Path = PACKAGED_SNAPSHOT
) -> DataDir:
    """The data directory to use: ``given`` (``--from``), else ``DIRECTORY_GEODATA_DIR``,
    else the newest refreshed release, else the packaged snapshot (extracted on first use,
    every file checked against its sha256).

    Raises
    ------
    geodata.errors.DataFileError
        If the packaged snapshot is missing or corrupt (only reached when nothing else is
        configured).
    """
    if given is not None:
        return DataDir(Path(given), "--from", str(given))
    if settings.geodata_dir is not None:
        return DataDir(settings.geodata_dir, "DIRECTORY_GEODATA_DIR", str(settings.geodata_dir))
    release = newest_release(settings)
    if release is not None:
        return DataDir(release, "refreshed release", release.name)
    path = extract_snapshot(data_root(settings) / "snapshot", snapshot)
    return DataDir(path, "packaged snapshot", str(packaged_manifest(snapshot).about["id"]))


@dataclass(frozen=True)
class LoadReport:
    loaded: bool
    checksum: str
    release_id: int | None
    counts: dict[str, int]
    seconds: float
    read_seconds: float
    #: the sites placed again (:func:`directory.usecases.placing.place_sites`), when asked
    sites: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": self.loaded,
            "release_id": self.release_id,
            "checksum": self.checksum,
            "counts": {k.replace(" ", "_"): n for k, n in self.counts.items()},
            "seconds": round(self.seconds, 2),
            "read_seconds": round(self.read_seconds, 2),
            "sites": None if self.sites is None else self.sites.to_dict(),
        }

    def describe(self) -> str:
        sites = (
            "\n" + "\n".join(self.sites.lines())
            if self.sites is not None
            and (self.sites.sites or self.sites.coverage_lost or self.sites.grants_lost)
            else ""
        )
        if not self.loaded:
            if self.sites is None:
                return f"Geography already loaded (checksum {self.checksum[:12]}); nothing changed."
            if not self.sites.moved:
                warning = self.sites.warning()
                return (
                    f"Geography already loaded (checksum {self.checksum[:12]}); nothing "
                    f"changed: the {self.sites.sites:,} sites are where it places them."
                ) + (f"\n{warning}" if warning else "")
            return (
                f"Geography already loaded (checksum {self.checksum[:12]}); "
                f"{self.sites.moved:,} sites were out of place and are placed again.{sites}"
            )
        parts = ", ".join(f"{n:,} {k}" for k, n in self.counts.items())
        return (
            f"Loaded geography release {self.release_id}: {parts} "
            f"in {self.seconds:.1f} s (reading files {self.read_seconds:.1f} s).{sites}"
        )


def area_rows(bundle: GeographyBundle) -> list[dict[str, Any]]:
    rows = []
    for a in bundle.areas:
        minx, miny, maxx, maxy = a.geometry.bounds
        rows.append(
            {
                "code": a.code,
                "type": a.type,
                "name": a.name,
                "parent_code": a.parent_code,
                "vintage": a.vintage,
                "attributes": dict(a.attributes),
                "min_x": minx,
                "min_y": miny,
                "max_x": maxx,
                "max_y": maxy,
                "area_m2": float(a.geometry.area),
                "geometry": shapely.to_wkb(a.geometry),
            }
        )
    return rows


def neighbour_rows(bundle: GeographyBundle) -> list[dict[str, str]]:
    rows = []
    for a, b, relation in bundle.neighbours:
        rows.append({"code": a, "neighbour_code": b, "relation": relation})
        rows.append({"code": b, "neighbour_code": a, "relation": relation})
    return rows


def _postcode_rows(bundle: GeographyBundle):  # type: ignore[no-untyped-def]
    for p in bundle.postcodes:
        yield {
            "canonical": p.canonical,
            "display": p.display,
            "outcode": p.outcode,
            "status": p.status,
            "easting": p.easting,
            "northing": p.northing,
            "lat": p.lat,
            "lon": p.lon,
            "borough_code": p.borough_code,
            "ward_code": p.ward_code,
            "positional_quality": p.positional_quality,
            "introduced": p.introduced,
            "terminated": p.terminated,
            "cell": grid_cell(p.easting, p.northing),
        }


def _public_release(release: dict[str, Any]) -> dict[str, Any]:
    """What every answer says about the data it came from."""
    files = release["files"]
    return {
        "data": release.get("data"),
        "postcodes": files["postcodes"]["release"],
        "terminated_postcodes": files["nspl"]["release"],
        "boundaries": {
            "boroughs": files["boroughs"]["release"],
            "wards": files["wards"]["release"],
            "ward_vintage": release["vintages"]["wards"],
            "bcu_membership_valid_from": release["vintages"]["bcus"],
        },
    }


#: the share of the postcodes loaded that a new release must hold, in all and in each
#: borough, unless told otherwise: a postcode file cut short (1,000 of its lines) replaced
#: London's 187,721 postcodes with 7,949, every lookup of the others then "not a London
#: postcode"; the file is in postcode order, so one cut later loses whole boroughs (W, WC,
#: SW and TW are last)
LEAST_OF_THE_POSTCODES = 0.5
#: a borough is compared only when it holds this many postcodes (every London borough holds
#: thousands; the City about 1,000)
BOROUGH_POSTCODES_COMPARED = 100


def _cut_short(held: Mapping[str, int], given: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """(code, given, held) of each borough the new data holds fewer than half the postcodes
    of that are loaded now, most lost first."""
    lost = [
        (code, given.get(code, 0), count)
        for code, count in held.items()
        if count >= BOROUGH_POSTCODES_COMPARED
        and given.get(code, 0) < LEAST_OF_THE_POSTCODES * count
    ]
    return sorted(lost, key=lambda row: row[1] / row[2])


#: places every site of the directory again with a geography about to be loaded (or,
#: given None, with the geography loaded now), in the load's transaction, and says what
#: moved (:func:`directory.usecases.placing.place_sites`, given its settings)
SitePlacer = Callable[[Session, GeographyBundle | None], Any]


def load_geography(
    db: Database, data_dir: Path, *, force: bool = False, fewer: bool = False,
    progress: Progress = QUIET, place_sites: SitePlacer | None = None,
    read: GeographyBundle | None = None,
) -> LoadReport:  # fmt: skip
    """Read the geography files in ``data_dir`` and swap them into the database.

    The swap happens in one transaction: a failure at any point leaves the previously
    loaded geography in place. Loading files whose checksum equals the loaded release's
    changes nothing unless ``force``, and reads nothing from them: the checksum is of the
    files' hashes (:func:`geodata.loaders.release_checksum`, a tenth of a second), the
    files are read (four to five seconds) only when it differs. ``progress`` is told each
    step (comparing the checksum, reading each file, writing areas, writing postcodes
    batch by batch, recording the release).

    ``place_sites`` (every command that loads the geography gives it) places the
    directory's sites again in the same transaction, before the old geography is removed
    (it tells which sites were placed at their postcode): a site keeps the ward and borough
    it was given until then. With the same files loaded already it still runs, so that
    sites placed by older code's rules are placed by today's, by the geography the
    database holds (given None for the bundle: the same release, by the checksum); when
    any moved, a data release is recorded (every worker then rebuilds its indexes), else
    nothing changes.

    ``read`` is the bundle of these files read already (a refresh reads its candidate
    release to check it before moving it into place): when its checksum is the files'
    checksum, it is loaded and the files are not read a second time.

    Call it in a geography turn (``directory.ingest.refresh.geography_turn``: the setup
    turn, then the write lock), as every command does: an import running beside the load
    would place its sites by the geography it read, or find them placed again half-way.
    It takes the setup turn itself (re-entrant), never the write lock.
    """
    started = time.perf_counter()
    checksum = release_checksum(data_dir)
    checked_seconds = time.perf_counter() - started
    progress.step("comparing the checksum with the loaded release")
    if not force:
        # in the database's setup turn: two loads at once run one after the other, and the
        # second, reading the releases after it, finds the first's (see Database.setup_turn)
        with db.setup_turn(), db.session() as session:
            latest = GeographyRepository(session).latest_release(DATASET)
            if latest is not None and latest.checksum == checksum:
                return _loaded_already(
                    session, latest, progress, place_sites, started, checked_seconds
                )
    if read is not None and read.release["checksum"] == checksum:
        bundle = read
    else:
        bundle = read_bundle(data_dir, on_step=progress.step, on_rows=progress.advance)
    read_seconds = time.perf_counter() - started
    checksum = bundle.release["checksum"]  # (of the files as read: the same, unless changed)
    counts = {
        "areas": len(bundle.areas),
        "neighbour pairs": len(bundle.neighbours),
        "postcodes": len(bundle.postcodes),
    }
    with db.setup_turn(), db.session() as session:
        repo = GeographyRepository(session)
        latest = repo.latest_release(DATASET)
        if latest is not None and latest.checksum == checksum and not force:
            # another load of the same files finished while these were read
            return _loaded_already(session, latest, progress, place_sites, started, read_seconds)
        held = sum(repo.count_postcodes().values())
        if len(bundle.postcodes) < LEAST_OF_THE_POSTCODES * held and not fewer:
            raise DataFileError(
                f"The data in {data_dir} holds {len(bundle.postcodes):,} postcodes, fewer than "
                f"half of the {held:,} loaded now: its postcode file may be cut short. Nothing "
                "was changed; give --fewer to load it even so."
            )
        lost = [] if fewer else _cut_short(
            repo.postcodes_by_borough(), Counter(p.borough_code for p in bundle.postcodes)
        )  # fmt: skip
        if lost:
            names = {a.code: a.name for a in bundle.areas}
            shown = "; ".join(
                f"{names.get(code, code)} {given:,} of {count:,}" for code, given, count in lost[:4]
            )
            more = f" and {len(lost) - 4} more" if len(lost) > 4 else ""
            raise DataFileError(
                f"The data in {data_dir} holds fewer than half the postcodes loaded now in "
                f"{len(lost)} borough{'s' if len(lost) > 1 else ''} ({shown}{more}): its "
                "postcode file may be cut short. Nothing was changed; give --fewer to load "
                "it even so."
            )
        sites = None
        if place_sites is not None:
            progress.step("placing the sites again")
            sites = place_sites(session, bundle)
        progress.step("removing the previous geography")
        repo.delete_geography()
        areas, neighbours = area_rows(bundle), neighbour_rows(bundle)
        progress.step("writing areas and neighbours", total=len(areas) + len(neighbours))
        repo.insert_areas(areas, neighbours)
        progress.advance(len(areas) + len(neighbours))
        progress.step("writing postcodes", total=len(bundle.postcodes))
        repo.insert_postcodes(_postcode_rows(bundle), on_batch=progress.advance)
        progress.step("recording the release")
        release = repo.add_release(
            dataset=DATASET,
            label=bundle.release["label"],
            checksum=checksum,
            details={"public": _public_release(bundle.release), **bundle.release},
            at=datetime.now(UTC).replace(microsecond=0),
        )
        release_id = release.id
    seconds = time.perf_counter() - started
    log.info("geography release %s loaded in %.1f s", release_id, seconds)
    return LoadReport(True, checksum, release_id, counts, seconds, read_seconds, sites)


def _loaded_already(
    session: Session, latest: Any, progress: Progress, place_sites: SitePlacer | None,
    started: float, read_seconds: float,
) -> LoadReport:  # fmt: skip
    """The report of a load finding its files loaded already (release ``latest``), having
    placed the sites again by the geography the database holds, when asked: when any
    moved, a data release records it (every worker then rebuilds its indexes).

    Placing by the database's geography is placing by the files': ``latest`` was loaded
    from files of the same checksum, which covers every file's bytes, the BCU table and
    the layers built (``AREAS_BUILT``), and its rows are the bundle's as they were read
    (see :func:`directory.usecases.placing.held_geography`). So a site an older rule
    placed elsewhere is placed by today's rules as a full load would place it."""
    progress.note(f"the same files are loaded already (release {latest.id})")
    repo = GeographyRepository(session)
    sites = None
    if place_sites is not None:
        progress.step("checking where the sites are")
        sites = place_sites(session, None)
        if sites.moved:
            repo.add_release(
                dataset="directory", label=f"{sites.moved} sites placed again",
                checksum=latest.checksum, details={"sites": sites.to_dict()},
                at=datetime.now(UTC).replace(microsecond=0),
            )  # fmt: skip
    counts = repo.count_geography()
    return LoadReport(
        False, latest.checksum, latest.id, counts, time.perf_counter() - started, read_seconds,
        sites,
    )  # fmt: skip
