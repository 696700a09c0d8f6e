"""Grants: who funded whom, how much, where, for how long and through whom."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases import catalogue
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.grants.schemas import (
    GrantDetailSchema,
    GrantListArgsSchema,
    GrantPageSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import paged_response, snapshot, state, today

blp = Blueprint("grants", __name__, url_prefix="/api/v1", description="Grants (funding)")


@blp.route("/grants")
@blp.arguments(GrantListArgsSchema, location="query")
@blp.response(200, GrantPageSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found, programme-not-found or area-not-found (with "
    "suggestions)",
)  # fmt: skip
def list_grants(args: dict[str, Any]) -> Response:
    """Grants, newest award first, with duration flags and a status derived from the dates.

    Every filter given narrows the list (AND)."""
    body = catalogue.list_grants(
        queries(), snapshot(), state().settings, today(),
        programme=args.get("programme"), organisation=args.get("organisation"),
        funder=args.get("funder"), recipient=args.get("recipient"), area=args.get("area"),
        text=args.get("q"), status=args.get("status"),
        include_withdrawn=args["include_withdrawn"], page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/grants/<string:key>")
@blp.response(200, GrantDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE, description="grant-not-found"
)
def get_grant(key: str) -> Response:
    """One grant (by id or ref) with the services it funds and its chain of intermediaries."""
    return http.json_response(
        catalogue.grant_detail(queries(), snapshot(), state().settings, today(), key)
    )
