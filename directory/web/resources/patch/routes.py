"""What is in my patch: by postcode, point or area; and a caseload of postcodes at once."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from directory.store.repositories.search import SearchQueries
from directory.usecases import patch
from directory.web import http, representations
from directory.web import state as web
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.patch.schemas import (
    PatchArgsSchema,
    PatchLookupResultSchema,
    PatchLookupSchema,
    PatchSchema,
    PatchWhyArgsSchema,
    PatchWhySchema,
)
from directory.web.resources.services.schemas import ServiceFeatureCollectionSchema
from directory.web.state import directory_reads

blp = Blueprint("patch", __name__, url_prefix="/api/v1", description="What is in my patch")
SERVICE_PATH = "/api/v1/services/"
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


def _filters(args: dict[str, Any]) -> patch.PatchFilters:
    return patch.PatchFilters(
        themes=tuple(args.get("theme", [])),
        programme=args.get("programme"),
        status=None if args["status"] == "any" else args["status"],
        live_on=args.get("live_on"),
        q=args.get("q"),
        radius=patch.DEFAULT_RADIUS_M if args["radius"] is None else args["radius"],
        include_other_programmes=args["include_other_programmes"],
    )


def _place(reads: Any, args: dict[str, Any]) -> Any:
    """The place a /patch or /patch/why query asks about (exactly one of its ways)."""
    return patch.resolve_place(
        reads.snap, reads.repo, reads.settings, postcode=args.get("postcode"),
        lat=args.get("lat"), lon=args.get("lon"), easting=args.get("easting"),
        northing=args.get("northing"), area=args.get("area"), radius=args["radius"],
    )  # fmt: skip


@blp.route("/patch")
@blp.arguments(PatchArgsSchema, location="query")
@blp.response(200, PatchSchema)
@blp.alt_response(
    200,
    schema=ServiceFeatureCollectionSchema,
    content_type=http.GEOJSON_MIMETYPE,
    success=True,
    description="With format=geojson or Accept: application/geo+json: the page's "
    "services as a FeatureCollection, one Feature per delivery site",
)
@blp.alt_response(
    200,
    schema={"type": "string"},
    content_type=http.CSV_MIMETYPE,
    success=True,
    description="With format=csv or Accept: text/csv: one row per service",
)
@blp.alt_response(
    422,
    description="invalid-input: not exactly one place (postcode, lat+lon, easting+northing "
    "or area), or an unknown theme; invalid-postcode; invalid-coordinates",
    **PROBLEM,
)
@blp.alt_response(
    404,
    description="outside-coverage, postcode-not-found, postcode-terminated, area-not-found, "
    "area-ambiguous, programme-not-found",
    **PROBLEM,
)
def get_patch(args: dict[str, Any]) -> Response:
    """Every service that serves a place, each with why it is here (a site nearby with its
    distance, serves this ward / borough / BCU / all of London), its organisation, themes,
    live grants and contact; the patch's funding by programme and its patch contacts.

    Give exactly one of `postcode`, `lat`+`lon`, `easting`+`northing` or `area`. Services are
    sorted by their strongest relation, then distance, then name."""
    reads = directory_reads()
    place = _place(reads, args)
    page, per_page = args["page"], args["per_page"]
    now = web.now()
    body = patch.patch(
        reads.index, reads.snap, place, _filters(args), reads.today, page=page,
        per_page=per_page, now=now,
    )  # fmt: skip
    if patch.opportunities_change_today(reads.index, place, now):
        web.etag_from_body()  # an opportunity opens or closes today: the answer may change
    kind = web.representation(args.get("format"), ("json", "geojson", "csv"))
    if kind == "json":  # its page of services says its place (no Link: 60 µs of a 280 µs patch)
        return http.json_response(body)
    envelope = body["services"]  # (not before: a JSON answer is written without reading it)
    services, sites, programmes = patch.for_representations(
        envelope["contents"], SearchQueries(web.connection()), args.get("live_on") or reads.today
    )
    total_pages = envelope["total_pages"]
    if kind == "geojson":
        links = [
            {"href": url, "rel": rel, "type": http.GEOJSON_MIMETYPE, "title": title}
            for rel, url, title in web.page_links(page, per_page, total_pages, "geojson")
        ]
        collection = representations.feature_collection(
            services, sites, number_matched=envelope["total_items"], links=links,
            url_prefix=SERVICE_PATH,
        )  # fmt: skip
        response = http.json_response(collection, mimetype=http.GEOJSON_MIMETYPE)
        response.headers["Link"] = web.link_header(page, per_page, total_pages, "geojson")
        return response
    text = representations.csv_text(
        services, sites, programmes, url_prefix=request.host_url.rstrip("/") + SERVICE_PATH
    )
    response = Response(text.encode("utf-8"), mimetype=http.CSV_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="patch.csv"'
    # as /services' CSV: a page of a patch says it is one, and how many there are in all
    response.headers["X-Total-Count"] = str(envelope["total_items"])
    response.headers["Link"] = web.link_header(page, per_page, total_pages, "csv")
    return response


@blp.route("/patch/why")
@blp.arguments(PatchWhyArgsSchema, location="query")
@blp.response(200, PatchWhySchema)
@blp.alt_response(
    422,
    description="invalid-input: no service, not exactly one place, or an unknown theme; "
    "invalid-postcode; invalid-coordinates",
    **PROBLEM,
)
@blp.alt_response(
    404,
    description="service-not-found, and what /patch gives: outside-coverage, "
    "postcode-not-found, postcode-terminated, area-not-found, area-ambiguous, "
    "programme-not-found",
    **PROBLEM,
)
def get_patch_why(args: dict[str, Any]) -> Response:
    """Whether /patch with this place and these filters lists a service (`service`: its id
    or ref), where (`position` from 1, and the `page` at `per_page`) and with which
    `relations`; and `reasons`, each of the patch's rules checked for it in plain English:
    its status, each filter given, its coverage against the patch's ward, borough, BCU and
    London, and its nearest delivery site against `radius` (or the area asked for)."""
    reads = directory_reads()
    place = _place(reads, args)
    body = patch.why(
        reads.index, reads.snap, web.catalogue(), place,
        _filters({**args, "include_other_programmes": False}), args["service"],
        per_page=args["per_page"],
    )  # fmt: skip
    return http.json_response(body)


@blp.route("/patch/lookup", methods=["POST"])
@blp.arguments(PatchLookupSchema)
@blp.response(200, PatchLookupResultSchema)
@blp.alt_response(
    413, description="More than 1,000 postcodes, or an answer over 8 MB (answer-too-large)",
    **PROBLEM,
)  # fmt: skip
@blp.alt_response(404, description="programme-not-found: an unknown programme id", **PROBLEM)
@blp.alt_response(422, description="invalid-input (an unknown theme, say)", **PROBLEM)
def lookup_patches(body: dict[str, Any]) -> Response:
    """Up to 1,000 postcodes: each one's patch and its matching services (ids and counts, or
    full with `detail=full`), or its problem, in the order sent."""
    reads = directory_reads()
    answer = patch.patch_lookup(
        reads.index, reads.snap, reads.repo, reads.settings, body["postcodes"], _filters(body),
        detail=body["detail"], per_postcode=body["per_page"],
    )  # fmt: skip
    return http.json_response(answer)
