"""Funded services: list, detail and history."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from directory.store.repositories.search import SearchQueries
from directory.usecases import catalogue
from directory.usecases.search import SearchRequest, search_services
from directory.web import http, representations
from directory.web import state as web
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.common import PageArgsSchema
from directory.web.resources.services.schemas import (
    ChangePageSchema,
    ServiceDetailSchema,
    ServiceFeatureCollectionSchema,
    ServiceListArgsSchema,
    ServicePageSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import connection, paged_response, snapshot, state, today

blp = Blueprint("services", __name__, url_prefix="/api/v1", description="Funded services")
NOT_FOUND = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


@blp.route("/services")
@blp.arguments(ServiceListArgsSchema, location="query")
@blp.response(200, ServicePageSchema)
@blp.alt_response(
    200,
    schema=ServiceFeatureCollectionSchema,
    content_type=http.GEOJSON_MIMETYPE,
    description="With format=geojson or Accept: application/geo+json: a FeatureCollection",
    success=True,
)
@blp.alt_response(
    200,
    schema={"type": "string"},
    content_type=http.CSV_MIMETYPE,
    description="With format=csv or Accept: text/csv: one row per service (an attachment)",
    success=True,
)
@blp.alt_response(404, description="area-not-found, organisation-not-found", **NOT_FOUND)
def list_services(args: dict[str, Any]) -> Response:
    """Search the services: text, themes, programme, status, organisation, area (code or
    name), a point and radius, a box, grant dates, recent changes; sorted and paged. All
    filters must hold. JSON (default), GeoJSON or CSV; withdrawn services only with
    `include_withdrawn`."""
    representation = web.representation(args.get("format"), ("json", "geojson", "csv"))
    page, per_page = args["page"], args["per_page"]
    request_ = SearchRequest(
        q=args.get("q"), themes=tuple(args.get("theme", [])), programme=args.get("programme"),
        status=args.get("status"), organisation=args.get("organisation"),
        include_withdrawn=args["include_withdrawn"], area=args.get("area"),
        near=args.get("near"), radius=args.get("radius"), bbox=args.get("bbox"),
        live_on=args.get("live_on"), funding_ends_within=args.get("funding_ends_within"),
        updated_since=args.get("updated_since"), sort=args.get("sort"),
        page=page, per_page=per_page,
    )  # fmt: skip
    result = search_services(
        SearchQueries(connection()), queries(), snapshot(), state().settings, today(), request_,
        representation=representation,
    )  # fmt: skip
    if representation == "json":
        response = paged_response(result.envelope(), page, per_page)
    elif representation == "geojson":
        total_pages = result.envelope()["total_pages"]
        links = [
            {"href": url, "rel": rel, "type": http.GEOJSON_MIMETYPE, "title": title}
            for rel, url, title in web.page_links(page, per_page, total_pages, "geojson")
        ]
        links.append(
            {"href": web.page_url(page, per_page, "json"), "rel": "alternate",
             "type": "application/json", "title": "This page as JSON"}
        )  # fmt: skip
        body = representations.feature_collection(
            result.contents, result.sites, number_matched=result.features or 0, links=links,
            url_prefix=SERVICE_PATH, near=result.near,
        )  # fmt: skip
        response = http.json_response(body, mimetype=http.GEOJSON_MIMETYPE)
        response.headers["Link"] = web.link_header(page, per_page, total_pages, "geojson")
    else:
        total_pages = result.envelope()["total_pages"]
        text = representations.csv_text(
            result.contents, result.sites, result.programmes,
            url_prefix=request.host_url.rstrip("/") + SERVICE_PATH,
            with_distance=result.near is not None, with_rank=args.get("q") is not None,
        )  # fmt: skip
        response = Response(text.encode("utf-8"), mimetype=http.CSV_MIMETYPE)
        response.headers["Content-Disposition"] = 'attachment; filename="services.csv"'
        response.headers["X-Total-Count"] = str(result.total)
        response.headers["Link"] = web.link_header(page, per_page, total_pages, "csv")
    return response


SERVICE_PATH = "/api/v1/services/"


@blp.route("/services/<string:key>")
@blp.response(200, ServiceDetailSchema)
@blp.alt_response(404, description="service-not-found", **NOT_FOUND)
def get_service(key: str) -> Response:
    """One service (by id or ref) with its organisation, coverage, sites, live grants,
    outcomes, the patch contacts of the areas it serves and its newest practice notes."""
    web.etag_from_body()  # practice notes are published without a new data version
    return http.json_response(
        catalogue.service_detail(queries(), snapshot(), state().settings, today(), key)
    )


@blp.route("/services/<string:key>/history")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChangePageSchema)
@blp.alt_response(404, description="service-not-found", **NOT_FOUND)
def service_history(args: dict[str, Any], key: str) -> Response:
    """Every recorded change to the service, newest first, with old → new values."""
    body = catalogue.service_history(queries(), snapshot(), key, args["page"], args["per_page"])
    return paged_response(body, args["page"], args["per_page"])
