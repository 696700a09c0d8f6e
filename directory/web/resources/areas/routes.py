"""Areas: region, the Metropolitan Police District, Met BCUs, boroughs and wards, with their
boundaries."""

from __future__ import annotations

from typing import Any

from flask import Response, request, url_for

from directory.errors import InvalidInputError
from directory.usecases import geography
from directory.usecases.funding import comparison
from directory.usecases.pagination import envelope, page_of
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.areas.schemas import (
    AreaDetailSchema,
    AreaListArgsSchema,
    AreaPageSchema,
    BoundaryCollectionSchema,
    ComparisonArgsSchema,
    ComparisonSchema,
    FeatureSchema,
    SimplifyArgsSchema,
)
from directory.web.state import facts, paged_response, snapshot, state, today, wants_geojson

blp = Blueprint("areas", __name__, url_prefix="/api/v1", description="Areas and boundaries")


@blp.route("/areas")
@blp.arguments(AreaListArgsSchema, location="query")
@blp.response(200, AreaPageSchema)
@blp.alt_response(
    200,
    schema=BoundaryCollectionSchema,
    content_type=http.GEOJSON_MIMETYPE,
    description="With format=geojson or Accept: application/geo+json: a FeatureCollection",
    success=True,
)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found: an unknown parent, with suggestions; area-ambiguous: a "
    "parent name several areas share, with each of them",
)
def list_areas(args: dict[str, Any]) -> Response:
    """Areas by `type`, `parent` and tolerant name `q`; `format=geojson` for a whole layer."""
    snap = snapshot()
    codes = geography.list_areas(
        snap, type=args.get("type"), parent=args.get("parent"), q=args.get("q")
    )
    if wants_geojson(args.get("format")):
        if args.get("type") is None and args.get("parent") is None and args.get("q") is None:
            raise InvalidInputError(
                "A GeoJSON layer needs a filter: give type (region, police_area, bcu, borough, "
                "ward), parent or q.",
                errors={"type": ["required with format=geojson"]},
            )
        simplify = geography.check_simplify(args.get("simplify"))
        return http.json_response(
            geography.boundary_collection(snap, codes, simplify), mimetype=http.GEOJSON_MIMETYPE
        )
    page, per_page = args["page"], args["per_page"]
    chosen, total = page_of(codes, page, per_page)
    body = envelope(
        [geography.area_summary(snap, c) for c in chosen],
        total_items=total,
        page=page,
        per_page=per_page,
    )
    return paged_response(body, page, per_page)


#: the header of an area asked for by name or in another case (:func:`_located`)
LOCATED = {"Content-Location": "ContentLocation"}


@blp.route("/areas/<string:code>")
@blp.response(200, AreaDetailSchema, headers=LOCATED)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found, with suggestions; area-ambiguous: a name several areas share, "
    "with each of them",
)
def get_area(code: str) -> Response:
    """An area with its parent, children and same-type neighbours (across the Thames too);
    by code (any case) or name."""
    body = geography.area_detail(snapshot(), code)
    return _located(http.json_response(body), code, body["code"])


@blp.route("/areas/<string:code>/boundary")
@blp.arguments(SimplifyArgsSchema, location="query")
@blp.response(200, FeatureSchema, content_type=http.GEOJSON_MIMETYPE, headers=LOCATED)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found, area-ambiguous",
)
def get_boundary(args: dict[str, Any], code: str) -> Response:
    """The area's boundary as a GeoJSON Feature (WGS84); `simplify` in metres."""
    snap = snapshot()
    asked, code = code, geography.resolve_area(snap, code)
    feature = geography.boundary_feature(snap, code, geography.check_simplify(args.get("simplify")))
    return _located(http.json_response(feature, mimetype=http.GEOJSON_MIMETYPE), asked, code)


def _located(response: Response, asked: str, code: str) -> Response:
    """An area asked for by name ("Kingston") or a code in another case is answered where it
    was asked, as the comparison and the OGC ``parent`` take names (a redirect would cost a
    map client a second round trip); ``Content-Location`` names the URL by its code, the one
    to link and to cache."""
    if asked != code:
        path = url_for(request.endpoint or "", **{**(request.view_args or {}), "code": code})
        query = request.query_string.decode("latin-1")
        response.headers["Content-Location"] = f"{path}?{query}" if query else path
    return response


@blp.route("/areas/<string:code>/comparison")
@blp.arguments(ComparisonArgsSchema, location="query")
@blp.response(200, ComparisonSchema, headers=LOCATED)
@blp.alt_response(
    404,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="area-not-found, area-ambiguous, programme-not-found",
)
@blp.alt_response(
    422,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="invalid-input: not a borough (a ward, BCU or London), or a bad filter",
)
def get_comparison(args: dict[str, Any], code: str) -> Response:
    """A borough beside the mean of its similar boroughs (ONS ITL2 2021 region, listed) and
    the London average: money per 1,000 residents and per 1,000 offences (as /funding/need),
    median award length, share of awards of 36 months or more, share of dated awards decided
    late, with its rank among the 33; every measure states its rule and data period."""
    snap = snapshot()
    asked, code = code, geography.resolve_area(snap, code)
    body = comparison.borough_comparison(
        facts(), snap, state().settings, today(), code,
        programme=args.get("programme"), financial_year_text=args.get("financial_year"),
        include_regrants=args["include_regrants"],
        include_other_programmes=args["include_other_programmes"],
    )  # fmt: skip
    return _located(http.json_response(body), asked, code)
