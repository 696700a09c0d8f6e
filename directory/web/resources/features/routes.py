"""OGC API – Features (Part 1: Core, GeoJSON) at /api/v1/ogc: QGIS, GDAL/OGR (the OAPIF
driver), OWSLib and Leaflet plugins read the directory's sites, services and boundaries
without learning its own shapes."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, request
from werkzeug.urls import iri_to_uri

from directory.store.repositories.search import SearchQueries
from directory.usecases import features
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.features.schemas import (
    FormatArgsSchema,
    ItemArgsSchema,
    ItemsArgsSchema,
    OgcCollectionSchema,
    OgcCollectionsSchema,
    OgcConformanceSchema,
    OgcFeatureCollectionSchema,
    OgcFeatureSchema,
    OgcLandingSchema,
)
from directory.web.state import catalogue, connection, snapshot, state, today

PREFIX = "/api/v1/ogc"
blp = Blueprint(
    "features", __name__, url_prefix=PREFIX,
    description="OGC API – Features: the sites, services and boundaries as collections",
)  # fmt: skip
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
HTML_ALTERNATE = {
    "schema": {"type": "string"},
    "content_type": "text/html",
    "description": "With f=html or Accept: text/html: the same as a page",
    "success": True,
}


def _base() -> str:
    return request.host_url.rstrip("/") + PREFIX


def _wants_html(args: dict[str, Any]) -> bool:
    if args.get("f") is not None:
        return bool(args["f"] == "html")
    return http.best_of(["application/json", "text/html"]) == "text/html"


def _answer(body: dict[str, Any], args: dict[str, Any], title: str) -> Response:
    if _wants_html(args):
        html = render_template("ogc.html", title=title, body=body)
        return Response(html, mimetype="text/html")
    return http.json_response(body)


@blp.route("", strict_slashes=False)
@blp.arguments(FormatArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcLandingSchema)
@blp.alt_response(200, **HTML_ALTERNATE)
def landing(args: dict[str, Any]) -> Response:
    """The landing page: links to the API definition, conformance and the collections."""
    body = features.landing(_base(), request.host_url.rstrip("/") + "/api/v1")
    return _answer(body, args, "OGC API – Features")


@blp.route("/conformance")
@blp.arguments(FormatArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcConformanceSchema)
@blp.alt_response(200, **HTML_ALTERNATE)
def conformance(args: dict[str, Any]) -> Response:
    """The conformance classes implemented: Core, GeoJSON and OpenAPI 3.0."""
    return _answer(features.conformance(), args, "Conformance")


@blp.route("/collections")
@blp.arguments(FormatArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcCollectionsSchema)
@blp.alt_response(200, **HTML_ALTERNATE)
def collections(args: dict[str, Any]) -> Response:
    """The collections: sites, services, boroughs, wards and bcus."""
    return _answer(features.collections(snapshot(), _base()), args, "Collections")


@blp.route("/collections/<string:collection_id>")
@blp.arguments(FormatArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcCollectionSchema)
@blp.alt_response(200, **HTML_ALTERNATE)
@blp.alt_response(404, description="collection-not-found", **PROBLEM)
def collection(args: dict[str, Any], collection_id: str) -> Response:
    """One collection: its extent and the link to its items."""
    body = features.collection(snapshot(), _base(), collection_id)
    return _answer(body, args, body["title"])


@blp.route("/collections/<string:collection_id>/items")
@blp.arguments(ItemsArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcFeatureCollectionSchema, content_type=http.GEOJSON_MIMETYPE)
@blp.alt_response(404, description="collection-not-found", **PROBLEM)
def items(args: dict[str, Any], collection_id: str) -> Response:
    """A page of the collection's features (GeoJSON), with `numberMatched`,
    `numberReturned` and `next`/`prev` links; `bbox`, `datetime` and property filters."""
    req = features.ItemsRequest(
        bbox=args.get("bbox"), limit=args.get("limit"), offset=args["offset"],
        datetime=args.get("datetime"), theme=args.get("theme"),
        programme=args.get("programme"), organisation=args.get("organisation"),
        parent=args.get("parent"), simplify=args.get("simplify"),
    )  # fmt: skip
    body = features.items(
        snapshot(), SearchQueries(connection()), catalogue(), _base(), collection_id, req,
        today(), state().boxes,
    )  # fmt: skip
    response = http.json_response(body, mimetype=http.GEOJSON_MIMETYPE)
    paging = [link for link in body["links"] if link["rel"] in ("prev", "next")]
    if paging:  # (as every other paged list: a client paging by headers needs no body)
        response.headers["Link"] = ", ".join(
            f'<{iri_to_uri(link["href"])}>; rel="{link["rel"]}"' for link in paging
        )
    return response


@blp.route("/collections/<string:collection_id>/items/<string:feature_id>")
@blp.arguments(ItemArgsSchema, location="query", invalid_status=400)
@blp.response(200, OgcFeatureSchema, content_type=http.GEOJSON_MIMETYPE)
@blp.alt_response(404, description="collection-not-found, feature-not-found", **PROBLEM)
def item(args: dict[str, Any], collection_id: str, feature_id: str) -> Response:
    """One feature: a site or service by id, an area by its code."""
    body = features.item(
        snapshot(), SearchQueries(connection()), catalogue(), _base(), collection_id,
        feature_id, today(), args.get("simplify"),
    )  # fmt: skip
    return http.json_response(body, mimetype=http.GEOJSON_MIMETYPE)
