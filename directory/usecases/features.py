"""OGC API – Features (Part 1: Core, GeoJSON) over the directory: the landing page,
conformance, the collections and their items. Pure: it reads through the repositories and
the geography snapshot it is handed and returns plain dicts; links are built from the
``base`` URL the web layer gives (``…/api/v1/ogc``).

The collections:

* ``sites``: the delivery sites of the funded services (points), one feature per site with a
  position, with its service's properties; ``bbox`` tests the site itself.
* ``services``: the services by coverage: one feature per service whose geometry is the
  union of the areas it serves (null when it has none); ``bbox`` keeps the services whose
  coverage meets the box.
* ``boroughs``, ``wards``, ``bcus``: the area boundaries (``parent`` filters by an area
  above, at any depth, as ``/areas?parent=`` does: a borough's wards, a BCU's boroughs or
  wards, London's).

Parameters follow the standard: ``bbox`` (CRS84, four numbers), ``limit`` (1..10,000;
larger is taken as the maximum, as Part 1 says), ``offset`` (the ``next`` links use it),
``datetime`` (an instant or interval: on ``sites`` and ``services`` a grant of the service
is live at some time in it; the areas have no time, and it selects every one), and
property filters ``theme``, ``programme`` and
``organisation``, each taking one value (one sent twice is refused where the query is read).
Invalid values are 400 problems (``/req/core/query-param-invalid``), and so
is a filter's id that names nothing (a theme, programme, organisation or parent area, with
the suggestions the rest of the API gives): a misspelt filter is never an empty page. A box
outside London selects nothing; it is not an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import shapely

from directory.errors import (
    CollectionNotFoundError,
    DirectoryError,
    FeatureNotFoundError,
    InvalidInputError,
    InvalidParameterError,
    NotFoundError,
)
from directory.store.repositories.directory import CatalogueQueries, as_id
from directory.store.repositories.search import AreaMatch, Box, Filters, SearchQueries
from directory.usecases import boxes as boxes_
from directory.usecases import geography
from directory.usecases.boxes import FEATURE_BYTES
from directory.usecases.catalogue import programme_known, unknown_organisation, unknown_programme
from directory.usecases.geography import LONDON, GeographySnapshot
from directory.usecases.opportunities import LONDON_TZ
from directory.usecases.pagination import moment_text
from directory.usecases.search import make_box
from directory.usecases.shared import Kept
from directory.usecases.vocabulary import check_themes
from geodata import crs
from geodata.postcodes import spaced_form

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
)
DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
#: the tolerance (metres) a service's coverage is simplified with unless ``simplify`` says
COVERAGE_SIMPLIFY_M = 20.0


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    area_type: str | None = None  # the area collections
    filters: tuple[str, ...] = ()


_SERVICE_FILTERS = ("theme", "programme", "organisation")
COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "sites", "Service delivery sites",
            "Where London's funded community-safety services are delivered: one point per "
            "site, with its service's name, organisation, themes and status.",
            filters=_SERVICE_FILTERS,
        ),
        Collection(
            "services", "Funded services by coverage",
            "Each funded service with the union of the areas it serves (London, BCUs, "
            "boroughs or wards) as its geometry, simplified by 20 m unless `simplify` says.",
            filters=_SERVICE_FILTERS,
        ),
        Collection(
            "boroughs", "London boroughs",
            "The 32 London boroughs and the City of London (ONS boundaries).",
            area_type="borough", filters=("parent",),
        ),
        Collection(
            "wards", "London wards",
            "London's electoral wards (ONS boundaries), with their borough as parent.",
            area_type="ward", filters=("parent",),
        ),
        Collection(
            "bcus", "Met Police Basic Command Units",
            "The Metropolitan Police's 12 Basic Command Units, each the union of its "
            "boroughs.",
            area_type="bcu", filters=("parent",),
        ),
    )
}  # fmt: skip


@dataclass(frozen=True)
class ItemsRequest:
    """The query of ``/collections/{id}/items``, as sent (text), checked here."""

    bbox: str | None = None
    limit: int | None = None
    offset: int = 0
    datetime: str | None = None
    theme: str | None = None
    programme: str | None = None
    organisation: str | None = None
    parent: str | None = None
    simplify: float | None = None

    def sent(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and k != "offset"}


# -- links -----------------------------------------------------------------------------------
def _link(href: str, rel: str, type_: str, title: str) -> dict[str, str]:
    return {"href": href, "rel": rel, "type": type_, "title": title}


def landing(base: str, api_root: str) -> dict[str, Any]:
    return {
        "title": "London Funded Services Directory: OGC API – Features",
        "description": "London's funded community-safety services, their delivery sites and "
        "the boroughs, wards and Met Police BCUs they serve, as OGC API – Features "
        "collections (GeoJSON, WGS84). Contains OS data © Crown copyright and database "
        "right; ONS and Met Police data under the Open Government Licence v3.0.",
        "links": [
            _link(base, "self", JSON, "This document"),
            _link(f"{base}?f=html", "alternate", HTML, "This document as HTML"),
            _link(f"{api_root}/openapi.json", "service-desc", OPENAPI, "The API definition"),
            _link(f"{api_root}/docs", "service-doc", HTML, "The API documentation"),
            _link(f"{base}/conformance", "conformance", JSON, "Conformance classes"),
            _link(f"{base}/collections", "data", JSON, "The collections"),
        ],
    }


def conformance() -> dict[str, Any]:
    return {"conformsTo": list(CONFORMANCE)}


def _london_bbox(snap: GeographySnapshot) -> list[float]:
    """London's WGS84 bounds (the collections' extent, and what a bbox is clipped to): its
    transformed geometry's, not its BNG box's corners transformed."""
    return list(snap.areas[LONDON].wgs84_bbox)


def collection(snap: GeographySnapshot, base: str, collection_id: str) -> dict[str, Any]:
    c = _collection(collection_id)
    url = f"{base}/collections/{c.id}"
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [_london_bbox(snap)], "crs": CRS84}},
        "links": [
            _link(url, "self", JSON, "This collection"),
            _link(f"{url}?f=html", "alternate", HTML, "This collection as HTML"),
            _link(f"{url}/items", "items", GEOJSON, f"{c.title} (GeoJSON)"),
            _link(f"{base}/collections", "collection", JSON, "All collections"),
        ],
    }


def collections(snap: GeographySnapshot, base: str) -> dict[str, Any]:
    return {
        "links": [
            _link(f"{base}/collections", "self", JSON, "The collections"),
            _link(f"{base}/collections?f=html", "alternate", HTML, "The collections as HTML"),
        ],
        "collections": [collection(snap, base, c) for c in COLLECTIONS],
    }


def _collection(collection_id: str) -> Collection:
    c = COLLECTIONS.get(collection_id)
    if c is None:
        raise CollectionNotFoundError(
            f"No collection is called {collection_id!r}. The collections are "
            f"{', '.join(COLLECTIONS)}.",
        )
    return c


# -- parameters ------------------------------------------------------------------------------
def _invalid(name: str, message: str) -> InvalidParameterError:
    return InvalidParameterError(message, errors={name: [message]})


def parse_bbox(text: str, snap: GeographySnapshot) -> Box | None:
    """The box as the search's :class:`Box`, clipped to London (None: it misses London)."""
    parts = text.split(",")
    if len(parts) == 6:
        raise _invalid("bbox", "bbox with heights (six numbers) is not supported: give four.")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _invalid("bbox", "bbox must be four numbers: minlon,minlat,maxlon,maxlat (CRS84).")
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180):
        raise _invalid("bbox", "bbox longitudes must be between -180 and 180.")
    if not (-90 <= min_lat <= max_lat <= 90):
        raise _invalid("bbox", "bbox latitudes must be between -90 and 90, the lower first.")
    if min_lon > max_lon:
        raise _invalid("bbox", "bbox across the antimeridian is not supported here (London).")
    l0, la0, l1, la1 = _london_bbox(snap)
    clipped = (max(min_lon, l0), max(min_lat, la0), min(max_lon, l1), min(max_lat, la1))
    if clipped[0] > clipped[2] or clipped[1] > clipped[3]:
        return None
    return make_box(*clipped)


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _day(text: str, name: str = "datetime") -> date:
    return _when(text, name)[0]


def _when(text: str, name: str = "datetime") -> tuple[date, datetime | None]:
    """The London day of a date or date-time, and the instant a date-time names (None for a
    date: the whole day)."""
    try:
        if _DATE.match(text):
            return date.fromisoformat(text), None
        moment = datetime.fromisoformat(moment_text(text).replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(
            name,
            f"datetime must be an RFC 3339 date or date-time, or an interval of two "
            f"(either end '..'); got {text[:60]!r}.",
        ) from None
    if moment.tzinfo is None:
        raise _invalid(name, "A datetime must carry its offset (Z or ±hh:mm), as RFC 3339 says.")
    try:  # grants' days are London's: the instant's day in London
        return moment.astimezone(LONDON_TZ).date(), moment
    except OverflowError:  # (0001-01-01T00:00Z, 9999-12-31T23:59-01:00: no day in London)
        raise _invalid(
            name,
            f"{name} {text[:60]!r} falls outside the years 1 to 9999 once read in London's time.",
        ) from None


def parse_datetime(text: str) -> tuple[date | None, date | None]:
    """An instant or ``start/end`` interval (``..`` or empty for an open end) as days. An
    interval whose start is after its end is invalid: compared as instants when both ends
    are date-times (09:00 to 10:00 on one day the wrong way round is not that day), else by
    day (a date is the whole day)."""
    if "/" not in text:
        day = _day(text)
        return day, day
    first_text, _, last_text = text.partition("/")
    if "/" in last_text:
        raise _invalid("datetime", "An interval has one '/': start/end.")
    first = None if first_text in ("", "..") else _when(first_text)
    last = None if last_text in ("", "..") else _when(last_text)
    if first is None and last is None:
        raise _invalid("datetime", "An interval needs at least one end (not '../..').")
    if first is not None and last is not None:
        (first_day, first_moment), (last_day, last_moment) = first, last
        if first_moment is not None and last_moment is not None:
            backwards = first_moment > last_moment
        else:
            backwards = first_day > last_day
        if backwards:
            raise _invalid("datetime", "The interval's start is after its end.")
    return (None if first is None else first[0]), (None if last is None else last[0])


def _limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise _invalid("limit", "limit must be at least 1.")
    return min(limit, MAX_LIMIT)


def _offset(offset: int) -> int:
    if offset < 0:
        raise _invalid("offset", "offset must be 0 or more.")
    return offset


def _check_filters(c: Collection, req: ItemsRequest) -> None:
    """The property filters sent are the collection's, and ``datetime`` is well formed.
    Every collection takes ``datetime``, as Part 1 says the items operation shall
    (/req/core/fc-time-definition); the areas have no time, so there it is checked and
    selects every area."""
    sent = [name for name in ("theme", "programme", "organisation", "parent")
            if getattr(req, name) is not None]  # fmt: skip
    wrong = [name for name in sent if name not in c.filters]
    if wrong:
        raise _invalid(
            wrong[0],
            f"The {c.id} collection does not take {', '.join(wrong)}; it takes "
            f"{', '.join(c.filters) or 'no property filters'} (with bbox, datetime, limit, "
            "offset).",
        )
    if req.datetime is not None:
        parse_datetime(req.datetime)
    if req.simplify is not None and c.id == "sites":
        raise _invalid("simplify", "simplify applies to the area and services collections.")


def _unknown(name: str, error: DirectoryError) -> InvalidParameterError:
    """An id that names nothing, as the 400 Part 1 wants for an invalid value: the detail and
    suggestions the rest of the API gives in its 404 or 422 (a misspelt filter is never an
    empty answer)."""
    found = {k: v for k, v in error.extensions.items() if k == "suggestions"}
    return InvalidParameterError(error.detail, errors={name: [error.detail]}, **found)


def _check_values(
    snap: GeographySnapshot, catalogue: CatalogueQueries, c: Collection, req: ItemsRequest
) -> ItemsRequest:
    """Every filter's value names something (else a 400 with suggestions); the request with
    ``parent`` as its stored code (codes are case-insensitive)."""
    if req.theme is not None:
        try:
            check_themes([req.theme])
        except InvalidInputError as error:
            raise _unknown("theme", error) from None
    if req.programme is not None and not programme_known(catalogue, req.programme):
        raise _unknown("programme", unknown_programme(catalogue, req.programme))
    # organisation: looked up once, where the services' filters are made (_service_filters)
    if req.parent is None:
        return req
    try:
        code = geography.resolve_area(snap, req.parent)
    except NotFoundError as error:
        raise _unknown("parent", error) from None
    try:
        geography.check_parent_type(snap, code, c.area_type or "")
    except InvalidInputError as error:
        raise _invalid("parent", error.detail) from None
    return replace(req, parent=code)


def _simplify(value: float | None, default: float) -> float:
    if value is None:
        return default
    if not (0 <= value <= geography.MAX_SIMPLIFY_M):
        raise _invalid("simplify", f"simplify is metres, 0 to {geography.MAX_SIMPLIFY_M:g}.")
    return geography.check_simplify(value)


# -- items -----------------------------------------------------------------------------------
def _page_links(
    url: str, req: ItemsRequest, offset: int, limit: int, total: int
) -> list[dict[str, str]]:
    def href(at: int) -> str:
        return f"{url}?{urlencode({**req.sent(), 'limit': limit, 'offset': at})}"

    links = [
        _link(href(offset), "self", GEOJSON, "This page"),
        _link(url.rsplit("/items", 1)[0], "collection", JSON, "The collection"),
    ]
    if offset > 0:
        links.append(_link(href(max(offset - limit, 0)), "prev", GEOJSON, "Previous page"))
    if offset + limit < total:
        links.append(_link(href(offset + limit), "next", GEOJSON, "Next page"))
    return links


def _collection_of(
    features: Sequence[Any], total: int, links: list[dict[str, str]]
) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "numberMatched": total,
        "numberReturned": len(features),
        "links": links,
        "features": list(features),
    }


def items(
    snap: GeographySnapshot, search: SearchQueries, catalogue: CatalogueQueries,
    base: str, collection_id: str, req: ItemsRequest, today: date,
    boxes: boxes_.BoxIndexCache | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A page of a collection's features as a GeoJSON FeatureCollection. With ``boxes``, the
    pages of ``sites`` and ``services`` are chosen in memory when the filters allow
    (:mod:`directory.usecases.boxes`: the same answer, without counting and sorting every
    match in SQL)."""
    c = _collection(collection_id)
    _check_filters(c, req)
    req = _check_values(snap, catalogue, c, req)
    limit, offset = _limit(req.limit), _offset(req.offset)
    url = f"{base}/collections/{c.id}/items"
    if c.area_type is not None:
        simplify = _simplify(req.simplify, 0.0)
        codes = _areas(snap, c, req)
        chosen = codes[offset : offset + limit]
        features = [geography.boundary_feature(snap, code, simplify) for code in chosen]
        return _collection_of(
            features, len(codes), _page_links(url, req, offset, limit, len(codes))
        )
    f = _service_filters(snap, catalogue, req)
    if f is None:  # a box outside London
        return _collection_of([], 0, _page_links(url, req, offset, limit, 0))
    if c.id == "sites":
        chosen = None
        if boxes is not None:
            chosen = boxes_.site_page(
                boxes, search, f, offset=offset, limit=limit, version=snap.version.id
            )
        if chosen is not None:
            ids, total, kept = chosen
            features = _kept_site_features(kept, ids, search, catalogue, base)
        else:
            rows, total = search.site_features(f, offset=offset, limit=limit)
            features = _site_features(rows, catalogue, base)
    else:
        simplify = _simplify(req.simplify, COVERAGE_SIMPLIFY_M)
        f = _by_coverage(snap, f)
        found = None
        if boxes is not None:
            found = boxes_.service_page(
                boxes, search, f, sort="name", offset=offset, limit=limit,
                version=snap.version.id,
            )  # fmt: skip
        if found is not None:
            rows, total = search.services_by_ids(found[0]), found[1]
        else:
            rows, total, _ = search.search(f, sort="name", today=today, offset=offset, limit=limit)
        features = _service_features(rows, catalogue, snap, simplify, base)
    return _collection_of(features, total, _page_links(url, req, offset, limit, total))


def item(
    snap: GeographySnapshot, search: SearchQueries, catalogue: CatalogueQueries,
    base: str, collection_id: str, feature_id: str, today: date,
    simplify: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    """One feature of a collection, with links to itself and its collection."""
    c = _collection(collection_id)
    if simplify is not None and c.id == "sites":
        raise _invalid("simplify", "simplify applies to the area and services collections.")
    url = f"{base}/collections/{c.id}"
    feature: Any = None
    if c.area_type is not None:
        area = snap.areas.get(feature_id)
        if area is not None and area.type == c.area_type:
            feature = dict(geography.boundary_feature(snap, feature_id, _simplify(simplify, 0.0)))
    elif (number := as_id(feature_id)) is not None:
        if c.id == "sites":
            rows, _ = search.site_features(Filters(), offset=0, limit=1, site_id=number)
            found = _site_features(rows, catalogue, base)
        else:
            rows, _, _ = search.search(
                Filters(service_id=number), sort="name", today=today,
                offset=0, limit=1,
            )  # fmt: skip
            found = _service_features(
                rows, catalogue, snap, _simplify(simplify, COVERAGE_SIMPLIFY_M), base
            )
        feature = found[0] if found else None
    if feature is None:
        raise FeatureNotFoundError(
            f"The {c.id} collection has no feature {feature_id[:100]!r}.",
        )
    feature["links"] = [
        _link(f"{url}/items/{feature_id}", "self", GEOJSON, "This feature"),
        _link(url, "collection", JSON, "The collection"),
    ]
    return feature


# -- areas -----------------------------------------------------------------------------------
def _areas(snap: GeographySnapshot, c: Collection, req: ItemsRequest) -> list[str]:
    codes = sorted(
        (code for code, a in snap.areas.items() if a.type == c.area_type),
        key=lambda code: (snap.areas[code].name, code),
    )
    if req.parent is not None:
        codes = [code for code in codes if geography.is_within(snap, code, req.parent)]
    if req.bbox is not None:
        box = parse_bbox(req.bbox, snap)
        if box is None:
            return []
        meeting = set(_areas_meeting(snap, box, codes))
        codes = [code for code in codes if code in meeting]
    return codes


def _box_polygon(box: Box) -> Any:
    """The WGS84 box as a British National Grid polygon (its edges followed, 8 steps a side)."""
    steps = [i / 8 for i in range(9)]
    lons = [box.min_lon + (box.max_lon - box.min_lon) * s for s in steps]
    lats = [box.min_lat + (box.max_lat - box.min_lat) * s for s in steps]
    ring = [(x, box.min_lat) for x in lons] + [(box.max_lon, y) for y in lats[1:]]
    ring += [(x, box.max_lat) for x in reversed(lons[:-1])]
    ring += [(box.min_lon, y) for y in reversed(lats[1:-1])]
    return shapely.Polygon([crs.to_bng(x, y) for x, y in ring])


def _areas_meeting(snap: GeographySnapshot, box: Box, codes: Sequence[str]) -> list[str]:
    """Of ``codes``, the areas whose geometry meets the box (bboxes first, then exactly)."""
    e0, n0, e1, n1 = box.bng_envelope
    near = [
        code for code in codes
        if not (snap.areas[code].bbox[0] > e1 or snap.areas[code].bbox[2] < e0
                or snap.areas[code].bbox[1] > n1 or snap.areas[code].bbox[3] < n0)
    ]  # fmt: skip
    if not near:
        return []
    polygon = _box_polygon(box)
    shapely.prepare(polygon)
    hits = shapely.intersects(polygon, [snap.geometries[code] for code in near])
    return [code for code, hit in zip(near, hits, strict=True) if hit]


# -- services and sites ----------------------------------------------------------------------
def _service_filters(
    snap: GeographySnapshot, catalogue: CatalogueQueries, req: ItemsRequest
) -> Filters | None:
    org_id = None
    if req.organisation is not None:
        org_id = catalogue.organisation_id(req.organisation)
        if org_id is None:
            raise _unknown("organisation", unknown_organisation(catalogue, req.organisation))
    box = None
    if req.bbox is not None:
        box = parse_bbox(req.bbox, snap)
        if box is None:
            return None
    during = parse_datetime(req.datetime) if req.datetime is not None else None
    f = Filters(
        themes=(req.theme,) if req.theme is not None else (),
        programme=req.programme,
        organisation_id=org_id,
        live_during=during,
    )
    return f if box is None else replace(f, box=box)


def _by_coverage(snap: GeographySnapshot, f: Filters) -> Filters:
    """The services collection tests the box against coverage, not sites: the services
    serving any area (London, BCU, borough, ward) that meets it."""
    if f.box is None:
        return f
    codes = _areas_meeting(snap, f.box, list(snap.areas))
    if len(codes) == len(snap.areas):
        # a box over all London (QGIS zoomed out): any service with coverage, without a
        # list of every area (an area code no longer in the boundaries counts: it was in
        # London too)
        return replace(f, box=None, has_coverage=True)
    return replace(f, box=None, area=AreaMatch(frozenset(codes)))


def _kept_site_features(
    kept: Kept, ids: Sequence[int], search: SearchQueries, catalogue: CatalogueQueries,
    base: str,
) -> list[dict[str, Any]]:  # fmt: skip
    """The features of these sites, in this order: those made before for this data version
    from ``kept``, the rest read by id, made and kept (a site gone since the arrays were
    built is left out, as :meth:`SearchQueries.site_features_by_ids` leaves it)."""
    found = {i: kept.get((base, i)) for i in ids}
    missing = [i for i, feature in found.items() if feature is None]
    if missing:
        for feature in _site_features(search.site_features_by_ids(missing), catalogue, base):
            found[feature["id"]] = kept.keep((base, feature["id"]), feature, FEATURE_BYTES)
    return [feature for feature in map(found.__getitem__, ids) if feature is not None]


def _site_features(
    rows: Sequence[Any], catalogue: CatalogueQueries, base: str
) -> list[dict[str, Any]]:
    themes = catalogue.themes_of(sorted({r.service_id for r in rows}))
    api = base.rsplit("/ogc", 1)[0]
    return [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 6), round(r.lat, 6)]},
            "properties": {
                "name": r.name,
                "address": r.address,
                "postcode": spaced_form(r.postcode),
                "ward_code": r.ward_code,
                "borough_code": r.borough_code,
                "service_id": r.service_id,
                "service_ref": r.service_ref,
                "service_name": r.service_name,
                "organisation": r.organisation_name,
                "themes": themes[r.service_id],
                "status": r.status,
                "updated_at": r.updated_at.isoformat() + "Z",
                "url": f"{api}/services/{r.service_id}",
            },
        }
        for r in rows
    ]


def _service_features(
    rows: Sequence[Any], catalogue: CatalogueQueries, snap: GeographySnapshot,
    simplify: float, base: str,
) -> list[dict[str, Any]]:  # fmt: skip
    ids = [r.id for r in rows]
    themes, coverage = catalogue.themes_of(ids), catalogue.coverage_of(ids)
    api = base.rsplit("/ogc", 1)[0]
    return [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": geography.coverage_geometry(snap, coverage[r.id], simplify),
            "properties": {
                "ref": r.ref,
                "name": r.name,
                "organisation": r.organisation_name,
                "organisation_ref": r.organisation_ref,
                "themes": themes[r.id],
                "status": r.status,
                "coverage": coverage[r.id],
                "last_verified": None if r.last_verified is None else r.last_verified.isoformat(),
                "updated_at": r.updated_at.isoformat() + "Z",
                "url": f"{api}/services/{r.id}",
            },
        }
        for r in rows
    ]
