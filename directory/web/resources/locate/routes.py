"""A point (WGS84 or British National Grid) → the areas covering it."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases import geography
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.locate.schemas import LocateArgsSchema, LocateSchema
from directory.web.state import geography_repo, snapshot, state

blp = Blueprint("locate", __name__, url_prefix="/api/v1", description="Point lookups")


@blp.route("/locate")
@blp.arguments(LocateArgsSchema, location="query")
@blp.response(200, LocateSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="outside-coverage"
)
@blp.alt_response(
    422,
    schema=ProblemSchema,
    content_type=http.PROBLEM_MIMETYPE,
    description="invalid-input: neither or both of the pairs (lat+lon, easting+northing), "
    "or half of one; invalid-coordinates: lat outside -90..90, lon outside -180..180, "
    "easting outside 0..700000 or northing outside 0..1300000",
)
def locate(args: dict[str, Any]) -> Response:
    """Ward, borough, BCU covering `?lat=&lon=` or `?easting=&northing=`, with the nearest
    postcode and flags (`near_boundary`, `generalised_boundary`, `on_river`).

    The place parameters are exclusive: exactly one pair, lat+lon (WGS84) or
    easting+northing (British National Grid), both of its members and nothing of the other
    (else 422 invalid-input). A point outside London is a 404 outside-coverage."""
    x, y, _ = geography.point_from_query(
        lat=args.get("lat"),
        lon=args.get("lon"),
        easting=args.get("easting"),
        northing=args.get("northing"),
    )
    return http.json_response(
        geography.locate(snapshot(), geography_repo(), state().settings, x, y)
    )
