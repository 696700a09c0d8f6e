"""Organisations: providers, funders and intermediaries."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory.usecases import catalogue
from directory.web import http
from directory.web.api import Blueprint, ProblemSchema
from directory.web.resources.organisations.schemas import (
    OrganisationDetailSchema,
    OrganisationListArgsSchema,
    OrganisationPageSchema,
)
from directory.web.state import catalogue as queries
from directory.web.state import paged_response, snapshot, state, today

blp = Blueprint("organisations", __name__, url_prefix="/api/v1", description="Organisations")


@blp.route("/organisations")
@blp.arguments(OrganisationListArgsSchema, location="query")
@blp.response(200, OrganisationPageSchema)
def list_organisations(args: dict[str, Any]) -> Response:
    """Organisations by name; `q` filters by name, `type` by kind."""
    body = catalogue.list_organisations(
        queries(), text=args.get("q"), type_=args.get("type"),
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/organisations/<ref:key>")
@blp.response(200, OrganisationDetailSchema)
@blp.alt_response(
    404, schema=ProblemSchema, content_type=http.PROBLEM_MIMETYPE,
    description="organisation-not-found",
)  # fmt: skip
def get_organisation(key: str) -> Response:
    """One organisation (by id or ref) with its services and the grants it received or made."""
    return http.json_response(
        catalogue.organisation_detail(queries(), snapshot(), state().settings, today(), key)
    )
