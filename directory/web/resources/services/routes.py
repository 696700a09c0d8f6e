"""Funded services: list, detail and history; creating, changing and withdrawing them and
their delivery sites (with an API key, directory/usecases/writes.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, request

from directory.store.repositories.search import SearchQueries
from directory.usecases import catalogue, writes
from directory.usecases.keys import Principal
from directory.usecases.search import SearchRequest, search_services
from directory.web import http, preconditions, representations, writing
from directory.web import state as web
from directory.web.api import Blueprint, ProblemSchema
from directory.web.auth import requires_key
from directory.web.resources.common import PageArgsSchema
from directory.web.resources.services.schemas import (
    ChangePageSchema,
    ServiceCreateSchema,
    ServiceDetailSchema,
    ServiceFeatureCollectionSchema,
    ServiceListArgsSchema,
    ServicePageSchema,
    ServicePatchSchema,
    SiteCreateSchema,
    SiteDetailSchema,
    SitePatchSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import (
    connection,
    etag_from_body,
    paged_response,
    snapshot,
    state,
    today,
)

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
@blp.alt_response(
    404, description="area-not-found, area-ambiguous, organisation-not-found", **NOT_FOUND
)
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
        representation=representation, boxes=state().boxes,
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
            url_prefix=SERVICE_PATH, near=result.near, sites_only=result.sites_inside,
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


@blp.route("/services/<service_ref:key>")
@blp.response(200, ServiceDetailSchema)
@blp.alt_response(404, description="service-not-found", **NOT_FOUND)
def get_service(key: str) -> Response:
    """One service (by id or ref) with its organisation, coverage, sites, live grants,
    outcomes, the patch contacts of the areas it serves and its newest practice notes. Its
    strong ETag hashes the body: the tag a change of it sends in `If-Match`."""
    web.etag_from_body()  # practice notes are published without a new data version
    return http.json_response(
        catalogue.service_detail(queries(), snapshot(), state().settings, today(), key)
    )


def _service(key: str) -> writing.Render:
    """The service as GET /services/{key} shows it, read fresh."""
    return writing.fresh(
        lambda q: catalogue.service_detail(q, snapshot(), state().settings, today(), key)
    )


def _site(key: str, site_ref: str) -> writing.Render:
    return writing.fresh(lambda q: catalogue.site_detail(q, snapshot(), key, site_ref))


WRITERS = ("editor", "officer")


@blp.route("/services", methods=["POST"])
@requires_key(blp, *WRITERS)
@blp.doc(requestBody=writing.json_body(ServiceCreateSchema))
@blp.response(201, ServiceDetailSchema, description="Created: the service, as GET shows it")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key names another organisation",
    404: "organisation-not-found",
    409: "duplicate-ref: another service has this ref; write-locked: an import is running",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def create_service(principal: Principal) -> Response:
    """Add a service (an editor's key: for its own organisation; an officer's or admin's:
    for the organisation named), checked as the template's rows are, with its sites."""
    ref = writes.create_service(writing.writer(principal), writing.body(ServiceCreateSchema()))
    return writing.answer(_service(ref), 201, location=SERVICE_PATH + quote(ref, safe=""))


@blp.route("/services/<service_ref:key>", methods=["PATCH"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.doc(requestBody=writing.json_body(ServicePatchSchema))
@blp.response(200, ServiceDetailSchema, description="Changed: the service, as GET shows it")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key and another organisation's service",
    404: "service-not-found",
    409: "service-withdrawn: send `withdrawn: false` to restore it; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def update_service(key: str, principal: Principal) -> Response:
    """Change a service's fields (only those sent; null clears one), as a re-import of it
    with those values would; `If-Match` with its ETag is required."""
    render = _service(key)
    writes.update_service(
        writing.writer(principal), key, writing.body(ServicePatchSchema()), writing.guard(render)
    )
    return writing.answer(render)


@blp.route("/services/<service_ref:key>", methods=["DELETE"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.response(200, ServiceDetailSchema, description="Withdrawn: the service, as GET shows it")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key and another organisation's service",
    404: "service-not-found", 409: "write-locked",
})  # fmt: skip
def withdraw_service(key: str, principal: Principal) -> Response:
    """Withdraw a service: it is kept (with `withdrawn_at` and its history) but no longer
    listed, as an import withdraws what its source stops listing. PATCH with
    `withdrawn: false` restores it."""
    render = _service(key)
    writes.withdraw_service(writing.writer(principal), key, writing.guard(render))
    return writing.answer(render)


@blp.route("/services/<service_ref:key>/sites/<last_ref:site_ref>")
@blp.response(200, SiteDetailSchema)
@blp.alt_response(404, description="service-not-found, site-not-found", **NOT_FOUND)
def get_site(key: str, site_ref: str) -> Response:
    """One delivery site of a service, by the site's ref (percent-encoded: `#` is `%23`,
    `/` is `%2F`), with its ward and borough. Its strong ETag hashes the body (for `If-Match`)."""
    etag_from_body()
    return http.json_response(catalogue.site_detail(queries(), snapshot(), key, site_ref))


@blp.route("/services/<service_ref:key>/sites", methods=["POST"])
@requires_key(blp, *WRITERS)
@blp.doc(requestBody=writing.json_body(SiteCreateSchema))
@blp.response(201, SiteDetailSchema, description="Added: the site, as GET shows it")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key and another organisation's service",
    404: "service-not-found",
    409: "duplicate-ref: the service has a site with this ref; service-withdrawn: restore "
    "the service first; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def create_site(key: str, principal: Principal) -> Response:
    """Add a delivery site to a service: placed at its postcode (ward, borough) as an
    import places it."""
    ref, site_ref = writes.add_site(
        writing.writer(principal), key, writing.body(SiteCreateSchema())
    )
    location = f"{SERVICE_PATH}{quote(ref, safe='')}/sites/{quote(site_ref, safe='')}"
    return writing.answer(_site(ref, site_ref), 201, location=location)


@blp.route("/services/<service_ref:key>/sites/<last_ref:site_ref>", methods=["PATCH"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.doc(requestBody=writing.json_body(SitePatchSchema))
@blp.response(200, SiteDetailSchema, description="Changed: the site, as GET shows it")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key and another organisation's service",
    404: "service-not-found, site-not-found",
    409: "service-withdrawn: restore the service first; write-locked",
    415: writing.UNSUPPORTED, 422: writing.INVALID,
})  # fmt: skip
def update_site(key: str, site_ref: str, principal: Principal) -> Response:
    """Change a delivery site (only the fields sent); a new postcode moves it there."""
    render = _site(key, site_ref)
    writes.update_site(
        writing.writer(principal), key, site_ref, writing.body(SitePatchSchema()),
        writing.guard(render),
    )  # fmt: skip
    return writing.answer(render)


@blp.route("/services/<service_ref:key>/sites/<last_ref:site_ref>", methods=["DELETE"])
@requires_key(blp, *WRITERS)
@preconditions.documented(blp)
@blp.response(204, description="Removed")
@writing.documented(blp, {
    403: "wrong-role; wrong-organisation: an editor's key and another organisation's service",
    404: "service-not-found, site-not-found",
    409: "service-withdrawn: restore the service first; write-locked",
    422: "invalid-input: the service would have no coverage and no site with a postcode",
})  # fmt: skip
def delete_site(key: str, site_ref: str, principal: Principal) -> Response:
    """Remove a delivery site from a service (recorded as a change of the service)."""
    writes.remove_site(
        writing.writer(principal), key, site_ref, writing.guard(_site(key, site_ref))
    )
    return Response(status=204)


@blp.route("/services/<service_ref:key>/history")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ChangePageSchema)
@blp.alt_response(404, description="service-not-found", **NOT_FOUND)
def service_history(args: dict[str, Any], key: str) -> Response:
    """Every recorded change to the service, newest first, with old → new values."""
    body = catalogue.service_history(queries(), snapshot(), key, args["page"], args["per_page"])
    return paged_response(body, args["page"], args["per_page"])
