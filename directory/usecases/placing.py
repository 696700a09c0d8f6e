"""Where a delivery site is: its point, ward and borough, from its postcode or its point.

An import or a write places each site it is given (:func:`place_site`). A site keeps those
codes until something places it again, so when the geography changes (a refresh from the
publishers, or ``directory init`` / ``geodata load`` loading other files) every site is
placed again in the load's transaction (:func:`place_sites`), the same way: the patch by
ward, the funding by area and the exports then agree with the postcode lookup of the
site's postcode. A dry run asks :func:`site_moves` what would move, writing nothing.

A site that moves ward or borough is a change of its service, recorded as an edit's is
(:func:`place_sites`): the change feed of the areas it left and joined, and the service's
history, say so.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from directory.errors import GeodataNotLoadedError
from directory.settings import Settings
from directory.store.loading import DATASET as GEOGRAPHY
from directory.store.loading import area_rows, neighbour_rows
from directory.store.repositories.directory import (
    SITE_STATE_FIELDS,
    DirectoryRepository,
    service_areas,
)
from directory.store.repositories.geography import DataVersion, GeographyRepository, grid_cell
from directory.usecases.geography import GeographySnapshot, resolve_point, resolve_points
from geodata.crs import to_bng
from geodata.loaders import GeographyBundle

#: a site's point equals its postcode's within this (degrees: about a metre)
SAME_POINT = 1e-5
#: how many of the sites that move are named in a report, per kind of move
EXAMPLES = 10


@dataclass(frozen=True)
class Place:
    """Where a site is: its point (WGS84 and EPSG:27700), its grid cell, ward and borough."""

    lat: float | None
    lon: float | None
    easting: float | None
    northing: float | None
    borough_code: str | None
    ward_code: str | None

    @property
    def cell(self) -> int | None:
        if self.easting is None or self.northing is None:
            return None
        return grid_cell(self.easting, self.northing)


def _near(lat: float, lon: float, other_lat: float | None, other_lon: float | None) -> bool:
    return (
        other_lat is not None
        and other_lon is not None
        and abs(lat - other_lat) < SAME_POINT
        and abs(lon - other_lon) < SAME_POINT
    )


def at_postcode(
    lat: float | None, lon: float | None, postcode: Any,
    *, was_at: tuple[float | None, float | None] = (None, None),
) -> bool:  # fmt: skip
    """Whether a site with this point (if any) is placed at its postcode: it has no point
    of its own, or its point is the postcode's (or was: ``was_at``)."""
    return (
        lat is None or lon is None
        or _near(lat, lon, postcode.lat, postcode.lon) or _near(lat, lon, *was_at)
    )  # fmt: skip


def place_site(
    snap: GeographySnapshot, settings: Settings, lat: float | None, lon: float | None,
    postcode: Any | None, *, was_at: tuple[float | None, float | None] = (None, None),
) -> Place:  # fmt: skip
    """Place a site: at its postcode (that postcode's point, ward and borough) when it has
    no point of its own or its point is the postcode's (``was_at``: where the postcode was
    before, also its own); else by its point (:func:`resolve_point`); else nowhere.

    ``postcode`` is the postcode's row (``lat``, ``lon``, ``easting``, ``northing``,
    ``borough_code``, ``ward_code``) or None when it is not known.

    Raises
    ------
    OutsideCoverageError
        The site is placed by its point, and the point is outside London.
    """
    if postcode is not None and at_postcode(lat, lon, postcode, was_at=was_at):
        return postcode_place(postcode)
    if lat is None or lon is None:
        return Place(None, None, None, None, None, None)
    x, y = (float(v) for v in to_bng(lon, lat))
    areas = resolve_point(snap, settings, x, y)
    return Place(lat, lon, x, y, areas.borough, areas.ward)


def postcode_place(postcode: Any) -> Place:
    """Where a site placed at its postcode is: the postcode's point, ward and borough."""
    return Place(
        postcode.lat, postcode.lon, postcode.easting, postcode.northing,
        postcode.borough_code, postcode.ward_code,
    )  # fmt: skip


# -- placing every site again ---------------------------------------------------------------
@dataclass
class SiteMoves:
    """The sites placed elsewhere by a geography (or that would be), and the services whose
    coverage, and the grants whose areas, name an area it does not have."""

    sites: int = 0
    #: sites whose borough changes (a ward too, mostly), then those whose ward alone does
    moved_borough: int = 0
    moved_ward: int = 0
    #: sites at their postcode whose postcode moved, in the same ward
    moved_point: int = 0
    #: sites placed by a point outside London now: they keep the point, with no area
    outside: int = 0
    examples: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"moved_borough": [], "moved_ward": []}
    )
    #: service ref → the area codes of its coverage the geography does not have
    coverage_lost: dict[str, list[str]] = field(default_factory=dict)
    #: grant ref → the area codes among its areas the geography does not have
    grants_lost: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    #: the rows written (or that would be): site_id and its place
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    #: the sites that move ward or borough: each as read (``site_places``) and its place
    area_moves: list[tuple[Any, Place]] = field(default_factory=list, repr=False)
    #: the change events recorded for them (one a service; none in a dry run)
    events: int = 0

    @property
    def moved(self) -> int:
        return len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": self.sites, "moved": self.moved, "moved_borough": self.moved_borough,
            "moved_ward": self.moved_ward, "moved_point": self.moved_point,
            "outside_london": self.outside, "examples": self.examples,
            "coverage_lost": [
                {"service": ref, "areas": codes} for ref, codes in self.coverage_lost.items()
            ],
            "grants_lost": _grants_lost_report(self.grants_lost),
            "change_events": self.events, "seconds": round(self.seconds, 2),
        }  # fmt: skip

    def lines(self) -> list[str]:
        return report_lines(self.to_dict())

    def warning(self) -> str | None:
        """The warnings of :func:`lost_warnings`, a line each, or None."""
        return "\n".join(lost_warnings(self.to_dict())) or None


def _grants_lost_report(lost: dict[str, list[str]]) -> dict[str, Any]:
    """How many grants name areas the geography does not have, how many name each such
    area, and a few of them (a national directory's grants may name thousands)."""
    areas: dict[str, int] = defaultdict(int)
    for codes in lost.values():
        for code in codes:
            areas[code] += 1
    return {
        "grants": len(lost),
        "areas": dict(sorted(areas.items())),
        "examples": [
            {"grant": ref, "areas": codes} for ref, codes in list(lost.items())[:EXAMPLES]
        ],
    }


def report_lines(moves: dict[str, Any]) -> list[str]:
    """A report of :meth:`SiteMoves.to_dict` in words: the counts, a few examples, and the
    warnings naming the services whose coverage, and the grants whose areas, lost an
    area."""
    lines = [
        f"sites: {moves['moved_borough']:,} moved borough, {moves['moved_ward']:,} moved ward"
        + (f", {moves['moved_point']:,} moved with their postcode" if moves["moved_point"] else "")
        + (f" ({moves['outside_london']:,} now outside London)" if moves["outside_london"] else "")
        + f" of {moves['sites']:,}"
        + (
            f"; recorded as {moves['change_events']:,} change events of their services"
            if moves.get("change_events")
            else ""
        )
    ]
    for kind, examples in moves["examples"].items():
        for move in examples:
            lines.append(
                f"    {kind.replace('_', ' ')}: service {move['service']} site "
                f"{move['site']}: {_where(move['from'])} → {_where(move['to'])}"
            )
    lines.extend(lost_warnings(moves))
    return lines


def lost_warnings(moves: dict[str, Any]) -> list[str]:
    """The warnings of :func:`coverage_warning` and :func:`grants_warning` there are."""
    return [w for w in (coverage_warning(moves), grants_warning(moves)) if w]


def coverage_warning(moves: dict[str, Any]) -> str | None:
    """The services whose coverage names an area the geography does not have (no successor
    is guessed: their owners say which areas they serve now)."""
    lost = moves["coverage_lost"]
    if not lost:
        return None
    shown = "; ".join(f"{c['service']} ({', '.join(c['areas'])})" for c in lost[:20])
    more = f" and {len(lost) - 20:,} more" if len(lost) > 20 else ""
    return (
        f"warning: {len(lost):,} services' coverage names areas this geography does not "
        f"have (edit them): {shown}{more}"
    )


def grants_warning(moves: dict[str, Any]) -> str | None:
    """The grants whose areas name an area the geography does not have (an abolished
    ward: no successor is guessed, and the grant no longer counts in any area's funding or
    ``/grants?area`` until its areas are edited)."""
    lost = moves.get("grants_lost") or {"grants": 0}
    if not lost["grants"]:
        return None
    shown = "; ".join(f"{g['grant']} ({', '.join(g['areas'])})" for g in lost["examples"])
    more = lost["grants"] - len(lost["examples"])
    return (
        f"warning: {lost['grants']:,} grants name areas this geography does not have "
        f"(edit them): {shown}" + (f" and {more:,} more" if more else "")
    )


def _where(areas: dict[str, str | None]) -> str:
    return f"{areas['borough'] or 'no borough'} / {areas['ward'] or 'no ward'}"


def bundle_snapshot(bundle: GeographyBundle) -> GeographySnapshot:
    """A snapshot of a geography read from files, not loaded (to place points with it)."""

    class Rows:
        def latest_release(self, _dataset: str) -> Any:
            return SimpleNamespace(
                id=0, loaded_at=datetime.now(UTC), label=bundle.release["label"], details={}
            )

        def areas(self) -> list[Any]:
            return [SimpleNamespace(**row) for row in area_rows(bundle)]

        def neighbours(self) -> list[Any]:
            return [SimpleNamespace(**row) for row in neighbour_rows(bundle)]

    return GeographySnapshot.build(Rows(), DataVersion(0, datetime.now(UTC)))  # type: ignore[arg-type]


class PlacingGeography:
    """A geography sites are placed by: one read from files (:func:`bundle_geography`,
    about to be loaded) or the one the database holds (:func:`held_geography`).

    Its polygons (:attr:`snapshot`) are made at the first asking: only a site placed by
    its point needs them (a quarter of a second from the database), and most sites are
    placed at their postcode."""

    def __init__(
        self, snapshot: Callable[[], GeographySnapshot],
        live_postcodes: Callable[[Collection[str]], Mapping[str, Any]],
        names: Mapping[str, str], release: str,
    ) -> None:  # fmt: skip
        self._snapshot = snapshot
        #: the rows of the live postcodes among those asked for, by canonical postcode
        #: (with ``lat``, ``lon``, ``easting``, ``northing``, ``borough_code``, ``ward_code``)
        self.live_postcodes = live_postcodes
        #: code → name of every area
        self.names = names
        #: the code of every area
        self.codes = frozenset(names)
        #: the release's name, as a change event names it
        self.release = release

    @functools.cached_property
    def snapshot(self) -> GeographySnapshot:
        """The areas' polygons and indexes, to place points by."""
        return self._snapshot()


def bundle_geography(bundle: GeographyBundle) -> PlacingGeography:
    """The geography read from files (not loaded), to place sites by."""
    live = {p.canonical: p for p in bundle.postcodes if p.status == "live"}
    return PlacingGeography(
        snapshot=lambda: bundle_snapshot(bundle),
        live_postcodes=lambda _wanted: live,
        names={a.code: a.name for a in bundle.areas},
        release=_release_name(bundle.release["data"].get("id"), bundle.release["label"]),
    )


def held_geography(session: Session | Connection) -> PlacingGeography:
    """The geography the database holds, to place sites by: its areas' polygons (the
    snapshot every request answers from) and its postcodes, read for the sites' postcodes
    alone. Placing by it is placing by a bundle read from the files of the same release
    (the same checksum): the load wrote the bundle's areas (their polygons as WKB) and
    postcodes (their points and areas as doubles and texts) as they were, and
    :func:`bundle_snapshot` builds its snapshot from those same rows.

    Raises
    ------
    GeodataNotLoadedError
        No geography is loaded.
    """
    repo = GeographyRepository(session)
    release = repo.latest_release(GEOGRAPHY)
    if release is None:
        raise GeodataNotLoadedError(
            "No geography is loaded. Run `directory init` (or `directory geodata load`)."
        )
    data = (release.details or {}).get("data") or {}

    def snapshot() -> GeographySnapshot:
        version = repo.data_version() or DataVersion(0, datetime.now(UTC))
        return GeographySnapshot.build(repo, version)

    def live_postcodes(wanted: Collection[str]) -> Mapping[str, Any]:
        return {c: row for c, row in repo.postcodes(wanted).items() if row.status == "live"}

    return PlacingGeography(
        snapshot=snapshot,
        live_postcodes=live_postcodes,
        names={code: name for code, (_type, name) in repo.area_names().items()},
        release=_release_name(data.get("id"), release.label),
    )


def _geography(bundle: GeographyBundle | None, session: Session | Connection) -> PlacingGeography:
    return bundle_geography(bundle) if bundle is not None else held_geography(session)


def site_moves(
    session: Session | Connection, bundle: GeographyBundle | None, *, settings: Settings,
    geography: PlacingGeography | None = None,
) -> SiteMoves:  # fmt: skip
    """Where every site would be with ``bundle``'s geography (read against the geography
    loaded now, which tells which sites were placed at their postcode), or with the
    geography loaded now when ``bundle`` is None, and which services' coverage and which
    grants' areas name an area it does not have. Writes nothing."""
    started = datetime.now(UTC)
    repo = DirectoryRepository(session)  # type: ignore[arg-type]
    geography = geography or _geography(bundle, session)
    sites = repo.site_places()
    live = geography.live_postcodes({site.postcode for site in sites if site.postcode})
    moves = SiteMoves()
    by_point: list[Any] = []  # the sites placed by their point, placed together below
    for site in sites:
        moves.sites += 1
        postcode = live.get(site.postcode) if site.postcode else None
        was_at = (site.postcode_lat, site.postcode_lon)
        if postcode is not None and at_postcode(site.lat, site.lon, postcode, was_at=was_at):
            _compare(moves, site, postcode_place(postcode))  # (as place_site places it)
        elif site.lat is not None and site.lon is not None:
            by_point.append(site)
        # (else there is nothing to place it by: it stays as it is)
    if by_point:
        snap = geography.snapshot
        xs, ys = to_bng(
            np.array([s.lon for s in by_point], dtype=float),
            np.array([s.lat for s in by_point], dtype=float),
        )
        for site, x, y, areas in zip(
            by_point, xs.tolist(), ys.tolist(), resolve_points(snap, settings, xs, ys), strict=True
        ):
            borough, ward = areas or (None, None)
            _compare(moves, site, Place(site.lat, site.lon, x, y, borough, ward))
    moves.coverage_lost = _coverage_lost(repo, geography.codes)
    moves.grants_lost = _grants_lost(repo, geography.codes)
    moves.seconds = (datetime.now(UTC) - started).total_seconds()
    return moves


def _compare(moves: SiteMoves, site: Any, place: Place) -> None:
    before = (site.borough_code, site.ward_code)
    after = (place.borough_code, place.ward_code)
    point_moved = not _near(place.lat, place.lon, site.lat, site.lon)  # type: ignore[arg-type]
    if before == after and not point_moved and site.cell == place.cell:
        return
    moves.rows.append({
        "site_id": site.id, "lat": place.lat, "lon": place.lon, "easting": place.easting,
        "northing": place.northing, "borough_code": place.borough_code,
        "ward_code": place.ward_code, "cell": place.cell,
    })  # fmt: skip
    if place.borough_code is None and site.borough_code is not None:
        moves.outside += 1
    kind = "moved_borough" if before[0] != after[0] else "moved_ward" if before != after else None
    if kind is None:
        moves.moved_point += 1
        return
    setattr(moves, kind, getattr(moves, kind) + 1)
    moves.area_moves.append((site, place))
    if len(moves.examples[kind]) < EXAMPLES:
        moves.examples[kind].append({
            "service": site.service_ref, "site": site.ref,
            "from": {"borough": before[0], "ward": before[1]},
            "to": {"borough": after[0], "ward": after[1]},
        })  # fmt: skip


def _coverage_lost(repo: DirectoryRepository, codes: Collection[str]) -> dict[str, list[str]]:
    lost: dict[str, list[str]] = defaultdict(list)
    for ref, code in repo.services_covering(repo.coverage_codes() - codes):
        lost[ref].append(code)
    return dict(lost)


def _grants_lost(repo: DirectoryRepository, codes: Collection[str]) -> dict[str, list[str]]:
    lost: dict[str, list[str]] = defaultdict(list)
    for ref, code in repo.grants_naming(repo.grant_area_codes() - codes):
        lost[ref].append(code)
    return dict(lost)


def place_sites(
    session: Session, bundle: GeographyBundle | None, *, settings: Settings
) -> SiteMoves:
    """Place every site again with ``bundle``'s geography, in the caller's transaction
    (before the geography loaded now is replaced: it tells which sites were placed at
    their postcode), or with the geography loaded now when ``bundle`` is None (the same
    files are loaded already: :func:`held_geography`); only the sites that move are
    written, a thousand a statement. Each service whose sites move ward or borough gets a
    change event, in the same transaction."""
    geography = _geography(bundle, session)
    moves = site_moves(session, bundle, settings=settings, geography=geography)
    repo = DirectoryRepository(session)
    if not moves.area_moves:
        repo.set_site_places(moves.rows)
        return moves
    # (the services as they were, and the names of the areas left, before either changes)
    states = repo.service_states({site.service_id for site, _place in moves.area_moves})
    names = {code: name for code, (_, name) in GeographyRepository(session).area_names().items()}
    names.update(geography.names)
    repo.set_site_places(moves.rows)
    moves.events = _record_moves(repo, moves, states, names, geography.release)
    return moves


def _release_name(data_id: Any, label: str) -> str:
    return str(data_id or label)


def _record_moves(
    repo: DirectoryRepository, moves: SiteMoves, states: dict[str, dict[str, Any]],
    names: dict[str, str], release: str,
) -> int:  # fmt: skip
    """Record a change event of each service whose sites moved ward or borough, as an edit
    of its sites is recorded (``changes.locations``: its sites before and after, each
    with its ``borough_code`` and ``ward_code``), touching the areas of both (its
    coverage too, as any change of a service); how many were recorded."""
    at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    by_service: dict[int, list[tuple[Any, Place]]] = defaultdict(list)
    for site, place in moves.area_moves:
        by_service[site.service_id].append((site, place))
    events = []
    for ref, old in sorted(states.items(), key=lambda item: item[1]["id"]):
        moved = {site.ref: place for site, place in by_service[old["id"]]}
        before = sorted((_site_state(loc) for loc in old["locations"]), key=lambda s: s["ref"])
        after = [
            {**s, "lat": p.lat, "lon": p.lon, "borough_code": p.borough_code,
             "ward_code": p.ward_code} if (p := moved.get(s["ref"])) else s
            for s in before
        ]  # fmt: skip
        was = {s["ref"]: s for s in before}
        summary = "; ".join(
            f"Site {site} placed {_where_named(names, place.ward_code, place.borough_code)} "
            f"(was {_where_named(names, was[site]['ward_code'], was[site]['borough_code'], '')})"
            for site, place in sorted(moved.items())
        )
        events.append({
            "import_run_id": None, "at": at, "entity": "service", "entity_id": old["id"],
            "entity_ref": ref, "action": "updated", "changes": {"locations": [before, after]},
            "summary": f"{summary} by the geography release {release}"[:500],
            "areas": service_areas(old) | service_areas({**old, "locations": after}),
            "actor": None,
        })  # fmt: skip
    repo.add_events(events)
    return len(events)


def _site_state(loc: dict[str, Any]) -> dict[str, Any]:
    """A site as an import's or a write's change names it, with its ward and borough."""
    return {f: loc[f] for f in SITE_STATE_FIELDS}


def _where_named(
    names: dict[str, str], ward: str | None, borough: str | None, in_: str = "in "
) -> str:
    """Where a site is, in words: its ward's name (its borough's when it has no ward), or
    outside London."""
    code = ward or borough
    return "outside London" if code is None else f"{in_}{names.get(code, code)}"
