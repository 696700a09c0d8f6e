"""Grants: who funded whom, how much, where, for how long and through whom."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Response, request, url_for

from directory.usecases import catalogue, giving360
from directory.web import http, representations
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.grants.schemas import (
    Giving360PackageSchema,
    GrantDetailSchema,
    GrantFilterArgsSchema,
    GrantListArgsSchema,
    GrantPageSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import (
    connection,
    link_header,
    paged_response,
    representation,
    snapshot,
    state,
    today,
)

blp = Blueprint("grants", __name__, url_prefix="/api/v1", description="Grants (funding)")
PAGING = frozenset({"page", "per_page", "format"})


@blp.route("/grants")
@blp.arguments(GrantListArgsSchema, location="query")
@blp.response(200, GrantPageSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found, programme-not-found, area-not-found or area-ambiguous (with "
    "suggestions)",
)  # fmt: skip
@blp.alt_response(
    200,
    schema={"type": "string"},
    content_type=http.CSV_MIMETYPE,
    description="With format=csv or Accept: text/csv: one row per grant (an attachment)",
    success=True,
)
@blp.alt_response(
    307, description="format=360giving: to /api/v1/grants.360giving.json, the same filters",
    headers={"Location": {"description": "The package's URL", "schema": {"type": "string"}}},
)  # fmt: skip
def list_grants(args: dict[str, Any]) -> Response:
    """Grants, newest award first, with duration flags and a status derived from the dates.

    Every filter given narrows the list (AND). JSON (default) or CSV; `format=360giving`
    redirects to the same grants as a 360Giving package."""
    if args.get("format") == "360giving":
        query = [(k, v) for k, v in request.args.items(multi=True) if k not in PAGING]
        target = url_for("grants.grants_360giving") + (f"?{urlencode(query)}" if query else "")
        # an API's redirect: the Location and no body (werkzeug's is an HTML page)
        return Response(status=307, headers={"Location": target})
    body = catalogue.list_grants(
        queries(), snapshot(), state().settings, today(),
        programme=args.get("programme"), organisation=args.get("organisation"),
        funder=args.get("funder"), recipient=args.get("recipient"), area=args.get("area"),
        text=args.get("q"), status=args.get("status"),
        include_withdrawn=args["include_withdrawn"], page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    if representation(args.get("format"), ("json", "csv")) == "json":
        return paged_response(body, args["page"], args["per_page"])
    text = representations.grants_csv(
        body["contents"], url_prefix=request.host_url.rstrip("/") + GRANT_PATH
    )
    response = Response(text.encode("utf-8"), mimetype=http.CSV_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="grants.csv"'
    response.headers["X-Total-Count"] = str(body["total_items"])
    response.headers["Link"] = link_header(
        args["page"], args["per_page"], body["total_pages"], "csv"
    )
    return response


GRANT_PATH = "/api/v1/grants/"


@blp.route("/grants.360giving.json")
@blp.arguments(GrantFilterArgsSchema, location="query")
@blp.response(200, Giving360PackageSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found, programme-not-found, area-not-found or area-ambiguous; "
    "no-grants: the filters keep no grant 360Giving can carry (a package holds one at least; "
    "`not_published` lists any kept, with why)",
)  # fmt: skip
@blp.alt_response(
    413, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="answer-too-large: the filters keep more than 10,000 grants",
)  # fmt: skip
def grants_360giving(args: dict[str, Any]) -> Response:
    """Every grant the filters keep (those of GET /grants, without paging) as one 360Giving
    Data Standard package (schema 1.4, valid against the standard's package schema), newest
    award first. Grants 360Giving cannot carry validly are listed in `notPublished`."""
    package = giving360.grants_package(
        queries(), connection(), snapshot(), state().settings, today(),
        programme=args.get("programme"), organisation=args.get("organisation"),
        funder=args.get("funder"), recipient=args.get("recipient"), area=args.get("area"),
        text=args.get("q"), status=args.get("status"),
        include_withdrawn=args["include_withdrawn"],
    )  # fmt: skip
    return http.json_response(package)


@blp.route("/grants/<ref:key>")
@blp.response(200, GrantDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="grant-not-found"
)
def get_grant(key: str) -> Response:
    """One grant (by id or ref) with the services it funds and its chain of intermediaries."""
    return http.json_response(
        catalogue.grant_detail(queries(), snapshot(), state().settings, today(), key)
    )
