"""Funded services: list, detail and history."""

from __future__ import annotations

from typing import Any

from flask import Response

from directory import catalogue, http
from directory.api import Blueprint, ProblemSchema
from directory.resources.common import PageArgsSchema
from directory.resources.services.schemas import (
    ChangePageSchema,
    ServiceDetailSchema,
    ServiceListArgsSchema,
    ServicePageSchema,
)
from directory.web import catalogue as queries
from directory.web import paged_response, snapshot, state, today

blp = Blueprint("services", __name__, url_prefix="/api/v1", description="Funded services")
NOT_FOUND = {"schema": ProblemSchema, "content_type": http.PROBLEM_MIMETYPE}


@blp.route("/services")
@blp.arguments(ServiceListArgsSchema, location="query")
@blp.response(200, ServicePageSchema)
def list_services(args: dict[str, Any]) -> Response:
    """Services in the directory, by name; withdrawn ones only with `include_withdrawn`."""
    body = catalogue.list_services(
        queries(), snapshot(), state().settings, today(),
        status=args.get("status"), themes=args.get("theme", []),
        organisation=args.get("organisation"), include_withdrawn=args["include_withdrawn"],
        page=args["page"], per_page=args["per_page"],
    )  # fmt: skip
    return paged_response(body, args["page"], args["per_page"])


@blp.route("/services/<string:key>")
@blp.response(200, ServiceDetailSchema)
@blp.alt_response(404, description="service-not-found", **NOT_FOUND)
def get_service(key: str) -> Response:
    """One service (by id or ref) with its organisation, coverage, sites, live grants,
    outcomes and the patch contacts of the areas it serves."""
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
