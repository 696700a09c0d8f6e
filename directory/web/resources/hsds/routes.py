"""Open Referral HSDS 3.0 (UK profile) API: the directory's services, organisations,
locations and themes as HSDS objects, under /api/v1/hsds."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from directory.usecases import hsds
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.common import PageArgsSchema
from directory.web.resources.hsds import schemas as s
from directory.web.state import hsds_reads, paged_response

blp = Blueprint(
    "hsds", __name__, url_prefix="/api/v1/hsds",
    description="Open Referral HSDS 3.0 (Open Referral UK profile)",
)  # fmt: skip
PROBLEM = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}
OPENAPI_URL = "/api/v1/openapi.json"


def _query(args: dict[str, Any]) -> hsds.ServiceQuery:
    return hsds.ServiceQuery(
        search=args.get("search"), taxonomy_term_id=args.get("taxonomy_term_id"),
        taxonomy_id=args.get("taxonomy_id"), organization_id=args.get("organization_id"),
        modified_after=args.get("modified_after"), postcode=args.get("postcode"),
        proximity=args.get("proximity"), minimal=args.get("minimal", False),
        full=args.get("full", False), page=args["page"], per_page=args["per_page"],
    )  # fmt: skip


@blp.route("", strict_slashes=False)
@blp.response(200, s.HsdsRootSchema)
def root() -> Response:
    """The HSDS version (3.0), the profile (Open Referral UK) and the address of this
    API's OpenAPI document (at /api/v1/hsds and /api/v1/hsds/)."""
    return http.json_response(hsds.root(request.host_url.rstrip("/") + OPENAPI_URL))


@blp.route("/services")
@blp.arguments(s.HsdsServiceListArgsSchema, location="query")
@blp.response(200, s.HsdsServicePageSchema)
@blp.alt_response(404, description="organisation-not-found, postcode-not-found …", **PROBLEM)
def list_services(args: dict[str, Any]) -> Response:
    """Services (not withdrawn) by name, as HSDS 3.0 service objects; every filter given
    must hold (AND). List objects carry their organization; `full=true` gives the full
    objects of /services/{id}; `minimal=true` only id, name, status and last_modified."""
    reads, geo = hsds_reads()
    body = hsds.list_services(reads, geo, _query(args))
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/services/<string:service_id>")
@blp.response(200, s.HsdsServiceSchema)
@blp.alt_response(404, description="service-not-found", **PROBLEM)
def get_service(service_id: str) -> Response:
    """One service, fully nested: organization, service areas (GSS codes), locations,
    themes (attributes), funding (grants), phone and patch contacts."""
    reads, _ = hsds_reads()
    return http.json_response(hsds.get_service(reads, service_id))


@blp.route("/service_at_locations")
@blp.arguments(s.HsdsServiceArgsSchema, location="query")
@blp.response(200, s.HsdsServiceAtLocationPageSchema)
@blp.alt_response(404, description="organisation-not-found, postcode-not-found …", **PROBLEM)
def list_service_at_locations(args: dict[str, Any]) -> Response:
    """One per delivery site of the services the filters keep (as GET /services), with its
    location; with `proximity`, the sites within that distance of the postcode; `full=true`
    adds the full service."""
    reads, geo = hsds_reads()
    body = hsds.list_service_at_locations(reads, geo, _query(args))
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/service_at_locations/<string:service_at_location_id>")
@blp.response(200, s.HsdsServiceAtLocationSchema)
@blp.alt_response(404, description="not-found", **PROBLEM)
def get_service_at_location(service_at_location_id: str) -> Response:
    """One service at a location, with its location and full service."""
    reads, _ = hsds_reads()
    return http.json_response(hsds.get_service_at_location(reads, service_at_location_id))


@blp.route("/locations")
@blp.arguments(s.HsdsServiceArgsSchema, location="query")
@blp.response(200, s.HsdsLocationPageSchema)
@blp.alt_response(404, description="organisation-not-found, postcode-not-found …", **PROBLEM)
def list_locations(args: dict[str, Any]) -> Response:
    """The delivery sites of the services the filters keep (as GET /service_at_locations;
    `full` changes nothing here)."""
    reads, geo = hsds_reads()
    body = hsds.list_locations(reads, geo, _query(args))
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/locations/<string:location_id>")
@blp.response(200, s.HsdsLocationSchema)
@blp.alt_response(404, description="not-found", **PROBLEM)
def get_location(location_id: str) -> Response:
    """One location (a delivery site) with its address."""
    reads, _ = hsds_reads()
    return http.json_response(hsds.get_location(reads, location_id))


@blp.route("/organizations")
@blp.arguments(s.HsdsOrganizationArgsSchema, location="query")
@blp.response(200, s.HsdsOrganizationPageSchema)
def list_organizations(args: dict[str, Any]) -> Response:
    """Organisations running listed services, by name; `full=true` adds their identifiers
    and services."""
    reads, _ = hsds_reads()
    body = hsds.list_organizations(
        reads, search=args.get("search"), full=args["full"], page=args["page"],
        per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/organizations/<string:organization_id>")
@blp.response(200, s.HsdsOrganizationSchema)
@blp.alt_response(404, description="organisation-not-found", **PROBLEM)
@blp.alt_response(
    308, description="The id of an organisation merged into another: to that one's",
    headers={"Location": {"description": "The organisation it was merged into",
                          "schema": {"type": "string"}}},
)  # fmt: skip
def get_organization(organization_id: str) -> Response:
    """One organisation with its identifiers (org-id, charity and company numbers) and its
    listed services. The id of an organisation merged into another redirects (308) to
    that one's."""
    reads, _ = hsds_reads()
    moved = hsds.moved_organization(reads, organization_id)
    if moved is not None:  # an API's redirect: the Location and no body
        return Response(status=308, headers={"Location": f"/api/v1/hsds/organizations/{moved}"})
    return http.json_response(hsds.get_organization(reads, organization_id))


@blp.route("/taxonomies")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, s.HsdsTaxonomyPageSchema)
def list_taxonomies(args: dict[str, Any]) -> Response:
    """The taxonomies: one, our community-safety themes."""
    hsds_reads()  # the data version, for ETag/Last-Modified
    body = hsds.list_taxonomies(page=args["page"], per_page=args["per_page"])
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/taxonomies/<string:taxonomy_id>")
@blp.response(200, s.HsdsTaxonomySchema)
@blp.alt_response(404, description="not-found", **PROBLEM)
def get_taxonomy(taxonomy_id: str) -> Response:
    """One taxonomy."""
    hsds_reads()
    return http.json_response(hsds.get_taxonomy(taxonomy_id))


@blp.route("/taxonomy_terms")
@blp.arguments(s.HsdsTaxonomyTermArgsSchema, location="query")
@blp.response(200, s.HsdsTaxonomyTermPageSchema)
def list_taxonomy_terms(args: dict[str, Any]) -> Response:
    """The taxonomy terms: one per theme (directory/data/themes.csv)."""
    hsds_reads()
    body = hsds.list_taxonomy_terms(
        search=args.get("search"), taxonomy_id=args.get("taxonomy_id"), page=args["page"],
        per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/taxonomy_terms/<string:taxonomy_term_id>")
@blp.response(200, s.HsdsTaxonomyTermSchema)
@blp.alt_response(404, description="not-found", **PROBLEM)
def get_taxonomy_term(taxonomy_term_id: str) -> Response:
    """One taxonomy term (a theme)."""
    hsds_reads()
    return http.json_response(hsds.get_taxonomy_term(taxonomy_term_id))
