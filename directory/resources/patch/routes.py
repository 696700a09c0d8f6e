"""What is in my patch: by postcode, point or area; and a caseload of postcodes at once."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory import http, patch
from directory.api import Blueprint, ProblemSchema
from directory.resources.patch.schemas import (
    PatchArgsSchema,
    PatchLookupResultSchema,
    PatchLookupSchema,
    PatchSchema,
)
from directory.web import directory_index, geography_repo, snapshot, state, today

blp = Blueprint("patch", __name__, url_prefix="/api/v1", description="What is in my patch")
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


def _filters(args: dict[str, Any]) -> patch.PatchFilters:
    return patch.PatchFilters(
        themes=tuple(args.get("theme", [])),
        programme=args.get("programme"),
        status=None if args["status"] == "any" else args["status"],
        live_on=args.get("live_on"),
        q=args.get("q"),
        radius=args["radius"],
    )


@blp.route("/patch")
@blp.arguments(PatchArgsSchema, location="query")
@blp.response(200, PatchSchema)
@blp.alt_response(422, description="invalid-input / invalid-postcode", **PROBLEM)
@blp.alt_response(
    404, description="outside-coverage, postcode-not-found, area-not-found …", **PROBLEM
)
def get_patch(args: dict[str, Any]) -> Response:
    """Every service that serves a place, each with why it is here (a site nearby with its
    distance, serves this ward / borough / BCU / all of London), its organisation, themes,
    live grants and contact; the patch's funding by programme and its patch contacts.

    Give exactly one of `postcode`, `lat`+`lon`, `easting`+`northing` or `area`. Services are
    sorted by their strongest relation, then distance, then name."""
    snap = snapshot()
    place = patch.resolve_place(
        snap, geography_repo(), state().settings, postcode=args.get("postcode"),
        lat=args.get("lat"), lon=args.get("lon"), easting=args.get("easting"),
        northing=args.get("northing"), area=args.get("area"),
    )  # fmt: skip
    body = patch.patch(
        directory_index(snap), snap, place, _filters(args), today(),
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return http.json_response(body)


@blp.route("/patch/lookup", methods=["POST"])
@blp.arguments(PatchLookupSchema)
@blp.response(200, PatchLookupResultSchema)
@blp.alt_response(413, description="More than 1,000 postcodes", **PROBLEM)
def lookup_patches(body: dict[str, Any]) -> Response:
    """Up to 1,000 postcodes: each one's patch and its matching services (ids and counts, or
    full with `detail=full`), or its problem, in the order sent."""
    snap = snapshot()
    answer = patch.patch_lookup(
        directory_index(snap), snap, geography_repo(), state().settings, body["postcodes"],
        _filters(body), detail=body["detail"],
    )  # fmt: skip
    return http.json_response(answer)
