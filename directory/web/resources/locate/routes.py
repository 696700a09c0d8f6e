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
    description="Missing or out-of-range coordinates",
)
def locate(args: dict[str, Any]) -> Response:
    """Ward, borough, BCU covering `?lat=&lon=` or `?easting=&northing=`, with the nearest
    postcode and flags (`near_boundary`, `generalised_boundary`, `on_river`)."""
    x, y, _ = geography.point_from_query(
        lat=args.get("lat"),
        lon=args.get("lon"),
        easting=args.get("easting"),
        northing=args.get("northing"),
    )
    return http.json_response(
        geography.locate(snapshot(), geography_repo(), state().settings, x, y)
    )
