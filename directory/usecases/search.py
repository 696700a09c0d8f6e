"""Searching the directory's services: the use case behind ``GET /services``.

Turns what a client asked for (text, themes, programme, status, organisation, an area by
code or name, a point and radius, a box, grant dates, a change date, a sort order and a
page) into plain filters for :class:`directory.store.repositories.search.SearchQueries`, checks
the combinations that make no sense (422), and builds the service summaries of the page,
with ``distance_m`` when a point was given and ``rank`` when text was. No Flask here.

Rules, also stated in the OpenAPI descriptions:

* Every filter narrows the answer (AND). ``programme``, ``live_on`` and
  ``funding_ends_within`` are conditions on grants, and one non-withdrawn grant of the
  service must meet all of those given (so ``programme=vru&funding_ends_within=90`` means
  VRU money ending within 90 days).
* ``area`` (a code in any case, or a name): a service matches if its coverage is the area,
  an area containing it (ward → borough → BCU → London; the City of London sits directly
  under London, in no BCU) or an area inside it, or if it has a delivery site inside it.
* ``sort``: ``relevance`` (needs ``q``; the default with it), ``distance`` (needs ``near``;
  the default with it and without ``q``), ``name`` (the default otherwise), ``updated``
  (newest change first) and ``funding_end`` (the soonest end date of a grant that has not
  ended first; services without one last). Ties are broken by name, then id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row

from directory.errors import (
    InvalidInputError,
)
from directory.settings import Settings
from directory.store.repositories.directory import CatalogueQueries
from directory.store.repositories.search import SORTS, AreaMatch, Box, Filters, Near, SearchQueries
from directory.usecases import boxes as boxes_
from directory.usecases.catalogue import (
    programme_known,
    service_summary,
    unknown_organisation,
    unknown_programme,
)
from directory.usecases.geography import (
    LONDONISH,
    GeographySnapshot,
    in_londonish,
    resolve_area,
)
from directory.usecases.pagination import envelope, moment_text, searched_for
from directory.usecases.vocabulary import check_themes
from geodata import crs

DEFAULT_RADIUS_M = 2000
MAX_RADIUS_M = 20_000
MAX_FUNDING_DAYS = 3650


@dataclass(frozen=True)
class SearchRequest:
    q: str | None = None
    themes: tuple[str, ...] = ()
    programme: str | None = None
    status: str | None = None
    organisation: str | None = None
    include_withdrawn: bool = False
    area: str | None = None
    near: str | None = None
    radius: int | None = None
    bbox: str | None = None
    live_on: date | None = None
    funding_ends_within: int | None = None
    updated_since: str | None = None
    sort: str | None = None
    page: int = 1
    per_page: int = 50


@dataclass
class SearchResult:
    """One page of services: the summaries, the raw rows and what the representations need."""

    contents: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    sort: str
    area: str | None = None
    near: Near | None = None
    features: int | None = None
    coverage: dict[int, list[str]] = field(default_factory=dict)
    sites: dict[int, list[Row[Any]]] = field(default_factory=dict)
    #: ``sites`` holds only those inside the request's box (GeoJSON with ``bbox``)
    sites_inside: bool = False
    programmes: dict[int, list[str]] = field(default_factory=dict)

    def envelope(self) -> dict[str, Any]:
        return envelope(
            self.contents, total_items=self.total, page=self.page, per_page=self.per_page
        )


def _invalid(param: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, errors={param: [message]})


# -- parsing --------------------------------------------------------------------------------
def _numbers(text: str, count: int, param: str, shape: str) -> list[float]:
    parts = text.split(",")
    if len(parts) != count:
        raise _invalid(param, f"{param} must be {shape}: {count} numbers separated by commas.")
    try:
        values = [float(p.strip()) for p in parts]
    except ValueError:
        raise _invalid(
            param, f"{param} must be {shape}: {count} numbers separated by commas."
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise _invalid(param, f"{param} must be finite numbers.")
    return values


def parse_near(text: str, radius: int | None) -> Near:
    lat, lon = _numbers(text, 2, "near", "lat,lon (WGS84 degrees)")
    if not in_londonish(lon, lat):
        raise _invalid(
            "near",
            f"near must be lat,lon in or around London (latitude {LONDONISH[1]}–{LONDONISH[3]}, "
            f"longitude {LONDONISH[0]}–{LONDONISH[2]}); got latitude {lat}, longitude {lon}.",
        )
    easting, northing = crs.to_bng(lon, lat)
    return Near(float(easting), float(northing), float(radius or DEFAULT_RADIUS_M))


def parse_bbox(text: str) -> Box:
    """A map's box, clipped to the area around London (``LONDONISH``): a viewport wider
    than London, or reaching past it, finds London's services in it. A box that misses
    London altogether is refused, saying that longitude comes first (a box given latitude
    first is the usual reason)."""
    min_lon, min_lat, max_lon, max_lat = _numbers(text, 4, "bbox", "minlon,minlat,maxlon,maxlat")
    if min_lon > max_lon or min_lat > max_lat:
        raise _invalid("bbox", "bbox must be minlon,minlat,maxlon,maxlat with min <= max.")
    if not (min_lon >= -180 and max_lon <= 180 and min_lat >= -90 and max_lat <= 90):
        raise _invalid("bbox", "bbox longitudes must be -180 to 180, latitudes -90 to 90.")
    l0, la0, l1, la1 = LONDONISH
    clipped = (max(min_lon, l0), max(min_lat, la0), min(max_lon, l1), min(max_lat, la1))
    if clipped[0] > clipped[2] or clipped[1] > clipped[3]:
        raise _invalid(
            "bbox",
            "bbox must be minlon,minlat,maxlon,maxlat (longitude first) and reach London "
            f"(longitude {LONDONISH[0]}–{LONDONISH[2]}, latitude {LONDONISH[1]}–{LONDONISH[3]}).",
        )
    return make_box(*clipped)


def make_box(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> Box:
    """A checked WGS84 box with its padded British National Grid envelope."""
    # the BNG envelope of the box, from points along its edges (BNG is slightly rotated and
    # curved against lon/lat), padded by 50 m: a superset for the grid-cell prefilter
    steps = [i / 8 for i in range(9)]
    lons = [min_lon + (max_lon - min_lon) * s for s in steps]
    lats = [min_lat + (max_lat - min_lat) * s for s in steps]
    edge = [(x, min_lat) for x in lons] + [(x, max_lat) for x in lons]
    edge += [(min_lon, y) for y in lats] + [(max_lon, y) for y in lats]
    xs, ys = zip(*(crs.to_bng(x, y) for x, y in edge), strict=True)
    envelope_ = (min(xs) - 50.0, min(ys) - 50.0, max(xs) + 50.0, max(ys) + 50.0)
    return Box(min_lon, min_lat, max_lon, max_lat, tuple(float(v) for v in envelope_))  # type: ignore[arg-type]


def parse_updated_since(text: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC. Stored times are naive UTC."""
    try:
        moment = datetime.fromisoformat(moment_text(text))
    except ValueError:
        raise _invalid(
            "updated_since",
            "updated_since must be an ISO 8601 date or date-time, e.g. 2026-01-31 or "
            f"2026-01-31T09:00:00Z; got {text[:60]!r}.",
        ) from None
    return utc_naive(moment, "updated_since")


#: the instants a query can name: Python's datetime range, read in UTC
_FIRST, _LAST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)


def utc_naive(moment: datetime, param: str) -> datetime:
    """A query's date-time as the naive UTC time the database stores, or a 422 when the
    instant falls outside years 1 to 9999 in UTC (0001-01-01T00:00:00+01:00 is in year 0)."""
    if moment.tzinfo is None:
        return moment
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise _invalid(
            param,
            f"{param} must fall between {_FIRST.isoformat()} and {_LAST.isoformat()} "
            "once read in UTC.",
        ) from None


def _ancestors(snap: GeographySnapshot, code: str) -> list[str]:
    out, parent = [], snap.areas[code].parent_code
    while parent is not None and parent in snap.areas and parent not in out:
        out.append(parent)
        parent = snap.areas[parent].parent_code
    return out


def _descendants(snap: GeographySnapshot, code: str) -> list[str]:
    out: list[str] = []
    stack = list(snap.children.get(code, ()))
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(snap.children.get(child, ()))
    return out


def area_match(snap: GeographySnapshot, code: str) -> AreaMatch:
    """Coverage codes (the area, every area above it and every area inside it) and the wards
    or boroughs a delivery site must be in."""
    below = _descendants(snap, code)
    kind = snap.areas[code].type
    boroughs = {c for c in below if snap.areas[c].type == "borough"}
    if kind == "borough":
        boroughs.add(code)
    return AreaMatch(
        coverage_codes=frozenset([code, *_ancestors(snap, code), *below]),
        site_wards=frozenset([code] if kind == "ward" else []),
        site_boroughs=frozenset(boroughs),
    )


def _sort(req: SearchRequest) -> str:
    if req.sort is None:
        return "relevance" if req.q is not None else "distance" if req.near is not None else "name"
    if req.sort not in SORTS:
        raise _invalid("sort", f"sort must be one of {', '.join(SORTS)}.")
    if req.sort == "relevance" and req.q is None:
        raise _invalid("sort", "sort=relevance needs a text query q.")
    if req.sort == "distance" and req.near is None:
        raise _invalid("sort", "sort=distance needs near=lat,lon.")
    return req.sort


def filters(
    req: SearchRequest, catalogue: CatalogueQueries, snap: GeographySnapshot, today: date
) -> tuple[Filters, str | None]:
    """The request's filters as plain values (and the resolved area code), or a 4xx error."""
    text = searched_for(req.q, "q")
    if req.radius is not None and req.near is None:
        raise _invalid("radius", "radius needs near=lat,lon.")
    check_themes(req.themes)
    if req.programme is not None and not programme_known(catalogue, req.programme):
        raise unknown_programme(catalogue, req.programme)
    org_id = None
    if req.organisation is not None:
        org_id = catalogue.organisation_id(req.organisation)
        if org_id is None:
            raise unknown_organisation(catalogue, req.organisation)
    area_code = resolve_area(snap, req.area) if req.area is not None else None
    ends = None
    if req.funding_ends_within is not None:
        ends = (today, today + timedelta(days=req.funding_ends_within))
    return (
        Filters(
            text=text,
            themes=tuple(req.themes),
            status=req.status,
            organisation_id=org_id,
            include_withdrawn=req.include_withdrawn,
            programme=req.programme,
            live_on=req.live_on,
            ends_between=ends,
            updated_since=(
                parse_updated_since(req.updated_since) if req.updated_since is not None else None
            ),
            area=area_match(snap, area_code) if area_code is not None else None,
            near=parse_near(req.near, req.radius) if req.near is not None else None,
            box=parse_bbox(req.bbox) if req.bbox is not None else None,
        ),
        area_code,
    )


# -- the use case -----------------------------------------------------------------------------
def search_services(
    repo: SearchQueries, catalogue: CatalogueQueries, snap: GeographySnapshot,
    settings: Settings, today: date, req: SearchRequest, *, representation: str = "json",
    boxes: boxes_.BoxIndexCache | None = None,
) -> SearchResult:  # fmt: skip
    """One page of the services matching ``req``, sorted; ``representation`` (json, geojson,
    csv) says which extras to read: sites and the feature count for GeoJSON, sites and live
    programmes for CSV (GeoJSON with a ``bbox``: only the sites inside it, and the
    feature count theirs). With ``boxes``, a page with a big ``bbox`` is chosen in memory
    (:mod:`directory.usecases.boxes`: the same answer, without counting and sorting every
    match in SQL)."""
    sort = _sort(req)
    f, area_code = filters(req, catalogue, snap, today)
    offset, geojson = (req.page - 1) * req.per_page, representation == "geojson"
    chosen = None
    if boxes is not None and f.box is not None:  # in memory when the arrays can tell
        chosen = boxes_.service_page(
            boxes, repo, f, sort=sort, offset=offset, limit=req.per_page,
            count_features=geojson, version=snap.version.id,
        )  # fmt: skip
    if chosen is not None:
        page_ids, total, features = chosen
        rows = repo.services_by_ids(page_ids)
    else:
        rows, total, features = repo.search(
            f, sort=sort, today=today, offset=offset, limit=req.per_page,
            count_features=geojson,
        )  # fmt: skip
    ids = [r.id for r in rows]
    themes, coverage = catalogue.themes_of(ids), catalogue.coverage_of(ids)
    contents = []
    for r in rows:
        summary = service_summary(r, themes[r.id], coverage[r.id], snap, today, settings)
        if f.near is not None:
            summary["distance_m"] = round(math.sqrt(r.d2), 1)
        if f.text is not None:
            summary["rank"] = round(float(r.rank), 4)
        contents.append(summary)
    result = SearchResult(
        contents=contents, total=total, page=req.page, per_page=req.per_page, sort=sort,
        area=area_code, near=f.near, features=features, coverage=coverage,
    )  # fmt: skip
    if representation in ("geojson", "csv"):
        # a map's Features are the sites in its box; a CSV row is the service's record
        result.sites = repo.sites_of(ids, inside=f.box if geojson else None)
        result.sites_inside = geojson and f.box is not None
    if representation == "csv":
        result.programmes = repo.live_programmes(ids, today)
    return result
